"""Scene parameters from TOML: examples load, unknown keys and bad values are clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from haptics.errors import ConfigError
from haptics.loop.scene import load_scene
from sim.scenes.config import SCENE_CONFIGS, load_scene_params, load_scene_tables

EXAMPLES = Path(__file__).resolve().parents[2] / "sim" / "scenes" / "examples"


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "scene.toml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("scene", sorted(SCENE_CONFIGS))
def test_examples_load_document_the_defaults_and_build_the_scene(scene: str) -> None:
    params = load_scene_params(EXAMPLES / f"{scene}.toml")
    config = SCENE_CONFIGS[scene]
    assert config(**params) == config(), "the example documents the defaults"
    # instrument: an optional table, absent by default (TOML has no null)
    assert set(params) >= set(config.model_fields) - {"seed", "operator_depth_m", "instrument"}
    instance = load_scene(scene)(params)
    assert instance.cfg == config()


def test_values_from_the_file_reach_the_scene(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "[needle]\nlateral_stiffness_n_per_m = 800.0\ninsertion_point_m = [0.01, -0.01]\n",
    )
    params = load_scene_params(p)
    scene = load_scene("needle")(params)
    assert scene.cfg.lateral_stiffness_n_per_m == 800.0
    assert scene.cfg.insertion_point_m == (0.01, -0.01)


def test_unknown_key_names_the_key_and_the_allowed_ones(tmp_path: Path) -> None:
    p = _write(tmp_path, "[needle]\nlateral_stifness_n_per_m = 800.0\n")
    with pytest.raises(ConfigError) as info:
        load_scene_params(p)
    msg = str(info.value)
    assert "'lateral_stifness_n_per_m'" in msg and "[needle]" in msg
    assert "lateral_stiffness_n_per_m" in msg and "friction_velocity_m_s" in msg


def test_unknown_key_in_a_nested_table(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        '[[needle.layers]]\nname = "gel"\nthickness_m = 0.01\nlinear_n_per_m = 100.0\n'
        "quadratic_n_per_m2 = 0.0\npuncture_force_n = 1.0\nfriction = 3.0\n",
    )
    with pytest.raises(ConfigError) as info:
        load_scene_params(p)
    msg = str(info.value)
    assert "layers.0.friction" in msg and "friction_n_per_m" in msg


def test_invalid_value_names_the_field(tmp_path: Path) -> None:
    p = _write(tmp_path, "[cutting]\nrecut_fraction = 1.5\n")
    with pytest.raises(ConfigError, match="recut_fraction"):
        load_scene_params(p)
    p = _write(tmp_path, '[palpation]\ntissue_stiffness_n_per_m = "stiff"\n')
    with pytest.raises(ConfigError, match="tissue_stiffness_n_per_m"):
        load_scene_params(p)


def test_unknown_scene_table_and_keys_outside_tables(tmp_path: Path) -> None:
    p = _write(tmp_path, "[suturing]\nthread = 1\n")
    with pytest.raises(ConfigError, match=r"suturing.*needle"):
        load_scene_params(p)
    p = _write(tmp_path, "seed = 3\n")
    with pytest.raises(ConfigError, match="outside a scene table"):
        load_scene_params(p)


def test_choosing_a_table(tmp_path: Path) -> None:
    p = _write(tmp_path, "[needle]\nseed = 1\n\n[cutting]\nseed = 2\n")
    assert load_scene_tables(p) == {"needle": {"seed": 1}, "cutting": {"seed": 2}}
    assert load_scene_params(p, "cutting") == {"seed": 2}
    with pytest.raises(ConfigError, match="say which scene"):
        load_scene_params(p)
    with pytest.raises(ConfigError, match=r"no \[palpation\] table"):
        load_scene_params(p, "palpation")


def test_unreadable_or_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_scene_params(tmp_path / "missing.toml")
    p = _write(tmp_path, "[needle\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_scene_params(p)
