"""The relay's hold times (pure): delay with jitter, loss as a resend's wait, order kept."""

from __future__ import annotations

import pytest

from haptics.errors import ConfigError
from haptics.runtime.relay import Relay, RelayConfig, hold_until


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
