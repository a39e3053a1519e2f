"""The control plane: small JSON requests to a process, separate from the 1 kHz streams.

Each session process binds a REP socket and polls it without blocking between its own work;
the orchestrator (CLI) asks with a fresh REQ socket per request and a timeout, so a dead
process never wedges the caller.

Every request is checked before a process sees it: at most `MAX_REQUEST_BYTES` (the socket
refuses anything past `MAX_MESSAGE_BYTES` before reading it), JSON nested at most
`MAX_DEPTH` deep, and valid against one of the request models below (pydantic, unknown
fields refused) among the commands that process answers. Anything else is answered with
`{"ok": false, "error": ...}` and counted; the process carries on. A non-loopback tcp bind
is refused, as for the publishers.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Final, Literal

import zmq
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from haptics.errors import HapticsError
from haptics.wire.transport import check_bind_allowed

MAX_REQUEST_BYTES: Final = 64 * 1024  # larger requests are answered with an error
MAX_MESSAGE_BYTES: Final = 1024 * 1024  # larger ones are dropped by ZeroMQ unread
MAX_DEPTH: Final = 16  # JSON nesting allowed in a request (manifests nest 3–4 deep)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Ping(_Request):
    cmd: Literal["ping"]


class Info(_Request):
    cmd: Literal["info"]


class Stats(_Request):
    cmd: Literal["stats"]


class Stop(_Request):
    cmd: Literal["stop"]
    reason: str = Field("stopped", max_length=1000)
    published: dict[str, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)
    # per declared stream, what its publishing process counted (session.manifest.SourceCounts)
    source_counts: dict[str, dict[str, int | dict[str, int]]] = Field(default_factory=dict)


class Arm(_Request):
    cmd: Literal["arm"]


class Disarm(_Request):
    cmd: Literal["disarm"]


class Estop(_Request):
    cmd: Literal["estop"]


class ResetEstop(_Request):
    cmd: Literal["reset_estop"]


class Annotate(_Request):
    """Metadata for the session manifest (the recorder merges each dict into its own)."""

    cmd: Literal["annotate"]
    device: dict[str, Any] | None = None
    scene: dict[str, Any] | None = None
    loop: dict[str, Any] | None = None
    clock: dict[str, Any] | None = None
    provenance: str | None = Field(None, max_length=100)


Request = Annotated[
    Ping | Info | Stats | Stop | Arm | Disarm | Estop | ResetEstop | Annotate,
    Field(discriminator="cmd"),
]
_REQUEST: Final = TypeAdapter(Request)

# what each kind of process answers
LOOP_COMMANDS: Final = frozenset({"ping", "info", "stats", "stop", "estop", "reset_estop"})
DEVICE_COMMANDS: Final = frozenset({"ping", "info", "stats", "stop", "arm", "disarm"})
RECORDER_COMMANDS: Final = frozenset({"ping", "stats", "stop", "annotate"})
CAMERA_COMMANDS: Final = frozenset({"ping", "stats", "stop"})
SENSOR_COMMANDS: Final = frozenset({"ping", "info", "stats", "stop"})  # sense-only devices


def _too_deep(obj: Any, limit: int) -> bool:
    """Whether `obj` (parsed JSON) nests containers deeper than `limit` (iterative)."""
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((c, depth + 1) for c in children)
    return False


def parse_request(raw: bytes, commands: frozenset[str]) -> dict[str, Any]:
    """Check one raw request; the validated request as a plain dict (defaults filled in).

    Raises HapticsError saying what is wrong (size, JSON, nesting, unknown command, fields).
    """
    if len(raw) > MAX_REQUEST_BYTES:
        raise HapticsError(f"request of {len(raw)} bytes; at most {MAX_REQUEST_BYTES} allowed")
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise HapticsError(f"not JSON: {str(exc)[:200]}") from None
    if _too_deep(obj, MAX_DEPTH):
        raise HapticsError(f"JSON nested deeper than {MAX_DEPTH} levels")
    if not isinstance(obj, dict) or not isinstance(obj.get("cmd"), str):
        raise HapticsError("a request is a JSON object with a string 'cmd'")
    if obj["cmd"] not in commands:
        raise HapticsError(f"unknown command '{obj['cmd'][:60]}'; this process answers "
                           f"{', '.join(sorted(commands))}")
    try:
        req = _REQUEST.validate_python(obj)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc'][1:]) or 'request'}: {e['msg']}"
            for e in exc.errors()[:5]
        )
        raise HapticsError(f"invalid '{obj['cmd']}' request: {problems}") from None
    return req.model_dump()


class ControlServer:
    """The process side: `poll()` for a valid request, then `reply()` exactly once.

    commands: the request names this process answers. Invalid requests are answered here
    with an error and counted in `rejected`; `poll` then returns None.
    """

    def __init__(
        self, ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str, commands: frozenset[str]
    ) -> None:
        check_bind_allowed(endpoint)
        self.commands = commands
        self.rejected = 0
        self.sock = ctx.socket(zmq.REP)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
        self.sock.bind(endpoint)

    def poll(self, timeout_ms: int = 0) -> dict[str, Any] | None:
        """A waiting valid request, or None. Never raises for what a peer sent."""
        if not self.sock.poll(timeout_ms, zmq.POLLIN):
            return None
        raw = self.sock.recv()
        try:
            return parse_request(raw, self.commands)
        except HapticsError as exc:
            self.rejected += 1
            self.reply({"ok": False, "error": f"malformed control request: {exc}"})
            return None

    def reply(self, obj: dict[str, Any]) -> None:
        self.sock.send(json.dumps(obj, default=str).encode())

    def close(self) -> None:
        # linger: a reply sent just before (a process answers "stop", then ends) is still on
        # its way out; with linger 0 it was dropped now and then on a loaded machine, and the
        # caller saw "no answer to 'stop'". 500 ms bounds the wait when no one reads it.
        self.sock.close(linger=500)


def request(
    ctx: zmq.Context[zmq.Socket[bytes]],
    endpoint: str,
    cmd: str,
    timeout_s: float = 2.0,
    **args: Any,
) -> dict[str, Any]:
    """Send one request and wait for its reply.

    Raises HapticsError if no reply comes within `timeout_s` (the process is dead or stuck)
    or the reply is not a JSON object.
    """
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    try:
        sock.send(json.dumps({"cmd": cmd, **args}, default=str).encode())
        if not sock.poll(int(timeout_s * 1000), zmq.POLLIN):
            raise HapticsError(f"no answer to '{cmd}' from {endpoint} within {timeout_s} s")
        try:
            reply = json.loads(sock.recv())
        except ValueError as exc:
            raise HapticsError(f"malformed answer to '{cmd}' from {endpoint}: {exc}") from None
        if not isinstance(reply, dict):
            raise HapticsError(f"malformed answer to '{cmd}' from {endpoint}: not an object")
        return reply
    finally:
        sock.close(0)
