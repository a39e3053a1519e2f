"""`haptics sessions plot` on a session with a tactile stream: the contrast trace and the
pressure maps are added; a session without one plots as before."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from matplotlib import colormaps
from matplotlib import image as mpimg

from haptics.cli.main import main
from haptics.errors import SessionError
from haptics.session.manifest import Manifest
from haptics.session.plot import plot_session
from haptics.session.reading import open_session
from haptics.session.recorder import DeclaredStream, RecorderConfig, Recording
from haptics.wire.messages import COMMAND, STATE, TELEMETRY, tactile_layout

PERIOD_NS = 1_000_000
ROWS, COLS = 8, 10


def _tactile_session(root: Path, n: int = 1000) -> Path:
    """n ticks at 1 kHz and a ROWS × COLS tactile frame every 5 ticks; the probe presses
    from a quarter in, with a bump in the frames of the last quarter (a third of the pressed
    frames: the probe's shape, their median, stays flat)."""
    layout = tactile_layout(ROWS, COLS)
    manifest = Manifest(
        loop={"rate_hz": 1000.0},
        device={
            "driver": "simulated",
            "schema": {"rate_hz": 1000.0},
            "sensors": {
                "tactile-sim": {"extra": {"array": {"config": {"grid": {"pitch_m": 0.002}}}}}
            },
        },
        scene={"scene": "palpation"},
    )
    decl = DeclaredStream(endpoint="", spec=layout.to_spec(), rate_hz=200.0, source="tactile-sim")
    cfg = RecorderConfig(
        endpoints={},
        streams={"tactile": decl},
        session_dir=root,
        manifest=manifest,
        reserve_bytes=0,
    )
    rec = Recording(cfg)
    rng = np.random.default_rng(0)
    r, c = np.indices((ROWS, COLS))
    bump = 1.5 * np.exp(-((r - 4) ** 2 + (c - 6) ** 2) / 2.0)
    for i in range(1, n + 1):
        t = 10**9 + i * PERIOD_NS
        contact = int(i > n // 4)
        rec.writers["state"].add(STATE.make(seq=i, device_time_ns=i * PERIOD_NS, host_time_ns=t))
        rec.writers["command"].add(COMMAND.make(seq=i, state_seq=i, host_time_ns=t, fz=1.0))
        rec.writers["telemetry"].add(
            TELEMETRY.make(
                tick=i,
                state_seq=i,
                deadline_ns=t,
                wake_ns=t,
                compute_ns=20_000,
                contact=contact,
                depth_m=0.001 * contact,
                fz=2.0 * contact,
            )
        )
        if i % 5 == 0:
            frame = np.full((ROWS, COLS), 2.0 * contact) + rng.normal(0, 0.05, (ROWS, COLS))
            if i > 3 * n // 4:
                frame += bump
            record = np.zeros((), layout.dtype)
            record["seq"], record["host_time_ns"] = i // 5, t
            record["pressure_kpa"] = frame
            rec.writers["tactile"].add(layout.from_record(record))
        if i % 100 == 0:
            rec.flush()
    rec.flush()
    rec.finish({"published": {"state": n, "command": n, "telemetry": n}, "reason": "finished"})
    return root


def _viridis_pixels(png: Path) -> int:
    """Pixels of a viridis colour (the pressure maps and their colour bar)."""
    rgb = mpimg.imread(png)[..., :3].reshape(-1, 3)
    lut = np.asarray(colormaps["viridis"](np.linspace(0.0, 1.0, 256)))[:, :3]
    colourful = rgb[(rgb.max(axis=1) - rgb.min(axis=1)) > 0.2]  # lines and fills are few
    near = np.zeros(len(colourful), dtype=bool)
    for start in range(0, len(colourful), 4096):
        chunk = colourful[start : start + 4096]
        dist = np.abs(chunk[:, None, :] - lut[None, :, :]).max(axis=-1).min(axis=1)
        near[start : start + 4096] = dist < 0.015
    return int(np.count_nonzero(near))


def test_a_tactile_session_gets_the_contrast_trace_and_the_pressure_maps(
    tmp_path: Path, make_session: Callable[..., Path]
) -> None:
    plain = plot_session(open_session(make_session("plain")), tmp_path / "plain.png")
    session = open_session(_tactile_session(tmp_path / "tactile"))
    with_maps = plot_session(session, tmp_path / "tactile.png")
    h_plain = mpimg.imread(plain).shape[0]
    h_maps = mpimg.imread(with_maps).shape[0]
    assert h_maps > 1.5 * h_plain  # two rows of maps and a trace more
    assert _viridis_pixels(plain) < 500  # a few anti-aliased line pixels at most
    assert _viridis_pixels(with_maps) > 50_000  # four maps and the colour bar
    assert _viridis_pixels(with_maps) > 100 * max(1, _viridis_pixels(plain))


def test_pressure_at_chooses_the_frames_and_needs_a_tactile_stream(
    tmp_path: Path, make_session: Callable[..., Path]
) -> None:
    path = _tactile_session(tmp_path / "tactile")
    out = tmp_path / "at.png"
    assert main(["sessions", "plot", str(path), "-o", str(out), "--pressure-at", "0.2,0.95"]) == 0
    assert out.is_file() and _viridis_pixels(out) > 20_000
    with pytest.raises(SessionError, match="no tactile frames"):
        plot_session(open_session(make_session("plain")), tmp_path / "x.png", pressure_at=[0.5])
    with pytest.raises(SessionError, match="at most"):
        plot_session(open_session(path), tmp_path / "y.png", pressure_at=[0.1] * 9)
    with pytest.raises(SystemExit):
        main(["sessions", "plot", str(path), "--pressure-at", "soon"])
