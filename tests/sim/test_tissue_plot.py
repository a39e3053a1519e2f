"""Plots: every registered model renders to a non-empty PNG."""

from __future__ import annotations

from pathlib import Path

import pytest

from haptics.errors import ConfigError
from sim.tissue import MODELS
from sim.tissue.plot import plot_model


@pytest.mark.parametrize("name", sorted(MODELS))
def test_plot_model_writes_a_png(name: str, tmp_path: Path) -> None:
    out = plot_model(name, tmp_path / "plots" / f"{name}.png")
    assert out.exists() and out.stat().st_size > 10_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_unknown_model_raises(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        plot_model("jelly", tmp_path / "x.png")
