"""gunicorn settings; every value can be overridden from the environment."""

import multiprocessing
import os

bind = f"0.0.0.0:{os.environ.get('PORT') or 8000}"
# One process per core, each with threads that overlap database waits and bcrypt (which
# releases the GIL). Measured with shared/bench on 2 cores: 2x8 served as much as 4x4, 3x6
# or 6x2 (differences within run-to-run noise) with half the memory of 4 processes.
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count())
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS") or 8)
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = None  # the app logs one line per request itself
errorlog = "-"
# The control socket would live in $HOME and clash between instances; nothing here uses it.
control_socket_disable = True
