import numpy as np
import pytest

from haptics.errors import MessageError
from haptics.wire.messages import (
    COMMAND,
    LAYOUTS,
    STATE,
    TELEMETRY,
    filled_columns,
    layout_version,
)


def test_state_round_trip() -> None:
    values = (7, 123, 456, 0.1, 0.2, 0.3, 1.0, 2.0, 3.0, -1.0, -2.0, -3.0, 5, 1, 6, 7, 89,
              -0.5, -1.5, -2.5)  # fmt: skip
    raw = STATE.pack(*values)
    assert len(raw) == STATE.size
    assert STATE.unpack(raw)[2:] == values


def test_state_v2_adds_the_applied_force_after_the_v1_fields() -> None:
    old = layout_version("state", 1)
    assert old is not None and old.version == 1 and STATE.version == 2
    assert STATE.names[: len(old.names)] == old.names  # v1's fields keep their places
    assert STATE.names[len(old.names) :] == ("afx", "afy", "afz")
    assert layout_version("state", 2) is STATE and layout_version("state", 9) is None
    # a v1 recording's one force reads as the applied force too; nothing to fill for v2
    assert filled_columns("state", 1) == {"afx": "fx", "afy": "fy", "afz": "fz"}
    assert filled_columns("state", 2) == {} and filled_columns("command", 1) == {}
    # a v1 message is not a v2 one
    with pytest.raises(MessageError):
        STATE.unpack(old.make(seq=1))


def test_struct_and_dtype_agree() -> None:
    for layout in LAYOUTS.values():
        assert layout.struct.size == layout.dtype.itemsize
        zeros = [0] * (len(layout.names) - 2)
        arr = layout.to_array([layout.pack(*zeros)])
        assert arr.shape == (1,)
        assert arr["kind"][0] == layout.kind


def test_wrong_kind_or_length_is_refused() -> None:
    raw = COMMAND.pack(1, 1, 0, 0.0, 0.0, 1.0, 0)
    with pytest.raises(MessageError, match="bytes"):
        STATE.unpack(raw)
    forged = bytes([9]) + raw[1:]
    with pytest.raises(MessageError, match="kind/version"):
        COMMAND.unpack(forged)


def test_to_array_drops_foreign_rows() -> None:
    good = [COMMAND.pack(i, i, 0, 0.0, 0.0, float(i), 0) for i in range(5)]
    arr = COMMAND.to_array([*good[:2], b"junk", good[2], bytes([2, 99]) + good[3][2:], good[4]])
    assert list(arr["seq"]) == [0, 1, 2, 4]
    assert np.allclose(arr["fz"], [0.0, 1.0, 2.0, 4.0])


def test_telemetry_has_timing_and_ground_truth_fields() -> None:
    for name in (
        "tick",
        "deadline_ns",
        "wake_ns",
        "compute_ns",
        "contact",
        "depth_m",
        "tissue_force_n",
    ):
        assert name in TELEMETRY.names


def test_make_by_name_and_unknown_fields_refused() -> None:
    raw = COMMAND.make(seq=3, fz=1.5)
    values = dict(zip(COMMAND.names, COMMAND.unpack(raw), strict=True))
    assert values["seq"] == 3 and values["fz"] == 1.5 and values["fx"] == 0.0
    with pytest.raises(MessageError, match="no field"):
        COMMAND.make(nope=1)
