"""Sense-only devices' messages: array layouts, their spec, and the checks before publishing."""

import numpy as np
import pytest

from haptics.devices.device import FeatureSchema, StreamDecl
from haptics.devices.sensor_process import message_problem
from haptics.errors import MessageError
from haptics.wire.messages import Layout, tactile_layout


def _frame(layout: Layout, value: float) -> bytes:
    rec = np.zeros((), layout.dtype)
    rec["seq"], rec["pressure_kpa"] = 7, value
    return layout.from_record(rec)


def test_array_layout_round_trips_through_its_spec_and_a_batch() -> None:
    layout = tactile_layout(16, 16)
    assert layout.size == 2 + 3 * 8 + 4 + 16 * 16 * 4  # header, seq and clocks, flags, 256 f4
    assert Layout.from_spec(layout.to_spec()) == layout
    rows = layout.to_array([_frame(layout, 1.5), _frame(layout, 2.5), b"short"])
    assert rows.shape == (2,) and rows["pressure_kpa"].shape == (2, 16, 16)
    assert rows["pressure_kpa"][1, 3, 4] == 2.5 and rows["seq"].tolist() == [7, 7]
    with pytest.raises(MessageError):
        Layout.from_spec({"name": "x"})
    with pytest.raises(MessageError):
        tactile_layout(0, 16)


def test_wrong_size_wrong_kind_and_nan_frames_are_told_apart() -> None:
    layout = tactile_layout(4, 4)
    good = _frame(layout, 1.0)
    assert message_problem(layout, good) is None
    assert message_problem(layout, good[:-1]) == "bad"
    assert message_problem(layout, _frame(tactile_layout(4, 5), 1.0)) == "bad"
    assert message_problem(layout, bytes([9]) + good[1:]) == "bad"
    assert message_problem(layout, _frame(layout, float("nan"))) == "not_finite"


def test_a_device_that_takes_force_needs_a_force_limit() -> None:
    decl = StreamDecl(name="tactile", layout=tactile_layout(4, 4).to_spec(), rate_hz=200.0)
    sensor = FeatureSchema(
        rate_hz=200, max_force_n=0, max_damping_ns_per_m=0, takes_force=False, streams=[decl]
    )
    assert sensor.streams[0].rate_hz == 200.0
    with pytest.raises(ValueError, match="max_force_n > 0"):
        FeatureSchema(rate_hz=1000, max_force_n=0, max_damping_ns_per_m=0)
