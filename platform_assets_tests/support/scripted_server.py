"""A real HTTP server on 127.0.0.1 that speaks enough of the Anthropic Messages API for the
real ``anthropic`` SDK to talk to it (through ``base_url``), replaying a script.

- ``POST /v1/messages`` (and Bedrock's ``POST /model/{id}/invoke``): the next
  :class:`Reply` of the script (status code, headers, delay, body), or, when the script
  is used up, the default reply: a message whose text is ``default_text``.
  Message replies get a *realistic usage*: tokens ≈ characters / 4; a request's prefix up
  to a ``cache_control`` breakpoint (tools, then system, then messages) is written to the
  cache on first sight and read from it on every identical prefix after, when the prefix
  up to the last breakpoint is at least ``min_cacheable_tokens`` long, as the API does
  (the 5-minute lifetime is not modelled).
- ``POST /v1/messages/batches``, ``GET /v1/messages/batches/{id}`` and
  ``GET /v1/messages/batches/{id}/results``: a Message Batch, each request answered with
  ``batch_reply(custom_id, params)`` (a text, or a :class:`Reply` whose non-200 status makes
  the request ``errored``) or else the default reply, with the same realistic usage (so the
  shared prefix of a batch's requests is written once and read after). The batch has ended
  at once, or after ``batch_polls_before_end`` looks at it (``in_progress`` until then).

Every request is captured (method, path, headers, parsed JSON body) in :attr:`requests`.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_TEXT = json.dumps(
    {"passes": True, "violations": [], "summary": "The batch matches its contract."}
)


@dataclass
class Reply:
    """One scripted answer to ``POST /v1/messages``.

    ``status != 200`` sends an API error (``error_type``); ``body`` (a str) replaces the
    whole response body; otherwise a message with ``text`` and ``stop_reason`` is built,
    with the realistic usage unless ``usage`` is given. ``delay`` seconds pass first.
    """

    status: int = 200
    text: str = DEFAULT_TEXT
    stop_reason: str = "end_turn"
    usage: dict[str, int] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    body: str | None = None
    error_type: str | None = None


ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass
class Captured:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: str


def tokens_of(value: Any) -> int:
    """≈ tokens of a JSON value: characters of its text fields / 4 (at least 1 per block)."""
    if isinstance(value, str):
        return max(1, (len(value) + 3) // 4)
    if isinstance(value, list):
        return sum(tokens_of(v) for v in value)
    if isinstance(value, dict):
        if value.get("type") == "text":
            return tokens_of(value.get("text", ""))
        return tokens_of(json.dumps(value, sort_keys=True))
    return 0


def _blocks(body: dict[str, Any]) -> list[Any]:
    """The request's prompt as a flat list of blocks, in the API's cache order."""
    blocks: list[Any] = list(body.get("tools") or [])
    system = body.get("system")
    if isinstance(system, str):
        blocks.append({"type": "text", "text": system})
    elif system:
        blocks.extend(system)
    for message in body.get("messages") or []:
        content = message.get("content")
        blocks.extend(
            [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        )
    return blocks


class ScriptedServer:
    """See the module docstring. Use as a context manager; ``url`` is the ``base_url``."""

    def __init__(
        self,
        script: list[Reply] | None = None,
        *,
        default_text: str = DEFAULT_TEXT,
        min_cacheable_tokens: int = 1024,
        batch_reply: Callable[[str, dict[str, Any]], str | Reply] | None = None,
        batch_polls_before_end: int = 0,
    ):
        self.script: list[Reply] = list(script or [])
        self.default_text = default_text
        self.min_cacheable_tokens = min_cacheable_tokens
        self.batch_reply = batch_reply
        self.batch_polls_before_end = batch_polls_before_end
        self._batch_polls: dict[str, int] = {}
        self.requests: list[Captured] = []
        self._cache: set[str] = set()
        self._batches: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
                pass

            def _capture(self) -> Captured:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length).decode("utf-8") if length else ""
                try:
                    body = json.loads(raw) if raw else None
                except json.JSONDecodeError:
                    body = None
                captured = Captured(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    raw,
                )
                with server._lock:
                    server.requests.append(captured)
                return captured

            def _send(
                self,
                status: int,
                payload: str,
                headers: dict[str, str] | None = None,
                content_type: str = "application/json",
            ) -> None:
                data = payload.encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("content-type", content_type)
                    self.send_header("content-length", str(len(data)))
                    self.send_header("request-id", "req_" + uuid.uuid4().hex[:16])
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to deliver

            def do_POST(self) -> None:
                captured = self._capture()
                if self.path.startswith("/v1/messages/batches"):
                    self._send(200, json.dumps(server._create_batch(captured.body)))
                elif self.path.startswith("/v1/messages") or (
                    self.path.startswith("/model/") and self.path.endswith("/invoke")
                ):
                    reply = server._next_reply()
                    if reply.delay:
                        time.sleep(reply.delay)
                    status, payload, headers = server._render(reply, captured.body)
                    self._send(status, payload, headers)
                else:
                    self._send(
                        404,
                        json.dumps(
                            {
                                "type": "error",
                                "error": {"type": "not_found_error", "message": self.path},
                            }
                        ),
                    )

            def do_GET(self) -> None:
                self._capture()
                parts = self.path.strip("/").split("/")
                if (
                    len(parts) >= 4
                    and parts[:3] == ["v1", "messages", "batches"]
                    and parts[3] in server._batches
                ):
                    batch_id = parts[3]
                    if len(parts) == 5 and parts[4] == "results":
                        lines = "\n".join(json.dumps(r) for r in server._batches[batch_id]) + "\n"
                        self._send(200, lines, content_type="application/x-jsonl")
                    else:
                        with server._lock:
                            server._batch_polls[batch_id] = server._batch_polls.get(batch_id, 0) + 1
                        self._send(200, json.dumps(server._batch_object(batch_id)))
                else:
                    self._send(
                        404,
                        json.dumps(
                            {
                                "type": "error",
                                "error": {"type": "not_found_error", "message": self.path},
                            }
                        ),
                    )

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- what was asked --------------------------------------------------------------

    @property
    def message_requests(self) -> list[Captured]:
        """Requests for one message: ``/v1/messages``, or Bedrock's ``/model/{id}/invoke``."""
        return [
            r
            for r in self.requests
            if r.method == "POST"
            and (
                r.path.rstrip("/") == "/v1/messages"
                or (r.path.startswith("/model/") and r.path.endswith("/invoke"))
            )
        ]

    # -- answers ---------------------------------------------------------------------

    def _next_reply(self) -> Reply:
        with self._lock:
            return self.script.pop(0) if self.script else Reply(text=self.default_text)

    def usage_for(self, body: dict[str, Any], output_text: str) -> dict[str, int]:
        """Realistic usage for a request body (see the module docstring). With several
        breakpoints, as the API does: the longest cached prefix ending at a breakpoint is
        read, the rest up to the last breakpoint is written."""
        blocks = _blocks(body or {})
        sizes = [tokens_of(b) for b in blocks]
        total = sum(sizes)
        breakpoints = [
            i for i, b in enumerate(blocks) if isinstance(b, dict) and b.get("cache_control")
        ]
        write = read = 0
        if breakpoints:

            def key(end: int) -> str:
                return hashlib.sha256(
                    json.dumps([body.get("model"), blocks[: end + 1]], sort_keys=True).encode()
                ).hexdigest()

            last = breakpoints[-1]
            cacheable = sum(sizes[: last + 1])
            if cacheable >= self.min_cacheable_tokens:
                with self._lock:
                    hit = max((i for i in breakpoints if key(i) in self._cache), default=None)
                    read = sum(sizes[: hit + 1]) if hit is not None else 0
                    write = cacheable - read
                    self._cache.update(key(i) for i in breakpoints)
        return {
            "input_tokens": total - write - read,
            "cache_creation_input_tokens": write,
            "cache_read_input_tokens": read,
            "output_tokens": tokens_of(output_text),
        }

    def _message(
        self, body: dict[str, Any] | None, text: str, stop_reason: str, usage: dict[str, int] | None
    ) -> dict[str, Any]:
        return {
            "id": "msg_" + uuid.uuid4().hex[:20],
            "type": "message",
            "role": "assistant",
            "model": (body or {}).get("model", "claude"),
            "content": [{"type": "text", "text": text}] if text else [],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage if usage is not None else self.usage_for(body or {}, text),
        }

    def _render(self, reply: Reply, body: dict[str, Any] | None) -> tuple[int, str, dict[str, str]]:
        headers = dict(reply.headers)
        if reply.body is not None:
            return reply.status, reply.body, headers
        if reply.status != 200:
            error_type = reply.error_type or ERROR_TYPES.get(reply.status, "api_error")
            error = {
                "type": "error",
                "error": {"type": error_type, "message": f"scripted {reply.status}"},
            }
            return reply.status, json.dumps(error), headers
        return (
            200,
            json.dumps(self._message(body, reply.text, reply.stop_reason, reply.usage)),
            headers,
        )

    # -- Message Batches ---------------------------------------------------------------

    @property
    def batch_requests(self) -> list[Captured]:
        """Requests that created a Message Batch."""
        return [
            r
            for r in self.requests
            if r.method == "POST" and r.path.rstrip("/") == "/v1/messages/batches"
        ]

    def _create_batch(self, body: dict[str, Any]) -> dict[str, Any]:
        batch_id = "msgbatch_" + uuid.uuid4().hex[:16]
        results = []
        for request in body.get("requests", []):
            params = request.get("params") or {}
            answer = (
                self.batch_reply(request["custom_id"], params)
                if self.batch_reply
                else self.default_text
            )
            reply = answer if isinstance(answer, Reply) else Reply(text=answer)
            if reply.status != 200:
                error = {
                    "type": reply.error_type or ERROR_TYPES.get(reply.status, "api_error"),
                    "message": f"scripted {reply.status}",
                }
                result = {"type": "errored", "error": {"type": "error", "error": error}}
            else:
                result = {
                    "type": "succeeded",
                    "message": self._message(params, reply.text, reply.stop_reason, reply.usage),
                }
            results.append({"custom_id": request["custom_id"], "result": result})
        self._batches[batch_id] = results
        return self._batch_object(batch_id)

    def _batch_object(self, batch_id: str) -> dict[str, Any]:
        now = "2026-11-22T00:00:00Z"
        results = self._batches[batch_id]
        ended = self._batch_polls.get(batch_id, 0) > self.batch_polls_before_end
        errored = sum(1 for r in results if r["result"]["type"] == "errored")
        counts = (
            {
                "processing": 0,
                "succeeded": len(results) - errored,
                "errored": errored,
                "canceled": 0,
                "expired": 0,
            }
            if ended
            else {
                "processing": len(results),
                "succeeded": 0,
                "errored": 0,
                "canceled": 0,
                "expired": 0,
            }
        )
        return {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": counts,
            "created_at": now,
            "ended_at": now if ended else None,
            "expires_at": now,
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": f"{self.url}/v1/messages/batches/{batch_id}/results" if ended else None,
        }
