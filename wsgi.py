"""WSGI entry point: gunicorn in the stack (``deploy/gunicorn.conf.py``), waitress for ``make run``.

In embedded mode (no REDIS_URL) the serving process also ticks timers and runs jobs in a thread: serve it
from one process (waitress, or gunicorn with one worker and threads), or each worker runs its own.
"""

import os

from app import create_app

app = create_app()

if app.extensions["gridcase.settings"].embedded and os.environ.get("GRIDCASE_NO_RUNNER") != "1":
    from app.workflow.scheduler import start_embedded_runner

    start_embedded_runner(app)
