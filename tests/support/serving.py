"""A WSGI app over real HTTP, on a thread of this process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server

# How often the serving thread looks for a stop: a stop waits up to this long, and
# werkzeug's default, half a second, added up over every test that serves.
POLL_SECONDS = 0.05


@contextmanager
def served(app: Any) -> Iterator[str]:
    """Serve ``app`` on a free port of 127.0.0.1, a thread per request: its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, args=(POLL_SECONDS,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
