"""A real HTTP receiver in a thread: answers as scripted, and checks every signature with
the standardwebhooks library, as a subscriber would."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"thanks"
    delay: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    verified: bool
    answered: int = 0

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def event(self) -> Any:
        return json.loads(self.body)

    def verifies_with(self, secret: str) -> bool:
        try:
            Webhook(secret).verify(self.body, self.headers, json_parse=False)
        except Exception:
            return False
        return True


class Receiver:
    """Scripted answers per path (200 once the script runs out); every request is kept."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.scripts: dict[str, list[Answer]] = {}
        self.secrets: dict[str, list[str]] = {}
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  (the http.server name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.handle(self, self.path, headers, body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def script(self, path: str, *answers: Answer) -> None:
        """Answer the next requests to ``path`` so, in order."""
        with self.lock:
            self.scripts.setdefault(path, []).extend(answers)

    def trust(self, path: str, secret: str) -> None:
        """The secret the subscriber at ``path`` verifies with."""
        with self.lock:
            self.secrets.setdefault(path, []).append(secret)

    def handle(self, handler: BaseHTTPRequestHandler, path: str, headers: dict[str, str],
               body: bytes) -> None:
        with self.lock:
            script = self.scripts.get(path) or []
            answer = script.pop(0) if script else Answer()
            secrets = list(self.secrets.get(path, []))
        verified = False
        for secret in secrets:
            try:
                Webhook(secret).verify(body, headers, json_parse=False)
                verified = True
                break
            except Exception:
                continue
        received = Received(path, headers, body, time.monotonic(), verified, answer.status)
        with self.arrived:
            self.received.append(received)
            self.arrived.notify_all()
        if answer.delay:
            time.sleep(answer.delay)
        try:
            handler.send_response(answer.status)
            for name, value in answer.headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(answer.body)))
            handler.end_headers()
            handler.wfile.write(answer.body)
        except OSError:
            pass  # the sender gave up waiting

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, path: str, count: int, timeout: float = 10) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                found = [r for r in self.received if r.path == path]
                left = deadline - time.monotonic()
                if len(found) >= count or left <= 0:
                    return found
                self.arrived.wait(left)
