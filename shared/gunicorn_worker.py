"""gunicorn's own refusals in Ladder's error shape (``shared.errors.error_body``).

gunicorn refuses a request it cannot parse (a request line or header field over its
limits, too many header fields, a bare CR, an invalid method or HTTP version, ...)
itself, before Flask sees it: ``Worker.handle_error`` picks the status and
``gunicorn.util.write_error`` writes an HTML page. The workers here are gunicorn's
own with ``handle_error`` answering in JSON instead: same statuses, same logging,
the connection closed afterwards as gunicorn closes it.

``shared/gunicorn_config.py`` names :class:`SyncWorker` as every service's worker
class, and the Procfile's ledger line names :class:`ThreadWorker`: gunicorn's
``worker_class`` setting, which takes a class by its dotted path.
"""

from __future__ import annotations

import json
import re
import ssl
from datetime import datetime
from typing import Any

from gunicorn import util
from gunicorn.http import errors as gerr
from gunicorn.http.message import DEFAULT_MAX_HEADERFIELD_SIZE, MAX_HEADERS
from gunicorn.http.wsgi import Response, default_environ
from gunicorn.workers.base import Worker
from gunicorn.workers.gthread import ThreadWorker as ThreadWorkerBase
from gunicorn.workers.sync import SyncWorker as SyncWorkerBase
from werkzeug.exceptions import InternalServerError
from werkzeug.http import HTTP_STATUS_CODES

from shared.errors import error_body

# gunicorn's LimitRequestHeaders says which limit in its text.
_HEADER_LIMITS = {
    "limit request headers fields": "The request has more than {fields} header fields.",
    "limit request headers fields size": "A header field is longer than {size} bytes.",
    "max buffer headers": "The request's header section is longer than {section} bytes.",
}
_FRAMING = {"CONTENT-LENGTH", "TRANSFER-ENCODING"}
# The refusals whose message is always the same, in the order they are tried.
_FIXED: tuple[tuple[type[BaseException], int, str], ...] = (
    (gerr.InvalidRequestMethod, 400, "The request method is not a valid HTTP method."),
    (gerr.InvalidHTTPVersion, 400,
     "The HTTP version is not valid or not supported: use HTTP/1.0 or HTTP/1.1."),
    (gerr.InvalidRequestLine, 400,
     "The request line is not valid: it must be METHOD target HTTP-version."),
    (gerr.ObsoleteFolding, 400,
     "A header field is folded over several lines (obsolete line folding)."),
    (gerr.InvalidHeaderName, 400, "A header field name is not valid."),
    (gerr.UnsupportedTransferCoding, 501,
     "The Transfer-Encoding is not supported: only chunked is."),
    (gerr.InvalidSchemeHeaders, 400, "The request's scheme headers contradict each other."),
    (gerr.InvalidProxyLine, 400, "The PROXY protocol line is not valid."),
    (gerr.ForbiddenProxyRequest, 403,
     "PROXY protocol lines are not accepted from this address."),
    (ssl.SSLError, 403, "The TLS connection failed."),
)
_FIELD_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")


def header_limits(cfg: Any) -> dict[str, int]:
    """gunicorn's effective limits on header fields (as ``Message.__init__`` sets them)."""
    fields = cfg.limit_request_fields
    if not 0 < fields <= MAX_HEADERS:
        fields = MAX_HEADERS
    size = cfg.limit_request_field_size
    size = DEFAULT_MAX_HEADERFIELD_SIZE if size < 0 else size
    section = fields * ((size or DEFAULT_MAX_HEADERFIELD_SIZE) + 2) + 4
    return {"fields": fields, "size": size, "section": section}


def refusal(exc: BaseException, cfg: Any) -> tuple[int, str] | None:
    """The status and message gunicorn refuses ``exc`` with; None if it is not a refusal.

    The statuses are gunicorn's (``Worker.handle_error``); the messages say what was
    wrong without repeating the request's bytes back.
    """
    if isinstance(exc, gerr.LimitRequestLine):
        return 400, f"The request line is longer than {exc.max_size} bytes."
    if isinstance(exc, gerr.LimitRequestHeaders):
        text = _HEADER_LIMITS.get(exc.msg, "The request's header fields are too large.")
        return 431, text.format(**header_limits(cfg))
    if isinstance(exc, gerr.InvalidHeader):
        # hdr is the field's name (upper case), or the whole line when it has no colon.
        name = exc.hdr if isinstance(exc.hdr, str) and _FIELD_NAME.fullmatch(exc.hdr) else ""
        if name.upper() in _FRAMING:
            return 400, (f"The header field {name.title()} is not valid: a malformed or "
                         "repeated value, or both Content-Length and Transfer-Encoding.")
        which = f"The header field {name.title()}" if name else "A header field"
        return 400, (f"{which} is not valid: no colon, or a control character other than tab "
                      "(such as CR, LF, NUL or DEL) in its value.")
    if isinstance(exc, gerr.ConfigurationProblem):
        return 500, str(exc)
    for kind, status, message in _FIXED:
        if isinstance(exc, kind):
            return status, message
    return None


def response_bytes(code: int, message: str) -> bytes:
    """A whole HTTP/1.1 response: the error body as JSON, and the connection closing."""
    body = json.dumps(error_body(code, message)).encode() + b"\n"
    head = (f"HTTP/1.1 {code} {HTTP_STATUS_CODES.get(code, 'Unknown')}\r\n"
            "Connection: close\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            "\r\n")
    return head.encode("latin-1") + body


class JsonRefusals(Worker):
    """A gunicorn worker whose refusals are JSON; a base before gunicorn's worker class."""

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        # The same decisions and log lines as gunicorn's Worker.handle_error.
        request_start = datetime.now()
        addr = addr or ("", -1)  # a unix socket
        refused = refusal(exc, self.cfg)
        if refused is not None:
            code, message = refused
            if req is None and isinstance(exc, gerr.InvalidHeader | gerr.InvalidHeaderName):
                req = getattr(exc, "req", None)  # for the access log
            self.log.warning("Invalid request from ip=%s: %s", addr[0], exc)
        else:
            if hasattr(req, "uri"):
                self.log.exception("Error handling request %s", req.uri)
            else:
                self.log.exception("Error handling request (no URI read)")
            code, message = 500, str(InternalServerError.description)
        data = response_bytes(code, message)

        if req is not None:
            environ = default_environ(req, client, self.cfg)
            environ["REMOTE_ADDR"] = addr[0]
            environ["REMOTE_PORT"] = str(addr[1])
            resp = Response(req, client, self.cfg)
            resp.status = f"{code} {HTTP_STATUS_CODES.get(code, 'Unknown')}"
            resp.response_length = len(data)
            self.log.access(resp, req, environ, datetime.now() - request_start)

        try:
            util.write_nonblock(client, data)
        except Exception:
            self.log.debug("Failed to send error message.")


class SyncWorker(JsonRefusals, SyncWorkerBase):
    """gunicorn's sync worker, refusing in JSON: the domain services'."""


class ThreadWorker(JsonRefusals, ThreadWorkerBase):
    """gunicorn's gthread worker, refusing in JSON: the ledger's."""
