"""CurveZMQ links over real tcp sockets on loopback: the right keys talk, wrong keys are
refused and the refused side is told why."""

from __future__ import annotations

import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from haptics.errors import ConfigError, HapticsError
from haptics.wire.curve import (
    KeyPair,
    create_keys,
    create_link_keys,
    handshake_result,
    load_keys,
    load_public,
    start_authenticator,
    watch_handshake,
)
from haptics.wire.transport import check_bind_allowed, is_loopback, publisher, subscriber

Ctx = zmq.Context[zmq.Socket[bytes]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    return create_link_keys(tmp_path, ("follower", "operator", "intruder"))


@pytest.fixture
def ctx() -> Iterator[Ctx]:
    c: Ctx = zmq.Context()
    yield c
    c.term()


def _serve(ctx: Ctx, keys: dict[str, Path]) -> tuple[zmq.Socket[bytes], str, object]:
    auth = start_authenticator(ctx, keys["authorized"])
    endpoint = f"tcp://127.0.0.1:{_free_port()}"
    pub = publisher(ctx, endpoint, curve=load_keys(keys["follower_secret"]))
    return pub, endpoint, auth


def _connect(
    ctx: Ctx, endpoint: str, own: KeyPair, server: bytes
) -> tuple[zmq.Socket[bytes], str | None]:
    sock = ctx.socket(zmq.SUB)
    from haptics.wire.curve import secure_client

    secure_client(sock, own, server)
    monitor = watch_handshake(sock)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    return sock, handshake_result(monitor, 3.0)


def test_the_authorized_peer_gets_every_message(ctx: Ctx, keys: dict[str, Path]) -> None:
    pub, endpoint, auth = _serve(ctx, keys)
    try:
        sub, why = _connect(ctx, endpoint, load_keys(keys["operator_secret"]),
                            load_public(keys["follower"]))
        assert why is None
        got = []
        for i in range(200):
            if len(got) == 50:
                break
            pub.send(b"sample %d" % i)
            if sub.poll(20):
                got.append(sub.recv())
        assert len(got) == 50
        sub.close(0)
    finally:
        pub.close(0)
        auth.stop()  # type: ignore[attr-defined]


def test_a_peer_with_an_unknown_key_is_refused_and_told_why(
    ctx: Ctx, keys: dict[str, Path]
) -> None:
    pub, endpoint, auth = _serve(ctx, keys)
    try:
        sub, why = _connect(ctx, endpoint, load_keys(keys["intruder_secret"]),
                            load_public(keys["follower"]))
        assert why is not None and "refused our key" in why
        pub.send(b"secret")
        assert not sub.poll(200)
        sub.close(0)
    finally:
        pub.close(0)
        auth.stop()  # type: ignore[attr-defined]


def test_a_peer_expecting_another_server_key_never_connects(
    ctx: Ctx, keys: dict[str, Path]
) -> None:
    pub, endpoint, auth = _serve(ctx, keys)
    try:
        sub, why = _connect(ctx, endpoint, load_keys(keys["operator_secret"]),
                            load_public(keys["intruder"]))  # not the follower's key
        assert why is not None and "handshake" in why
        sub.close(0)
    finally:
        pub.close(0)
        auth.stop()  # type: ignore[attr-defined]


def test_a_plain_subscriber_gets_nothing_from_a_curve_server(
    ctx: Ctx, keys: dict[str, Path]
) -> None:
    pub, endpoint, auth = _serve(ctx, keys)
    try:
        plain = subscriber(ctx, endpoint, deep=False)
        for _ in range(20):
            pub.send(b"secret")
        assert not plain.poll(300)
        plain.close(0)
    finally:
        pub.close(0)
        auth.stop()  # type: ignore[attr-defined]


def test_keys_files_and_their_errors(tmp_path: Path, keys: dict[str, Path]) -> None:
    assert stat.S_IMODE(keys["operator_secret"].stat().st_mode) == 0o600
    with pytest.raises(ConfigError, match="exists already"):
        create_keys(keys["operator"].parent, "operator")
    with pytest.raises(ConfigError, match="plain name"):
        create_keys(tmp_path, "../evil")
    with pytest.raises(ConfigError, match="holds no secret key"):
        load_keys(keys["operator"])
    with pytest.raises(ConfigError, match="haptics keys create"):
        load_keys(tmp_path / "missing.key_secret")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="no authorized public key"):
        start_authenticator(zmq.Context.instance(), empty)


def test_off_loopback_only_a_secured_bind_is_allowed() -> None:
    assert is_loopback("tcp://127.0.0.1:5000") and is_loopback("tcp://[::1]:5000")
    assert is_loopback("tcp://127.3.2.1:5000") and is_loopback("ipc:///tmp/x")
    assert not is_loopback("tcp://0.0.0.0:5000") and not is_loopback("tcp://eth0:5000")
    with pytest.raises(HapticsError, match="CurveZMQ"):
        check_bind_allowed("tcp://0.0.0.0:5000")
    check_bind_allowed("tcp://0.0.0.0:5000", secured=True)


def test_the_keys_command_makes_a_pair(tmp_path: Path) -> None:
    import json as _json
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "haptics.cli.main", "keys", "create", "operator", "--dir",
         str(tmp_path), "--json"], capture_output=True, text=True, check=True,
    )
    files = _json.loads(out.stdout)
    assert load_keys(files["secret"]).public == load_public(files["public"])
    again = subprocess.run(
        [sys.executable, "-m", "haptics.cli.main", "keys", "create", "operator", "--dir",
         str(tmp_path)], capture_output=True, text=True,
    )
    assert again.returncode == 2 and "exists already" in again.stderr
    assert "Traceback" not in again.stderr
