"""Every scene runs as a real session from the CLI; needle and cutting raise their events,
and force really flows while the tool is in contact (not only stays low)."""

import json
from pathlib import Path

import numpy as np
import pytest

from haptics.session.reading import open_session

from .conftest import LOOP_RATE_HZ, haptics

pytestmark = pytest.mark.integration


def _session(root: Path) -> Path:
    return next(p for p in root.iterdir() if (p / "manifest.json").exists())


def _max_force_in_contact(session: Path) -> float:
    """The largest force the loop commanded (N) on a tick where the tool touched tissue."""
    t = open_session(session).arrays("telemetry")
    force = np.sqrt(t["fx"] ** 2 + t["fy"] ** 2 + t["fz"] ** 2)
    touching = t["contact"] > 0
    assert touching.sum() > 500, "the tool barely touched the tissue"
    return float(force[touching].max())


def _run_and_show(tmp_path: Path, *args: str) -> dict:  # type: ignore[type-arg]
    done = haptics("run", *args, "--record", str(tmp_path), "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    shown = haptics("sessions", "show", str(_session(tmp_path)), "--json", cwd=tmp_path)
    return json.loads(shown.stdout)  # type: ignore[no-any-return]


def test_needle_inserts_through_three_layers_and_retracts(tmp_path: Path) -> None:
    s = _run_and_show(tmp_path, "--scene", "needle", "--duration", "15")
    assert s["events"]["puncture"] == 3
    assert s["loss"]["state"]["fraction"] >= 0.999
    assert LOOP_RATE_HZ[0] < s["loop"]["rate_hz"] < LOOP_RATE_HZ[1]
    assert s["events"]["contact_end"] >= 1  # it came back out
    assert _max_force_in_contact(_session(tmp_path)) > 0.5  # skin punctures at 1.5 N


def test_cutting_starts_and_ends_a_cut(tmp_path: Path) -> None:
    s = _run_and_show(tmp_path, "--scene", "cutting", "--duration", "8")
    assert s["events"]["cut_start"] >= 1 and s["events"]["cut_end"] >= 1
    assert LOOP_RATE_HZ[0] < s["loop"]["rate_hz"] < LOOP_RATE_HZ[1]
    assert _max_force_in_contact(_session(tmp_path)) > 1.0  # the blade breaks in at 2 N


def test_scene_config_and_safety_policy_files(tmp_path: Path) -> None:
    scene = tmp_path / "palpation.toml"
    scene.write_text("[palpation]\nseed = 11\ntissue_stiffness_n_per_m = 250.0\n")
    policy = tmp_path / "safety.toml"
    policy.write_text("max_force_n = 1.0\n")
    s = _run_and_show(
        tmp_path, "--duration", "4", "--scene-config", str(scene), "--safety", str(policy)
    )
    assert s["max_force_n"] <= 1.0 + 1e-9
    assert _max_force_in_contact(_session(tmp_path)) > 0.9  # it pressed up to the clamp
    manifest = json.loads((_session(tmp_path) / "manifest.json").read_text())
    assert manifest["scene"]["config"]["seed"] == 11
    assert manifest["scene"]["config"]["tissue_stiffness_n_per_m"] == 250.0
    assert manifest["loop"]["safety"]["max_force_n"] == 1.0


def test_a_bad_config_file_says_which_key(tmp_path: Path) -> None:
    scene = tmp_path / "bad.toml"
    scene.write_text("[palpation]\nstifness = 3\n")
    done = haptics(
        "run", "--duration", "1", "--no-record", "--scene-config", str(scene), cwd=tmp_path
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = [x for x in done.stderr.splitlines() if not x.startswith("pybullet build time")]
    assert lines == [  # one message (beside the banner pybullet prints on import)
        f"error: [palpation] in {scene}: unknown key 'stifness'; allowed keys: cushion_m, "
        "inclusion_damping_ns_per_m, inclusion_damping_onset_m, inclusion_modulus_ratio_range, "
        "inclusion_radius_range_m, inclusion_stiffness_range_n_per_m, "
        "inclusion_top_depth_range_m, instrument, seed, tissue_damping_ns_per_m, "
        "tissue_stiffness_n_per_m, tool_radius_m"
    ]
