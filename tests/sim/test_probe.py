"""The scenes' shared preamble: tool placement, depth against the block, contact edges."""

from __future__ import annotations

import pytest

from haptics.loop.scene import NO_CONTACT
from haptics.wire.messages import EVENT_CONTACT_END, EVENT_CONTACT_START
from sim.scenes.probe import NO_TOUCH, ContactEdges, Probe, left_contact


def test_the_tool_tip_depth_is_measured_against_the_top_face() -> None:
    probe = Probe((0.05, 0.05, 0.02), 0.003)
    try:
        assert probe.touch((0.0, 0.0, 0.002)) == NO_TOUCH, "above the surface: no touch"
        depth, normal = probe.touch((0.01, -0.02, -0.004))
        assert depth == pytest.approx(0.004, abs=1e-6)
        assert normal == pytest.approx((0.0, 0.0, 1.0))
        inclusion = probe.world.sphere(0.005, (0.0, 0.0, -0.015))
        probe.touch((0.0, 0.0, -0.004))  # tool sphere centre at z = −1 mm
        assert probe.near(inclusion, 0.002) is None, "the tool sphere is 6 mm away"
        touch = probe.near(inclusion, 0.01)
        assert touch is not None and touch.depth_m == pytest.approx(-0.006, abs=1e-6)
    finally:
        probe.close()
        probe.close()  # idempotent


def test_contact_edges_mark_start_and_end_once() -> None:
    edges = ContactEdges()
    assert [edges.update(c) for c in (False, True, True, False, False, True)] == [
        0,
        EVENT_CONTACT_START,
        0,
        EVENT_CONTACT_END,
        0,
        EVENT_CONTACT_START,
    ]


def test_leaving_contact_answers_zero_force_with_the_edge() -> None:
    assert left_contact(0) is NO_CONTACT
    out = left_contact(EVENT_CONTACT_END)
    assert not out.contact and out.force == (0.0, 0.0, 0.0) and out.events == EVENT_CONTACT_END
