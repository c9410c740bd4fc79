"""A real HTTP server on 127.0.0.1 standing in for a Slack incoming webhook: it keeps every
POSTed JSON body and answers ``status`` (200 ``ok`` by default, as Slack does)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookServer:
    """Use as a context manager; ``url`` is the webhook URL, ``posts`` the bodies received."""

    def __init__(self, status: int = 200, answer: str = "ok"):
        self.status = status
        self.answer = answer
        self.posts: list[Any] = []
        self.paths: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length).decode()
                server.paths.append(self.path)
                server.posts.append(json.loads(raw) if raw else None)
                data = server.answer.encode()
                self.send_response(server.status)
                self.send_header("content-type", "text/plain")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/services/T000/B000/XXXX"

    def __enter__(self) -> WebhookServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
