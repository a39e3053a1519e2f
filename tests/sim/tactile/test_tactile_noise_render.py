"""The taxel noise model (seeded), the PNG renderer and the frame benchmark."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from haptics.errors import ConfigError
from sim.tactile import (
    Inclusion,
    NoiseModel,
    ProbePose,
    TactileModel,
    TaxelGrid,
    detect_frame,
    homogeneous_background,
    render_pressure_png,
)
from sim.tactile.bench import benchmark_frame


def test_noise_is_seeded_and_has_the_asked_spread() -> None:
    noise = NoiseModel(sigma_kpa=0.2, adc_bits=None)
    clean = np.full((64, 64), 10.0)
    a = noise.apply(clean, np.random.default_rng(1))
    b = noise.apply(clean, np.random.default_rng(1))
    c = noise.apply(clean, np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert (a - clean).std() == pytest.approx(0.2, rel=0.05)
    assert clean[0, 0] == 10.0  # input untouched


def test_dead_taxels_are_a_fixed_set() -> None:
    noise = NoiseModel(sigma_kpa=0.0, dead_fraction=0.05, dead_seed=9)
    frame = np.full((16, 16), 3.0)
    out1 = noise.apply(frame, np.random.default_rng(0))
    out2 = noise.apply(frame, np.random.default_rng(1))
    dead = out1 == 0.0
    assert dead.sum() == round(0.05 * 256)
    np.testing.assert_array_equal(dead, out2 == 0.0)
    np.testing.assert_array_equal(dead, noise.dead_mask((16, 16)))


def test_adc_quantises_and_clips() -> None:
    noise = NoiseModel(sigma_kpa=0.0, adc_bits=4, full_scale_kpa=15.0)
    out = noise.apply(np.array([[0.4, 0.6, 7.2, 40.0, -3.0]]), np.random.default_rng(0))
    np.testing.assert_allclose(out, [[0.0, 1.0, 7.0, 15.0, 0.0]])
    assert noise.step_kpa == pytest.approx(1.0)
    assert NoiseModel(adc_bits=None).step_kpa == 0.0


def test_render_writes_a_png(tmp_path: Path) -> None:
    model = TactileModel()
    inc = Inclusion(center_m=(0.004, -0.003, -0.010), radius_m=0.005, modulus_ratio=12.0)
    pose = ProbePose(0.0, 0.0, -0.005)
    clean = model.pressure_frame_kpa(pose, inc)
    noisy = NoiseModel(dead_fraction=0.02).apply(clean, np.random.default_rng(0))
    bg = homogeneous_background(model)
    d = detect_frame(noisy, bg, model.grid, pose)
    out = render_pressure_png(
        [model.pressure_frame_kpa(pose, None), clean, noisy],
        model.grid,
        tmp_path / "frames.png",
        titles=["no inclusion", "inclusion, clean", f"noisy, contrast {d.contrast:.0%}"],
        markers_xy_m=[None, None, d.probe_xy_m],
        suptitle="probe 5 mm deep",
    )
    contrast = render_pressure_png(
        [clean, noisy], model.grid, tmp_path / "contrast.png", background=bg
    )
    for png, panels in ((out, 3), (contrast, 2)):
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width = int.from_bytes(data[16:20], "big")
        height = int.from_bytes(data[20:24], "big")
        assert width > 0.6 * panels * height > 200


def test_render_refuses_bad_frames(tmp_path: Path) -> None:
    grid = TaxelGrid()
    with pytest.raises(ConfigError, match="at least one frame"):
        render_pressure_png([], grid, tmp_path / "x.png")
    with pytest.raises(ConfigError, match="expected"):
        render_pressure_png([np.zeros((3, 3))], grid, tmp_path / "x.png")
    with pytest.raises(ConfigError, match="one per frame"):
        render_pressure_png([np.zeros((16, 16))], grid, tmp_path / "x.png", titles=["a", "b"])


def test_benchmark_reports_frame_time(capsys: pytest.CaptureFixture[str]) -> None:
    out = benchmark_frame(frames=5, grid=TaxelGrid(rows=8, cols=8, pitch_m=0.004))
    assert set(out) >= {"frame_wall", "frame_cpu", "force_map_call_cpu_us"}
    assert "p99_ms" in capsys.readouterr().out  # printed, not asserted on: timing is load
