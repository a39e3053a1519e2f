"""CurveZMQ: authenticated, encrypted links for every socket that leaves the machine.

Each side has a key pair in two files made by `haptics keys create NAME` (pyzmq's own
certificate format: `NAME.key` public, `NAME.key_secret` secret, readable by its owner only).
A server (the side that binds) knows its own secret key and accepts only the clients whose
public keys sit in its authorized-keys folder (ZAP, pyzmq's `ThreadAuthenticator`); a client
must know the server's public key. There is no unauthenticated non-loopback mode:
`haptics.wire.transport.check_bind_allowed` refuses a plain tcp bind off loopback.

A failed handshake is silent in ZeroMQ; `handshake_result` watches a socket's monitor so the
operator is told why (our key refused, or the server's key is not the one we expected).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, NamedTuple

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils.monitor import recv_monitor_message

from haptics.errors import ConfigError, HapticsError


class KeyPair(NamedTuple):
    """One side's CurveZMQ keys (Z85-encoded, 40 bytes each)."""

    public: bytes
    secret: bytes


def require_curve() -> None:
    """Raises HapticsError when this libzmq was built without CurveZMQ (libsodium)."""
    if not zmq.has("curve"):
        raise HapticsError(
            "this ZeroMQ has no CurveZMQ support, so links to other machines cannot be "
            "authenticated; install a pyzmq wheel (it bundles libsodium) or libzmq with libsodium"
        )


def create_keys(directory: str | Path, name: str) -> tuple[Path, Path]:
    """Write a new key pair as `directory/name.key` and `directory/name.key_secret`.

    Returns (public file, secret file). Refuses to overwrite an existing pair.
    Raises ConfigError when the name is not a plain file name or the pair exists.
    """
    require_curve()
    if not name or Path(name).name != name or name.startswith("."):
        raise ConfigError(f"key name {name!r}: use a plain name such as 'operator'")
    folder = Path(directory)
    public, secret = folder / f"{name}.key", folder / f"{name}.key_secret"
    if public.exists() or secret.exists():
        raise ConfigError(f"{public} or {secret} exists already; pick another name or remove it")
    folder.mkdir(parents=True, exist_ok=True)
    pub, sec = zmq.auth.create_certificates(folder, name)
    os.chmod(sec, 0o600)
    return Path(pub), Path(sec)


def create_link_keys(
    folder: Path, names: tuple[str, ...] = ("follower", "operator"), authorized: str = "operator"
) -> dict[str, Path]:
    """A key pair per name under folder/keys, and folder/authorized holding the public key of
    `authorized` (the follower's list of who may connect), for a link on one machine: a
    benchmark's or a test's. Returns {name: public file, name_secret: secret file,
    "authorized": the folder}."""
    out: dict[str, Path] = {}
    for name in names:
        out[name], out[name + "_secret"] = create_keys(folder / "keys", name)
    allowed = folder / "authorized"
    allowed.mkdir()
    (allowed / f"{authorized}.key").write_bytes(out[authorized].read_bytes())
    out["authorized"] = allowed
    return out


def load_keys(secret_file: str | Path) -> KeyPair:
    """One side's key pair from its `.key_secret` file. Raises ConfigError saying what to do."""
    path = Path(secret_file)
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot read the secret key {path}: {exc}; make one with `haptics keys create`"
        ) from exc
    if secret is None:
        raise ConfigError(
            f"{path} holds no secret key (is it the public '.key' file?); pass the '.key_secret'"
        )
    return KeyPair(public, secret)


def load_public(public_file: str | Path) -> bytes:
    """A peer's public key from its `.key` file. Raises ConfigError saying what to do."""
    path = Path(public_file)
    try:
        public, _ = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot read the public key {path}: {exc}; ask the peer for its '.key' file"
        ) from exc
    return public


def start_authenticator(
    ctx: zmq.Context[Any], authorized_dir: str | Path
) -> ThreadAuthenticator:
    """Accept CurveZMQ clients of this context only if their public key is in `authorized_dir`.

    Stop it with `.stop()` before the context terminates. Raises ConfigError when the folder
    holds no public key (nobody could connect).
    """
    require_curve()
    folder = Path(authorized_dir)
    if not folder.is_dir() or not any(folder.glob("*.key")):
        raise ConfigError(
            f"{folder} holds no authorized public key ('.key' file): copy the peer's public key "
            "there"
        )
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve(domain="*", location=str(folder))
    return auth


def secure_server(sock: zmq.Socket[Any], own: KeyPair) -> None:
    """Make `sock` (before bind) a CurveZMQ server with our keys."""
    sock.setsockopt(zmq.CURVE_SECRETKEY, own.secret)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, own.public)
    sock.setsockopt(zmq.CURVE_SERVER, 1)


def secure_client(sock: zmq.Socket[Any], own: KeyPair, server_public: bytes) -> None:
    """Make `sock` (before connect) a CurveZMQ client of the server with `server_public`."""
    sock.setsockopt(zmq.CURVE_SECRETKEY, own.secret)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, own.public)
    sock.setsockopt(zmq.CURVE_SERVERKEY, server_public)


_REFUSED: dict[int, str] = {
    zmq.EVENT_HANDSHAKE_FAILED_AUTH: (
        "the peer refused our key: give it our public key ('.key' file) for its "
        "authorized-keys folder"
    ),
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: (
        "the CurveZMQ handshake failed: the peer's public key is not the one we were given, "
        "or the peer does not use CurveZMQ"
    ),
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: (
        "the CurveZMQ handshake failed: the peer's public key is not the one we were given"
    ),
}


def watch_handshake(sock: zmq.Socket[Any]) -> zmq.Socket[Any]:
    """Start watching `sock`'s handshakes (call before connect); pass the result to
    `handshake_result`."""
    events = (
        zmq.EVENT_HANDSHAKE_SUCCEEDED
        | zmq.EVENT_HANDSHAKE_FAILED_AUTH
        | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
        | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    )
    return sock.get_monitor_socket(events)


def handshake_result(monitor: zmq.Socket[Any], timeout_s: float) -> str | None:
    """None once a handshake succeeded; otherwise why it failed (or timed out), for the user.

    Closes the monitor.
    """
    deadline = time.monotonic() + timeout_s
    reason = f"no CurveZMQ handshake within {timeout_s:g} s: is the peer running and reachable?"
    try:
        while (left := deadline - time.monotonic()) > 0:
            if not monitor.poll(int(left * 1000) + 1):
                break
            event = recv_monitor_message(monitor)["event"]
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                return None
            if event in _REFUSED:
                reason = _REFUSED[event]
                break
        return reason
    finally:
        monitor.close(0)
