"""Helpers for the alert tests: a real webhook receiver and a real SMTP server on loopback."""
from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from hub.alerts import fanout, jobs, services
from hub.extensions import db
from hub.principal import Principal, Role


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_fan_out() -> int:
    """Fan out every outbox entry not yet fanned out, as the worker would."""
    pending = fanout.pending_entry_ids(datetime.now(timezone.utc) + timedelta(days=1))
    return jobs.fan_out_entries(pending)


def subscribe(user, **fields):
    """Subscribe through the service; a viewer (who may not subscribe) gets the subscription it
    would have kept from a time it was an analyst, so fan-out tests can cover every role."""
    fields.setdefault("channel", "in_app")
    if user.role.value != "viewer":
        return services.create_subscription(Principal.of(user), **fields).subscription
    role = user.role
    user.role = Role.analyst
    try:
        return services.create_subscription(Principal.of(user), **fields).subscription
    finally:
        user.role = role
        db.session.commit()


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def valid_signature(secret: str, headers: dict, body: bytes) -> bool:
    """What a receiver does (README): recompute HMAC-SHA256 over "<timestamp>.<raw body>"."""
    timestamp = headers.get("X-Hub-Timestamp", "")
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers.get("X-Hub-Signature", "")) and abs(time.time() - int(timestamp)) < 300


@dataclass
class ReceivedRequest:
    path: str
    headers: dict
    body: bytes
    answered: int
    at: float

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """A real HTTP server on 127.0.0.1. `behaviour`: ok | fail_first | always_fail | stall_first."""

    behaviour: str = "ok"
    requests: list[ReceivedRequest] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        self.release = threading.Event()
        self.stalled = threading.Event()  # set when a request is being held
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver._answer(self.headers.get("X-Hub-Delivery", ""))
                if status is None:  # stalled: hold the request until released; the sender is
                    receiver.stalled.set()  # gone by then, so it never counts as acknowledged
                    receiver.release.wait(30)
                    status = 0
                with receiver._lock:
                    receiver.requests.append(ReceivedRequest(self.path, dict(self.headers), body, status, time.time()))
                try:
                    self.send_response(status or 200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256  # workers open many connections at once

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def _answer(self, delivery_id: str) -> int | None:
        with self._lock:
            first = delivery_id not in self._seen
            self._seen.add(delivery_id)
        if self.behaviour == "always_fail":
            return 503
        if self.behaviour == "fail_first" and first:
            return 500
        if self.behaviour == "stall_first" and first:
            return None
        return 200

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def delivered(self) -> list[ReceivedRequest]:
        with self._lock:
            return [r for r in self.requests if 200 <= r.answered < 300]

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class _Collect:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"


class SmtpServer:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it accepts."""

    def __init__(self, **controller_options):
        self.handler = _Collect()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **controller_options)
        self.controller.start()

    @property
    def messages(self):
        return self.handler.messages

    def stop(self):
        self.controller.stop()


def cheap_password_hashing(monkeypatch):
    """Argon2 with its lightest parameters: these tests make many users and never sign in with
    a password, so the default cost (tuned for real logins) would only make them slow."""
    from argon2 import PasswordHasher

    from hub.accounts import services as accounts

    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    dummy_hash = hasher.hash("no-such-user-password")
    # TestingConfig already asks for this cost; apps built from other configs here do not.
    monkeypatch.setattr(accounts, "_password_hasher", lambda: (hasher, dummy_hash))
