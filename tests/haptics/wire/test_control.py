"""The control plane checks every request before a process sees it: real REP/REQ sockets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from haptics.errors import HapticsError
from haptics.wire.control import (
    LOOP_COMMANDS,
    MAX_DEPTH,
    MAX_REQUEST_BYTES,
    RECORDER_COMMANDS,
    ControlServer,
    parse_request,
)


def test_valid_requests_come_back_with_defaults_filled_in() -> None:
    assert parse_request(b'{"cmd": "ping"}', LOOP_COMMANDS) == {"cmd": "ping"}
    stop = parse_request(b'{"cmd": "stop", "published": {"state": 3}}', RECORDER_COMMANDS)
    assert stop == {
        "cmd": "stop", "reason": "stopped", "published": {"state": 3}, "source_counts": {}
    }
    counts = b'{"cmd": "stop", "source_counts": {"tactile": {"refused": 1, "driver": {"crc": 2}}}}'
    assert parse_request(counts, RECORDER_COMMANDS)["source_counts"] == {
        "tactile": {"refused": 1, "driver": {"crc": 2}}
    }


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "bytes"),
        (b"[" * 5000 + b"]" * 5000, "nested|recursion"),
        (json.dumps({"cmd": "annotate", "scene": {"a": [[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}})
         .encode(), "nested"),
        (b"\xff\xfe not json", "not JSON"),
        (b'"stop"', "JSON object"),
        (b'{"cmd": 7}', "JSON object"),
        (b'{"cmd": "format_disk"}', "unknown command"),
        (b'{"cmd": "arm"}', "unknown command"),  # the recorder does not arm anything
        (b'{"cmd": "stop", "published": "all of it"}', "invalid 'stop'"),
        (b'{"cmd": "stop", "published": {"state": -5}}', "invalid 'stop'"),
        (b'{"cmd": "stop", "reason": "x", "rm": "-rf"}', "invalid 'stop'"),
        (b'{"cmd": "annotate", "provenance": ["real"]}', "invalid 'annotate'"),
    ],
)
def test_bad_requests_are_refused_with_the_reason(raw: bytes, why: str) -> None:
    with pytest.raises(HapticsError, match=why):
        parse_request(raw, RECORDER_COMMANDS)


def test_the_limits_leave_room_for_real_manifests() -> None:
    deep: object = 1
    for _ in range(MAX_DEPTH - 2):
        deep = {"k": deep}
    raw = json.dumps({"cmd": "annotate", "scene": deep}).encode()
    assert len(raw) < MAX_REQUEST_BYTES
    assert parse_request(raw, RECORDER_COMMANDS)["scene"] == deep


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[zmq.Context[zmq.Socket[bytes]], str, ControlServer]]:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    endpoint = f"ipc://{tmp_path}/ctl"
    srv = ControlServer(ctx, endpoint, LOOP_COMMANDS)
    yield ctx, endpoint, srv
    srv.close()
    ctx.term()


def _send_raw(ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str, raw: bytes) -> zmq.Socket[bytes]:
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    sock.send(raw)
    return sock


def test_the_server_answers_garbage_and_keeps_serving(
    server: tuple[zmq.Context[zmq.Socket[bytes]], str, ControlServer],
) -> None:
    ctx, endpoint, srv = server
    for raw in (b"[" * 50_000, b'{"cmd": "stop", "published": 3}', b"\x00" * 70_000):
        client = _send_raw(ctx, endpoint, raw)
        assert srv.poll(2000) is None
        answer = json.loads(client.recv())
        assert answer["ok"] is False and "malformed control request" in answer["error"]
        client.close()
    assert srv.rejected == 3
    client = _send_raw(ctx, endpoint, b'{"cmd": "estop"}')
    assert srv.poll(2000) == {"cmd": "estop"}
    srv.reply({"ok": True})
    assert json.loads(client.recv()) == {"ok": True}
    client.close()


def test_a_message_past_the_transport_limit_is_never_read(
    server: tuple[zmq.Context[zmq.Socket[bytes]], str, ControlServer],
) -> None:
    ctx, endpoint, srv = server
    huge = _send_raw(ctx, endpoint, b"x" * (2 * 1024 * 1024))
    assert srv.poll(300) is None and srv.rejected == 0  # dropped by ZeroMQ, peer disconnected
    huge.close()
    client = _send_raw(ctx, endpoint, b'{"cmd": "ping"}')
    assert srv.poll(2000) == {"cmd": "ping"}
    srv.reply({"ok": True})
    client.close()


def test_a_non_loopback_tcp_control_bind_is_refused() -> None:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        with pytest.raises(HapticsError, match="loopback"):
            ControlServer(ctx, "tcp://0.0.0.0:5999", LOOP_COMMANDS)
    finally:
        ctx.term()
