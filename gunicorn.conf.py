"""gunicorn settings; every value can be overridden from the environment."""

import multiprocessing
import os

bind = f"0.0.0.0:{os.environ.get('PORT') or 8000}"
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2)
# Threads let one process overlap database waits and bcrypt (which releases the GIL).
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS") or 4)
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = None  # the app logs one line per request itself
errorlog = "-"
# The control socket would live in $HOME and clash between instances; nothing here uses it.
control_socket_disable = True
