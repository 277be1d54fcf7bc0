"""What every Ladder web service tells gunicorn (``--config python:shared.gunicorn_config``).

gunicorn reads this module's public names as its settings, so helpers are
imported under underscore names.
"""

from __future__ import annotations

import logging as _logging
import os as _os

from shared.config import STOP_MARGIN as _MARGIN
from shared.config import stop_grace_period as _grace
from shared.logs import dict_config as _dict_config

# JSON lines on stdout, the same as every other process (shared/logs.py).
logconfig_dict = _dict_config()
_logging.captureWarnings(True)

# On SIGTERM, finish the requests in hand, and be gone before the SIGKILL that
# follows LADDER_STOP_GRACE_PERIOD seconds later (docker-compose's stop_grace_period).
graceful_timeout = max(1, int(_grace() - _MARGIN))

# Workers' heartbeat files: in memory, not on a container's overlay filesystem,
# where a slow write can get a busy worker killed as unresponsive.
worker_tmp_dir = "/dev/shm" if _os.path.isdir("/dev/shm") else None

# gunicorn's own refusals (a request line or header over its limits, an invalid
# method, ...) in the error shape rather than HTML (shared/gunicorn_worker.py). The
# ledger's Procfile line names the threaded one instead.
worker_class = "shared.gunicorn_worker.SyncWorker"

# No control socket (gunicorn's ``gunicornc`` interface, on since gunicorn 25.1). Every
# master would take the same path, $XDG_RUNTIME_DIR/gunicorn.ctl or
# ~/.gunicorn/gunicorn.ctl: on a host that runs several services (`make run`) each
# started master unlinks the last one's socket and takes the path, each stopped one
# unlinks whatever is there, and a command meant for one service reaches another. Ladder's
# processes are started, restarted and stopped by `ladder run` or docker-compose.
control_socket_disable = True


def post_fork(server: object, worker: object) -> None:
    """A worker dies with its master. A master killed outright (SIGKILL, the OOM killer)
    would otherwise leave its workers holding the port until each next checks its parent,
    up to gunicorn's timeout later, and the master started in its place could not bind."""
    _die_with_parent()


def _die_with_parent() -> None:
    import ctypes
    import signal
    import sys

    if sys.platform == "linux":
        pr_set_pdeathsig = 1  # prctl(2)
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
