"""gunicorn's own refusals, made before Flask sees a request, come in the error shape.

Raw bytes over a socket to the real services, started from the Procfile: the ledger
(gunicorn's gthread worker) and recruitment (its sync worker), the two worker types
the Procfile uses. See docs/api.md, "Refusals by the HTTP server". The same two
processes, on one host as `make run` starts them, show that no gunicorn master opens
a control socket (shared/gunicorn_config.py).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import requests
from gunicorn.config import Config

from shared.gunicorn_worker import SyncWorker, ThreadWorker
from tests.support.databases import migrated
from tests.support.stack import Stack

# One worker runs them all, so that they share the module's processes.
pytestmark = pytest.mark.e2e

WORKERS = {"ledger": "gthread", "recruitment": "sync"}
SHAPE = {"code", "status", "message", "errors"}
# gunicorn's defaults, which Ladder keeps: the request line without its CRLF, and a
# header field with its CRLF.
LINE_LIMIT, FIELD_LIMIT, FIELDS_LIMIT = 4094, 8190, 100


def request(*headers: bytes, line: bytes = b"GET /healthz HTTP/1.1") -> bytes:
    return b"\r\n".join([line, b"Host: localhost", *headers]) + b"\r\n\r\n"


def field(length: int) -> bytes:
    """An X-Pad header field of ``length`` bytes, counting its CRLF."""
    return b"X-Pad: " + b"a" * (length - len(b"X-Pad: \r\n"))


CASES = {
    "request line too long": (request(line=b"GET /" + b"a" * 5000 + b" HTTP/1.1"),
                              400, "Bad Request", f"longer than {LINE_LIMIT} bytes"),
    "header field too long": (request(field(9000)), 431, "Request Header Fields Too Large",
                              f"longer than {FIELD_LIMIT} bytes"),
    "too many header fields": (request(*(b"X-%d: 1" % n for n in range(150))),
                               431, "Request Header Fields Too Large",
                               f"more than {FIELDS_LIMIT} header fields"),
    "bare CR in a header value": (request(b"X-Note: a\rb"), 400, "Bad Request",
                                  "X-Note is not valid"),
    "bare CR ending the request line": (b"GET / HTTP/1.1\rHost: localhost\r\n\r\n",
                                        400, "Bad Request", "HTTP version"),
    "invalid method": (request(line=b"G@T / HTTP/1.1"), 400, "Bad Request", "method"),
    "lower-case method": (request(line=b"get / HTTP/1.1"), 400, "Bad Request", "method"),
    "bad HTTP version": (request(line=b"GET / HTTP/9.9"), 400, "Bad Request", "HTTP version"),
    "not HTTP": (request(line=b"GET / FTP/1.1"), 400, "Bad Request", "HTTP version"),
    "no request line": (b"\r\n\r\n", 400, "Bad Request", "request line"),
    "obsolete line folding": (request(b"X-Note: a", b" b"), 400, "Bad Request", "folded"),
    "invalid Content-Length": (request(b"Content-Length: ten", line=b"POST / HTTP/1.1"),
                               400, "Bad Request", "Content-Length is not valid: a malformed"),
    "unsupported Transfer-Encoding": (request(b"Transfer-Encoding: foo",
                                              line=b"POST / HTTP/1.1"),
                                      501, "Not Implemented", "Transfer-Encoding"),
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The ledger and recruitment under gunicorn, as `make run` starts them (SQLite), with
    a runtime directory of their own (where gunicorn would put its control socket)."""
    directory = tmp_path_factory.mktemp("refusals")
    (directory / "run").mkdir()
    with ExitStack() as exits:
        urls = {s: exits.enter_context(migrated("sqlite", directory, s, s)) for s in WORKERS}
        stack = Stack(directory / "stack", urls, XDG_RUNTIME_DIR=str(directory / "run"))
        exits.callback(stack.kill_all)
        stack.start(*WORKERS)
        yield stack


@pytest.fixture(scope="module")
def ports(stack: Stack) -> dict[str, int]:
    return {s: int(stack.env[f"{s.upper()}_PORT"]) for s in WORKERS}


