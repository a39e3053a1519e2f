"""A link that stalls (what TCP does after a retransmission timeout: ≥ 200 ms on Linux) and a
link that loses messages outright, on the real processes, tcp, CurveZMQ and the relay, through
the same code path `haptics bench teleop --link` runs (`haptics.bench.teleop_link.press`).

* a 250 ms stall while the operator presses on tissue: the operator's force is zero from the
  30 ms watchdog until the link is back, starts again from zero through the ramp and comes back
  to what it was; the follower's link holds the tool (held samples, so the follower's loop
  keeps its input and keeps rendering the contact), still while the link is silent, and the
  tool moves on from there after, no faster than the link's speed limit (no jump);
* the relay drops 2 % of the CurveZMQ messages (its "drop" loss model): CurveZMQ takes the
  gap (no message is refused as bad), and the session runs on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import haptics
from haptics.bench.teleop_link import LinkBenchParams, press, stall_figures
from haptics.loop.safety import SAFETY_INPUT_LOST
from haptics.runtime.link_ports import LinkParams
from haptics.wire.messages import FLAG_ARMED, FLAG_ENGAGING, STATUS_LINK_HELD

WATCHDOG_MS = 30.0


def test_a_stalled_link_zeroes_force_and_holds_the_tool_and_dropped_messages_pass(
    tmp_path: Path,
) -> None:
    p = LinkBenchParams(press_s=7.0, loss=0.02, loss_mode="drop", stall_ms=250.0,
                        stall_after_s=3.0, stall_every_s=2.0)  # fmt: skip
    run = press(20.0, True, p, tmp_path)
    assert run["reason"] == "finished"
    op, fl = run["operator"], run["follower"]
    # each link's counts: its stop reply, or its stats just before the stop when the reply
    # never came (`stop_error` says why)
    assert "bad" in op and "bad" in fl, ("no counts from a link", op, fl)

    # dropped messages: missing, never refused
    assert op["bad"] == 0 and fl["bad"] == 0
    assert op["received"] < 0.99 * fl["sent"], (op["received"], fl["sent"])

    # every watchdog trip (the relay's stalls, and any hiccup of a loaded machine) zeroed force
    # until the link was back; back, force starts from zero, through the ramp
    trips = stall_figures(run["op_cmd"], op["events"], WATCHDOG_MS)
    stalls = [s for s in trips if s["silent_ms"] >= 200.0 and (s["force_before_n"] or 0) > 0.2]
    assert stalls, ("no stall while pressing: the test proves nothing", op["events"])
    for s in trips:
        assert s["zero_while_silent"], s
        if "first_force_back_n" in s:  # the last stall may end with the session
            assert s["first_force_back_n"] < 0.05, s
    c = run["op_cmd"]
    ups = [int(e["at_ns"]) for e in op["events"] if e["event"] == "up"][1:]
    assert ups
    for up in ups:  # armed in the first 100 ms back: ramping (the ramp lasts 250 ms)
        near = (c["host_time_ns"] >= up) & (c["host_time_ns"] < up + 100_000_000)
        armed = c["flags"][near & ((c["flags"] & FLAG_ARMED) != 0)]
        assert np.all(armed & FLAG_ENGAGING), up

    # the operator's force comes back after a stall with the tool in tissue: the follower's
    # loop held the tool and kept rendering (before, its input watchdog faded force out and
    # safety re-engaged only below 0.2 N, so force stayed off until the operator lifted off)
    for s_ in stalls:
        if "force_peak_back_n" in s_:
            assert s_["force_peak_back_n"] >= 0.5 * s_["force_before_n"], s_

    # the follower: while the link is down its link republishes the held reference every
    # tick, still, marked held; the loop's input never goes stale, the tool holds still;
    # back, the reference moves on from where it held, never faster than the speed limit
    s = haptics.open_session(run["session"])
    tel, state = s.arrays("telemetry"), s.arrays("state")
    t, z, host = tel["wake_ns"], tel["tool_z"], state["host_time_ns"]
    assert np.all(np.diff(state["seq"].astype(np.int64)) > 0)  # rising: the loop takes each
    held = (state["status"] & STATUS_LINK_HELD) != 0
    assert np.all(state["vz"][held] == 0.0)
    starts = np.flatnonzero(held[1:] & ~held[:-1]) + 1
    ends = np.flatnonzero(held[:-1] & ~held[1:]) + 1  # first sample after each hold
    assert starts.size >= 1, "no held samples: the stalls never reached the follower"
    lost = (tel["safety"] & SAFETY_INPUT_LOST) != 0
    long_holds = 0
    for a in starts:
        b = next((e for e in ends if e > a), None)
        if b is None or host[-1] - host[b] < 500_000_000:
            continue  # the session ended in this hold
        long_holds += host[b - 1] - host[a] > 150_000_000  # a relay stall, not a hiccup
        silent = (t > host[a] + 5_000_000) & (t < host[b])  # empty for a hold of a few ms
        assert not silent.any() or np.ptp(z[silent]) < 1e-6, float(np.ptp(z[silent]))
        assert not np.any(lost[silent]), "the loop lost its input while the link was held"
        back = (host > host[b] - 50_000_000) & (host < host[b] + 500_000_000)
        assert_no_jump(host[back], state["pz"][back])
    assert long_holds >= 1, "no stall-long hold: the test proves nothing"


def assert_no_jump(t_ns: np.ndarray, z: np.ndarray) -> None:
    """The reference the follower's link published moved no faster than its speed limit, one
    link tick at a time (0.1 mm of slack for a tick that ran a little early)."""
    allowed = LinkParams().max_speed_m_per_s * np.diff(t_ns) / 1e9 + 1e-4
    steps = np.abs(np.diff(z))
    assert np.all(steps <= allowed), float((steps - allowed).max())
