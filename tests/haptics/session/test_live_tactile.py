"""The live view's pressure map: a frame as block characters (a pure function), the newest
frame from a conflated subscription, and the table row it makes."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import zmq
from rich.console import Console

from haptics.cli.live import MIN_PRESSED, SHADES, LiveStats, TactileFeed, heatmap_lines
from haptics.wire.messages import tactile_layout
from haptics.wire.transport import publisher


def test_a_16_by_16_frame_fits_16_by_8_characters_with_its_peak_where_it_is() -> None:
    frame = np.full((16, 16), 1.0)
    frame[14:16, 0:2] = 8.0  # the peak: top rows (+y), left columns
    lines = heatmap_lines(frame)
    assert len(lines) == 8 and all(len(line) == 16 for line in lines)
    assert lines[0][0] == SHADES[-1]  # the highest row is drawn first
    assert set(lines[-1]) == {SHADES[1]}  # 1 kPa of 8: the faintest shade, not blank
    assert lines[0][5] == SHADES[1]


def test_small_grids_keep_their_size_and_blank_or_broken_taxels_show() -> None:
    frame = np.zeros((4, 6))
    assert heatmap_lines(frame) == [" " * 6] * 4  # no contact: blank, not noise
    frame[1, 2] = np.nan
    frame[3, 5] = 2.0
    lines = heatmap_lines(frame)
    assert lines[0][5] == SHADES[-1] and lines[2][2] == "×"
    assert heatmap_lines(np.zeros(0)) == []
    big = heatmap_lines(np.random.default_rng(0).random((64, 40)), width=10, height=5)
    assert len(big) == 5 and {len(line) for line in big} == {10}


def test_the_feed_keeps_the_newest_frame_and_the_table_shows_it(tmp_path: Path) -> None:
    layout = tactile_layout(16, 16)
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        endpoint = f"ipc://{tmp_path / 'tactile'}"
        pub = publisher(ctx, endpoint)
        feed = TactileFeed.connect(ctx, endpoint, layout, "tactile")
        assert feed.poll() is None
        record = np.zeros((), layout.dtype)
        deadline = time.monotonic() + 10.0
        while feed.frame is None and time.monotonic() < deadline:  # until subscribed
            record["pressure_kpa"] = 1.0
            pub.send(layout.from_record(record))
            time.sleep(0.02)
            feed.poll()
        assert feed.frame is not None
        for value in (2.0, 3.0, 6.5):  # three waiting: only the newest is kept and decoded
            record["pressure_kpa"] = value
            pub.send(layout.from_record(record))
        deadline = time.monotonic() + 10.0
        frame = feed.poll()
        while (frame is None or float(frame.max()) != 6.5) and time.monotonic() < deadline:
            time.sleep(0.02)
            frame = feed.poll()
        assert frame is not None and frame.shape == (16, 16) and float(frame.max()) == 6.5

        stats = LiveStats(period_ns=1_000_000)
        console = Console(record=True, width=100)
        console.print(stats.table(1.0, 5.0, "no tactile"))
        assert "kPa" not in console.export_text()
        stats.watch_tactile([feed])
        console = Console(record=True, width=100)
        console.print(stats.table(1.0, 5.0, "tactile"))
        text = console.export_text()
        assert "max 6.5 kPa" in text and SHADES[-1] * 16 in text
        assert "contrast" not in text  # too few frames in contact yet for the probe's shape

        # pressed flat frames, then one with a bump: the contrast against their shape shows it
        rng = np.random.default_rng(1)
        r, c = np.indices((16, 16))
        bump = 1.0 * np.exp(-((r - 5) ** 2 + (c - 9) ** 2) / 4.0)
        for k in range(MIN_PRESSED + 1):
            record["pressure_kpa"] = (
                2.0 + rng.normal(0.0, 0.05, (16, 16)) + bump * (k == MIN_PRESSED)
            )
            pub.send(layout.from_record(record))
            sent = record["pressure_kpa"].astype(float)
            deadline = time.monotonic() + 10.0
            while time.monotonic() < deadline:  # each one taken before the next is sent
                got = feed.poll()
                if got is not None and np.array_equal(got, sent):
                    break
                time.sleep(0.01)
        contrast = feed.contrast()
        assert contrast is not None and contrast > 0.6
        console = Console(record=True, width=100)
        console.print(stats.table(1.0, 5.0, "tactile"))
        assert f"contrast {contrast:.2f} kPa" in console.export_text()
        feed.close()
        pub.close(0)
    finally:
        ctx.destroy(linger=0)