def test_no_service_opens_a_control_socket(stack: Stack) -> None:
    """Two services' gunicorn masters on one host, both up: neither opened gunicorn's
    control socket, whose one default path every master would take from the last
    (shared/gunicorn_config.py)."""
    for name in WORKERS:
        assert requests.get(f"{stack.url(name)}/healthz", timeout=10).status_code == 200
    assert list(Path(stack.env["XDG_RUNTIME_DIR"]).iterdir()) == []
    assert not any("control socket" in line.get("message", "").lower()
                   for name in WORKERS for line in stack.log_lines(name))


def exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` and read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    return received


def parse(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status_line, headers, body


def error_shape(raw: bytes, code: int, reason: str) -> dict[str, Any]:
    status_line, headers, body = parse(raw)
    assert status_line == f"HTTP/1.1 {code} {reason}", raw[:300]
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body)
    document = json.loads(body)
    assert set(document) == SHAPE
    assert document["code"] == code
    assert document["status"] == reason
    assert document["errors"] == {}
    assert isinstance(document["message"], str) and document["message"]
    return document


@pytest.mark.parametrize("service", WORKERS, ids=lambda s: f"{s}-{WORKERS[s]}")
@pytest.mark.parametrize("case", CASES)
def test_a_refusal_is_json_in_the_error_shape(ports: dict[str, int], service: str,
                                             case: str) -> None:
    data, code, reason, says = CASES[case]
    raw = exchange(ports[service], data)
    assert b"<html" not in raw.lower()
    assert parse(raw)[1].get("connection") == "close"
    assert says in error_shape(raw, code, reason)["message"]


def _line(length: int) -> bytes:
    """A request line of ``length`` bytes, without its CRLF."""
    return b"GET /" + b"a" * (length - len(b"GET / HTTP/1.1")) + b" HTTP/1.1"


LIMITS = {  # a request at the limit; the limit; gunicorn's status one over it
    "request line": (lambda n: request(line=_line(n)), LINE_LIMIT, 400, "Bad Request"),
    "header field": (lambda n: request(field(n)), FIELD_LIMIT,
                     431, "Request Header Fields Too Large"),
    "header fields": (lambda n: request(*(b"X-%d: 1" % i for i in range(n - 1))),  # and Host
                      FIELDS_LIMIT, 431, "Request Header Fields Too Large"),
}


@pytest.mark.parametrize("service", WORKERS, ids=lambda s: f"{s}-{WORKERS[s]}")
@pytest.mark.parametrize("limit", LIMITS)
def test_the_limits_are_gunicorns_defaults(ports: dict[str, int], service: str,
                                           limit: str) -> None:
    """At a limit the request reaches Flask, which answers; one byte or field over, gunicorn."""
    make, at, code, reason = LIMITS[limit]
    status_line, headers, _ = parse(exchange(ports[service], make(at)))
    assert "x-request-id" in headers, status_line  # set by the app (shared/app.py)
    assert status_line.split()[1] not in ("400", "431"), status_line
    refused = exchange(ports[service], make(at + 1))
    assert "x-request-id" not in parse(refused)[1]
    error_shape(refused, code, reason)


class _Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def _record(self, msg: str, *args: Any, **_: Any) -> None:
        self.lines.append(msg % args)

    warning = exception = debug = _record

    def access(self, *_: Any) -> None:
        pass


@pytest.mark.parametrize("base", [SyncWorker, ThreadWorker], ids=["sync", "gthread"])
def test_an_error_outside_the_app_is_a_500_in_the_error_shape(base: type) -> None:
    """What a worker timeout does to a sync worker reading a stalled request (SystemExit)."""
    worker = object.__new__(base)
    worker.cfg, worker.log = Config(), _Log()
    ours, theirs = socket.socketpair()
    with ours, theirs:
        worker.handle_error(None, ours, ("127.0.0.1", 1), SystemExit(1))
        ours.close()
        raw = theirs.recv(65536)
    error_shape(raw, 500, "Internal Server Error")
    assert worker.log.lines == ["Error handling request (no URI read)"]
