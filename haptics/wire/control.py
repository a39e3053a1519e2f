"""The control plane: small JSON requests to a process, separate from the 1 kHz streams.

Each session process binds a REP socket and polls it without blocking between its own work;
the orchestrator (CLI) asks with a fresh REQ socket per request and a timeout, so a dead
process never wedges the caller.
"""

from __future__ import annotations

import json
from typing import Any

import zmq

from haptics.errors import HapticsError


class ControlServer:
    """The process side: `poll()` for a request, then `reply()` exactly once."""

    def __init__(self, ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str) -> None:
        self.sock = ctx.socket(zmq.REP)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(endpoint)

    def poll(self, timeout_ms: int = 0) -> dict[str, Any] | None:
        """A waiting request, or None. Malformed requests are answered with an error."""
        if not self.sock.poll(timeout_ms, zmq.POLLIN):
            return None
        raw = self.sock.recv()
        try:
            req = json.loads(raw)
            if not isinstance(req, dict) or "cmd" not in req:
                raise ValueError("request must be a JSON object with 'cmd'")
        except ValueError as exc:
            self.reply({"ok": False, "error": f"malformed control request: {exc}"})
            return None
        return req

    def reply(self, obj: dict[str, Any]) -> None:
        self.sock.send(json.dumps(obj, default=str).encode())

    def close(self) -> None:
        self.sock.close(0)


def request(
    ctx: zmq.Context[zmq.Socket[bytes]],
    endpoint: str,
    cmd: str,
    timeout_s: float = 2.0,
    **args: Any,
) -> dict[str, Any]:
    """Send one request and wait for its reply.

    Raises HapticsError if no reply comes within `timeout_s` (the process is dead or stuck).
    """
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    try:
        sock.send(json.dumps({"cmd": cmd, **args}, default=str).encode())
        if not sock.poll(int(timeout_s * 1000), zmq.POLLIN):
            raise HapticsError(f"no answer to '{cmd}' from {endpoint} within {timeout_s} s")
        reply: dict[str, Any] = json.loads(sock.recv())
        return reply
    finally:
        sock.close(0)
