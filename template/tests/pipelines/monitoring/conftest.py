"""A loopback HTTP server that records every request and answers like Datadog and PagerDuty.

It listens on 127.0.0.1 on an ephemeral port. Datadog: series and events are accepted, monitors
are stored and listed (filtered by `monitor_tags`), created and updated by id. PagerDuty: each
event is accepted and folded into one incident per dedup key. Tests script failures and delays.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest


@dataclass
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class RecordingServer:
    """State shared with the handler: requests, monitors, incidents and scripted answers."""

    requests: list[Recorded] = field(default_factory=list)
    monitors: dict[int, dict[str, Any]] = field(default_factory=dict)
    incidents: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (status, body) answered instead of the normal reply, first in first out.
    scripted: list[tuple[int, Any]] = field(default_factory=list)
    fail_always: tuple[int, Any] | None = None
    delay_seconds: float = 0.0
    url: str = ""

    def on(self, method: str, path_prefix: str) -> list[Recorded]:
        """Return the recorded requests of one method whose path starts with `path_prefix`."""
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]


def _answer(server: RecordingServer, request: Recorded) -> tuple[int, Any]:  # noqa: PLR0911
    if server.fail_always:
        return server.fail_always
    if server.scripted:
        return server.scripted.pop(0)
    path, body = request.path, request.body
    if path == "/api/v2/series":
        return 202, {"errors": []}
    if path == "/api/v1/events":
        return 202, {"status": "ok", "event": {"id": len(server.requests), "title": body["title"]}}
    if path == "/api/v1/monitor" and request.method == "GET":
        wanted = set(request.query.get("monitor_tags", [""])[0].split(","))
        return 200, [m for m in server.monitors.values() if wanted <= set(m["tags"])]
    if path == "/api/v1/monitor" and request.method == "POST":
        monitor_id = 1000 + len(server.monitors)
        server.monitors[monitor_id] = {**body, "id": monitor_id}
        return 200, server.monitors[monitor_id]
    if path.startswith("/api/v1/monitor/") and request.method == "PUT":
        monitor_id = int(path.rsplit("/", 1)[1])
        if monitor_id not in server.monitors:
            return 404, {"errors": ["Monitor not found"]}
        server.monitors[monitor_id] = {**body, "id": monitor_id}
        return 200, server.monitors[monitor_id]
    if path == "/v2/enqueue":
        key = body["dedup_key"]
        incident = server.incidents.setdefault(key, {"status": "none", "events": 0})
        if body["event_action"] == "trigger":
            incident.update(status="triggered", events=incident["events"] + 1)
        elif body["event_action"] == "resolve" and incident["status"] == "triggered":
            incident["status"] = "resolved"
        return 202, {"status": "success", "message": "Event processed", "dedup_key": key}
    return 404, {"errors": [f"no route {request.method} {path}"]}


def _decoded(raw: bytes) -> Any:
    """Return a JSON body decoded, any other body (AWS query or CBOR protocols) as bytes."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _handler(server: RecordingServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            """Keep the test output quiet."""

        def _serve(self) -> None:
            parsed = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            request = Recorded(
                self.command,
                parsed.path,
                parse_qs(parsed.query),
                {k.lower(): v for k, v in self.headers.items()},
                _decoded(raw),
            )
            server.requests.append(request)
            if server.delay_seconds:
                time.sleep(server.delay_seconds)
            status, body = _answer(server, request)
            payload = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up first (a timeout test)

        do_GET = do_POST = do_PUT = _serve

    return Handler


@pytest.fixture
def recording_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingServer]:
    """Yield a recording server on 127.0.0.1 (ephemeral port); shut it down afterwards.

    Clients reach it directly even where an HTTP proxy is set: requests (PagerDuty) and botocore
    (CloudWatch) would otherwise send loopback traffic to the proxy unless NO_PROXY lists it.
    """
    for name in ("NO_PROXY", "no_proxy"):
        listed = os.environ.get(name, "")
        monkeypatch.setenv(name, f"{listed},127.0.0.1" if listed else "127.0.0.1")
    state = RecordingServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    # A short poll: shutdown() waits for the loop's next poll (half a second by default, at every
    # test's teardown).
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
