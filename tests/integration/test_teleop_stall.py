"""A link that stalls (what TCP does after a retransmission timeout: ≥ 200 ms on Linux) and a
link that loses messages outright, on the real processes, tcp, CurveZMQ and the relay, through
the same code path `haptics bench teleop --link` runs (`haptics.bench.teleop_link.press`).

* a 250 ms stall while the operator presses on tissue: the operator's force is zero from the
  30 ms watchdog until the link is back, and starts again from zero through the ramp (after a
  stall longer than the follower loop's 50 ms input watchdog it stays off while the tool is in
  tissue: decision 0006); the follower's tool holds still while the link is silent and while
  it re-anchors under the clutch after (no jump);
* the relay drops 2 % of the CurveZMQ messages (its "drop" loss model): CurveZMQ takes the
  gap (no message is refused as bad), and the session runs on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import haptics
from haptics.bench.teleop_link import LinkBenchParams, press, stall_figures
from haptics.runtime.link_ports import REANCHOR_SAMPLES
from haptics.wire.messages import BUTTON_CLUTCH, FLAG_ARMED, FLAG_ENGAGING

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

    # the follower: nothing published while stalled, the tool held still; back, the first
    # samples carry the clutch bit and the tool still holds (re-anchored: no jump)
    s = haptics.open_session(run["session"])
    tel, state = s.arrays("telemetry"), s.arrays("state")
    t, z, host = tel["wake_ns"], tel["tool_z"], state["host_time_ns"]
    gaps = np.flatnonzero(np.diff(host) > 150_000_000)
    assert gaps.size >= 1
    for g in gaps:
        silent = (t > host[g] + 5_000_000) & (t < host[g + 1])
        assert np.ptp(z[silent]) < 1e-6, float(np.ptp(z[silent]))
        clutched = state["buttons"][g + 1 : g + 1 + REANCHOR_SAMPLES] & BUTTON_CLUTCH
        if g + 1 + REANCHOR_SAMPLES >= host.size:
            continue  # the session ended in this gap
        assert np.all(clutched), state["buttons"][g + 1 : g + 1 + REANCHOR_SAMPLES]
        anchored = (t >= host[g + 1]) & (t < host[g + REANCHOR_SAMPLES - 4])
        held = z[(t > host[g + 1] - 50_000_000) & (t < host[g + REANCHOR_SAMPLES - 4])]
        assert anchored.any() and np.ptp(held) < 1e-6, float(np.ptp(held))
