"""Replay takes the loop configuration a session ran with from its manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from haptics.errors import SessionError
from haptics.loop.safety import SafetyPolicy
from haptics.loop.teleop import Mapping
from haptics.runtime.replay import recorded_loop
from haptics.session.manifest import Manifest, write_manifest
from haptics.session.reading import open_session


def _session(root: Path, loop: dict[str, Any]) -> Path:
    root.mkdir()
    write_manifest(root, Manifest(loop=loop, scene={"scene": "palpation"}))
    return root


def test_the_recorded_rate_mapping_and_policy_are_used(tmp_path: Path) -> None:
    mapping = Mapping(motion_scale=0.5, offset_m=(0.01, 0.0, 0.0), camera_yaw_deg=90.0)
    policy = SafetyPolicy(max_force_n=3.0)
    path = _session(
        tmp_path / "s",
        {"rate_hz": 500.0, "mapping": mapping.model_dump(), "safety": policy.model_dump()},
    )
    assert recorded_loop(open_session(path)) == (500.0, mapping, policy, [])


def test_a_manifest_without_them_gets_the_defaults_and_says_so(tmp_path: Path) -> None:
    path = _session(tmp_path / "s", {"rate_hz": 1000.0})
    assert recorded_loop(open_session(path)) == (
        1000.0, Mapping(), SafetyPolicy(), ["mapping", "safety"]
    )  # fmt: skip


@pytest.mark.parametrize(
    "loop",
    [
        {"rate_hz": 1000.0, "mapping": {"motion_scale": -1.0}},
        {"rate_hz": 1000.0, "safety": {"no_such_limit": 1.0}},
        {"rate_hz": 0.0},
        {"rate_hz": "fast"},
    ],
)
def test_a_broken_loop_section_is_refused_with_what_to_do(
    tmp_path: Path, loop: dict[str, Any]
) -> None:
    with pytest.raises(SessionError, match=r"--default-loop|not > 0"):
        recorded_loop(open_session(_session(tmp_path / "s", loop)))
