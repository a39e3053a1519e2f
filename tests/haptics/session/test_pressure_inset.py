"""The pressure-map inset the camera draws into video frames (haptics.session.pressure_inset),
and the camera's side of it: a real conflated ZeroMQ subscription to a tactile stream."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import zmq

from haptics.errors import ConfigError, MessageError
from haptics.session.camera import (
    PressureInset,
    PressureSource,
    backdrop_gradient,
    has_pressure_map,
)
from haptics.session.pressure_inset import draw_pressure_inset, scale_kpa, scale_label
from haptics.wire.messages import STATE, tactile_layout
from haptics.wire.transport import publisher

W, H = 320, 240


def _frame(peak_kpa: float, at: tuple[int, int] = (8, 8)) -> np.ndarray:
    r, c = np.indices((16, 16))
    return 1.0 + peak_kpa * np.exp(-((r - at[0]) ** 2 + (c - at[1]) ** 2) / 8.0)


def _drawn(frame: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    img = backdrop_gradient(W, H).copy()
    box = draw_pressure_inset(img, frame)
    return img, box


def test_the_inset_sits_in_the_bottom_right_corner_and_leaves_the_rest_alone() -> None:
    back = backdrop_gradient(W, H)
    img, (x0, y0, x1, y1) = _drawn(_frame(8.0))
    assert x1 <= W and y1 <= H and x0 > W // 2 and y0 > H // 2  # a corner, not the picture
    assert 40 <= x1 - x0 <= 0.45 * W  # small but readable
    outside = np.ones((H, W), dtype=bool)
    outside[y0:y1, x0:x1] = False
    assert (img[outside] == back[outside]).all()
    assert (img[y0:y1, x0:x1] != back[y0:y1, x0:x1]).any()


def test_the_inset_pixels_follow_the_pressure_frame() -> None:
    low, box = _drawn(_frame(2.0, at=(4, 4)))
    moved, _ = _drawn(_frame(2.0, at=(12, 11)))
    x0, y0, x1, y1 = box
    assert (low[y0:y1, x0:x1] != moved[y0:y1, x0:x1]).any()  # the bump moved: so did pixels
    # the brightest colour (inferno is monotonic in brightness) sits where the bump is, row 0
    # of the map at the bottom of the inset; the text line above and the colour bar at the
    # right are left out
    for peak_at in ((4, 4), (12, 11)):
        img, _ = _drawn(_frame(6.0, at=peak_at))
        bright = img[y0 + 16 : y1, x0 : x1 - 12].astype(int).sum(axis=2)
        cy, cx = np.unravel_index(int(np.argmax(bright)), bright.shape)
        assert (cy < bright.shape[0] / 2) == (peak_at[0] > 8), (peak_at, cy)
        assert (cx > bright.shape[1] / 2) == (peak_at[1] > 8), (peak_at, cx)


def test_the_scale_number_is_written_and_changes_with_the_frames_peak() -> None:
    assert scale_kpa(_frame(8.0)) == 10.0 and scale_label(10.0) == "10kPa"
    assert scale_kpa(_frame(30.0)) == 50.0 and scale_kpa(np.zeros((4, 4))) == 1.0
    assert scale_kpa(np.full((4, 4), np.nan)) == 1.0
    a, (x0, y0, x1, _) = _drawn(_frame(8.0))
    b, _ = _drawn(_frame(30.0))
    text = slice(y0, y0 + 16)  # the line above the map
    assert (a[text, x0:x1] != b[text, x0:x1]).any()
    assert (a[text, x0:x1] == 240).all(axis=2).sum() > 20  # white glyph pixels


def test_nan_taxels_are_grey_not_an_error() -> None:
    frame = _frame(4.0)
    frame[0, :] = np.nan
    img, (x0, y0, x1, y1) = _drawn(frame)
    grey = (img[y0:y1, x0:x1] == 128).all(axis=2)
    assert grey.sum() >= 16  # a row of taxels, at least a pixel each


def test_bad_input_is_a_clear_error_and_the_image_is_untouched() -> None:
    img = backdrop_gradient(W, H).copy()
    before = img.copy()
    with pytest.raises(ConfigError, match="rows × cols"):
        draw_pressure_inset(img, np.zeros(16))
    with pytest.raises(ConfigError, match="uint8"):
        draw_pressure_inset(img.astype(float), _frame(1.0))
    with pytest.raises(ConfigError, match="too small"):
        draw_pressure_inset(np.zeros((20, 20, 3), np.uint8), _frame(1.0))
    assert (img == before).all()


def test_the_camera_draws_the_newest_frame_of_a_real_tactile_stream(tmp_path: Path) -> None:
    layout = tactile_layout(16, 16)
    assert has_pressure_map(layout.to_spec()) and not has_pressure_map(STATE.to_spec())
    endpoint = f"ipc://{tmp_path / 'tactile'}"
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    pub = publisher(ctx, endpoint)
    inset = PressureInset(ctx, PressureSource(endpoint=endpoint, spec=layout.to_spec()))
    try:
        img = backdrop_gradient(W, H).copy()
        inset.draw(img)  # nothing came yet: nothing drawn
        assert (img == backdrop_gradient(W, H)).all() and inset.counts["drawn"] == 0

        def send(frame: np.ndarray) -> None:
            rec = np.zeros((), layout.dtype)
            rec["pressure_kpa"] = frame
            pub.send(layout.from_record(rec))

        def drawn_after(frame: np.ndarray) -> np.ndarray:
            give_up = time.monotonic() + 5.0
            while time.monotonic() < give_up:  # until the subscription is through
                send(frame)
                time.sleep(0.02)
                out = backdrop_gradient(W, H).copy()
                inset.draw(out)
                if inset.newest is not None and np.allclose(inset.newest, frame):
                    return out
            raise AssertionError("the frame never reached the camera's subscription")

        first = drawn_after(_frame(3.0, at=(3, 3)))
        second = drawn_after(_frame(3.0, at=(12, 12)))
        assert (first != second).any()
        pub.send(b"\x04\x01 garbage of the wrong size")
        time.sleep(0.05)
        kept = backdrop_gradient(W, H).copy()
        inset.draw(kept)  # a bad message is counted and the last good map stays
        assert inset.counts["bad_pressure"] == 1 and (kept == second).all()
        with pytest.raises(MessageError, match="pressure_kpa"):
            PressureInset(ctx, PressureSource(endpoint=endpoint, spec=STATE.to_spec()))
    finally:
        inset.close()
        pub.close(0)
        ctx.term()
