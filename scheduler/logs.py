import logging


def configure_logging(level):
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("scheduler").setLevel(level)
    # No format of ours (nor gunicorn's or RQ's) prints a record's file, line or function, so no
    # record looks for its caller's frame (the logging HOWTO's "Optimization"): the web process
    # writes one record per request.
    logging._srcfile = None
