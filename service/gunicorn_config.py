"""gunicorn settings: ``gunicorn --config python:service.gunicorn_config wsgi:app``.

Metrics from all workers are aggregated through prometheus_client's multiprocess mode, in a
directory made fresh when the server starts.
"""

import os
import shutil
import tempfile

bind = os.environ.get("TANHUI_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("TANHUI_THREADS", "4"))
timeout = 30
graceful_timeout = 20
accesslog = None  # the app writes one structured line per request
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        directory = tempfile.mkdtemp(prefix="tanhui-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    else:
        shutil.rmtree(directory, ignore_errors=True)
        os.makedirs(directory, exist_ok=True)


def child_exit(server, worker):
    # prometheus_client chooses its multiprocess mode when first imported, from
    # PROMETHEUS_MULTIPROC_DIR, which on_starting sets after this file is read, and the workers
    # fork from this process: imported at the top, it would give them the in-process mode.
    # So it waits for start-up to be over.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
