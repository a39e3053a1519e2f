"""The relay's hold times (pure): delay with jitter, loss as a resend's wait or a drop, stalls,
order kept; and the ZMTP framing the drop model reads."""

from __future__ import annotations

import pytest

from haptics.errors import ConfigError
from haptics.runtime.relay import (
    Relay,
    RelayConfig,
    ZmtpFrames,
    hold_until,
    is_message_frame,
    stall_end,
)


def test_delay_jitter_and_loss() -> None:
    cfg = RelayConfig(rtt_ms=50.0, jitter=0.1, loss=0.5, rto_ms=200.0)
    held = hold_until(cfg, 1.0, 0.0, 0.5, 0.9)
    assert held.due_s == pytest.approx(1.025) and not held.lost
    assert hold_until(cfg, 1.0, 0.0, 0.0, 0.9).due_s == pytest.approx(1.0225)  # −10 %
    assert hold_until(cfg, 1.0, 0.0, 1.0, 0.9).due_s == pytest.approx(1.0275)  # +10 %
    lost = hold_until(cfg, 1.0, 0.0, 0.5, 0.1)
    assert lost.lost and lost.due_s == pytest.approx(1.225)  # waits for the resend


def test_order_is_kept_behind_a_held_chunk() -> None:
    cfg = RelayConfig(rtt_ms=20.0)
    assert hold_until(cfg, 1.0, 1.3, 0.5, 0.9).due_s == 1.3


def test_the_relay_stays_on_loopback() -> None:
    with pytest.raises(ConfigError, match="loopback"):
        Relay(RelayConfig(listen="10.0.0.1:5801"))
    with pytest.raises(ConfigError, match="host:port"):
        Relay(RelayConfig(target="nowhere"))


def test_drop_loss_adds_no_wait() -> None:
    cfg = RelayConfig(rtt_ms=50.0, loss=0.5, loss_mode="drop")
    lost = hold_until(cfg, 1.0, 0.0, 0.5, 0.1)
    assert lost.lost and lost.due_s == pytest.approx(1.025)  # the caller drops it


def test_a_stall_holds_until_its_end_once_or_periodically() -> None:
    once = RelayConfig(stall_ms=250.0, stall_after_s=4.0)
    assert stall_end(once, 3.9) is None
    assert stall_end(once, 4.0) == pytest.approx(4.25)
    assert stall_end(once, 4.2) == pytest.approx(4.25)
    assert stall_end(once, 4.25) is None and stall_end(once, 6.1) is None
    every = once.model_copy(update={"stall_every_s": 2.0})
    assert stall_end(every, 6.1) == pytest.approx(6.25)
    assert stall_end(every, 7.0) is None
    assert stall_end(RelayConfig(), 4.1) is None  # no stall configured


def _frame(body: bytes, command: bool = False) -> bytes:
    flags = 0x04 if command else 0x00
    if len(body) > 255:
        return bytes([flags | 0x02]) + len(body).to_bytes(8, "big") + body
    return bytes([flags, len(body)]) + body


def test_zmtp_frames_are_cut_whole_across_reads() -> None:
    greeting = bytes(64)
    hello = _frame(b"\x05HELLO" + bytes(20), command=True)
    message = _frame(b"\x07MESSAGE" + bytes(300))  # long size
    short = _frame(b"\x07MESSAGE" + bytes(10))
    stream = greeting + hello + message + short
    frames = ZmtpFrames()
    pieces: list[bytes] = []
    for i in range(0, len(stream), 7):  # arbitrary read boundaries
        pieces.extend(frames.feed(stream[i : i + 7]))
    assert b"".join(pieces) == stream and frames.buffer == b""
    assert pieces[-3:] == [hello, message, short]  # whole frames after the greeting's bytes
    assert [is_message_frame(p) for p in pieces[-3:]] == [False, True, True]
    assert not any(is_message_frame(p) for p in pieces[:-3])  # the greeting always passes
