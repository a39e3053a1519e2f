import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from haptics.loop.scene import load_scene, scene_names
from sim.scenes.palpation import (
    PalpationConfig,
    PalpationScene,
    cached_force_map,
    draw_inclusion,
    draw_modulus_ratio,
)


@pytest.fixture(scope="module")  # the force map takes a second or more to build
def scene() -> Iterator[PalpationScene]:
    s = PalpationScene({"seed": 3})
    s.build()
    yield s
    s.close()


def test_registered_through_entry_points() -> None:
    assert "palpation" in scene_names()
    assert load_scene("palpation") is PalpationScene


def test_no_force_above_the_surface(scene: PalpationScene) -> None:
    c = scene.step((0.0, 0.0, 0.002), (0.0, 0.0, 0.0), 1e-3)
    assert not c.contact and c.force == (0.0, 0.0, 0.0)


def test_tissue_pushes_up_in_proportion_to_depth(scene: PalpationScene) -> None:
    far = (0.04, 0.04)
    f2 = scene.step((*far, -0.002), (0.0, 0.0, 0.0), 1e-3)
    f4 = scene.step((*far, -0.004), (0.0, 0.0, 0.0), 1e-3)
    assert f2.contact and f2.force[2] > 0
    assert f4.force[2] == pytest.approx(2 * f2.force[2], rel=1e-3)
    assert f2.force[2] == pytest.approx(scene.cfg.tissue_stiffness_n_per_m * 0.002, rel=1e-3)
    assert not f2.inclusion


def test_inclusion_feels_stiffer(scene: PalpationScene) -> None:
    # The flat probe (32 mm square) averages the inclusion's bump over its face, so the total
    # force rises by a few per cent, not by the tactile image's contrast (sim.tactile).
    cx, cy, _ = scene.inclusion.center_m
    over = scene.step((cx, cy, -0.004), (0.0, 0.0, 0.0), 1e-3)
    away = scene.step((0.04, -0.04, -0.004), (0.0, 0.0, 0.0), 1e-3)
    assert over.inclusion
    assert over.force[2] > 1.02 * away.force[2]


def test_force_over_the_inclusion_rises_smoothly(scene: PalpationScene) -> None:
    cx, cy, _ = scene.inclusion.center_m
    xs = [cx - 0.03 + 0.0005 * i for i in range(121)]
    fz = [scene.step((x, cy, -0.005), (0.0, 0.0, 0.0), 1e-3).force[2] for x in xs]
    steps = [abs(b - a) / a for a, b in itertools.pairwise(fz)]
    assert max(steps) < 0.005  # no switch at the inclusion's edge: < 0.5 % per 0.5 mm
    # a rigid flat probe: the bump is a plateau while the inclusion is under its face
    # (slightly higher under its edges), centred on the inclusion
    base = min(fz)
    centre = sum(x * (f - base) for x, f in zip(xs, fz, strict=True)) / sum(f - base for f in fz)
    assert abs(centre - cx) < 0.001
    assert max(fz) > 1.02 * base


def test_force_is_the_tactile_arrays_summed_pressure(scene: PalpationScene) -> None:
    from sim.tactile import ProbePose, frame_force_n

    cx, cy, _ = scene.inclusion.center_m
    for x, y in ((cx, cy), (cx + 0.006, cy - 0.002), (0.03, 0.02)):
        fz = scene.step((x, y, -0.005), (0.0, 0.0, 0.0), 1e-3).force[2]
        frame = scene.tactile.clean_frame(ProbePose(x, y, -0.005), scene.tactile_inclusion)
        summed = frame_force_n(frame, scene.tactile.config.grid)
        assert fz == pytest.approx(summed, rel=0.005)


def test_modulus_ratio_is_drawn_from_the_seed_and_recorded(scene: PalpationScene) -> None:
    from sim.tactile import Inclusion

    truth = scene.describe()["ground_truth"]["inclusion"]
    assert 8.0 <= truth["modulus_ratio"] <= 18.0
    assert Inclusion.from_ground_truth(truth) == scene.tactile_inclusion
    again = PalpationScene({"seed": 3}).describe()["ground_truth"]["inclusion"]
    assert again == truth


def test_damping_resists_pressing_not_release(scene: PalpationScene) -> None:
    pressing = scene.step((0.04, 0.04, -0.003), (0.0, 0.0, -0.05), 1e-3)
    still = scene.step((0.04, 0.04, -0.003), (0.0, 0.0, 0.0), 1e-3)
    assert pressing.force[2] > still.force[2]
    releasing_fast = scene.step((0.04, 0.04, -0.0001), (0.0, 0.0, 10.0), 1e-3)
    assert releasing_fast.force[2] >= 0.0  # never pulls the tool in


def test_contact_events(scene: PalpationScene) -> None:
    scene.step((0.04, 0.04, 0.01), (0.0, 0.0, 0.0), 1e-3)
    start = scene.step((0.04, 0.04, -0.001), (0.0, 0.0, 0.0), 1e-3)
    end = scene.step((0.04, 0.04, 0.01), (0.0, 0.0, 0.0), 1e-3)
    assert start.events and end.events and start.events != end.events


def test_ground_truth_is_reproducible_from_the_seed() -> None:
    a, b = draw_inclusion(PalpationConfig(seed=7)), draw_inclusion(PalpationConfig(seed=7))
    c = draw_inclusion(PalpationConfig(seed=8))
    assert a == b and a != c
    truth = PalpationScene({"seed": 7}).describe()["ground_truth"]["inclusion"]
    assert truth == {**a.model_dump(), "modulus_ratio": draw_modulus_ratio(PalpationConfig(seed=7))}


def test_force_map_is_cached_and_reads_back_the_same(
    scene: PalpationScene, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HAPTICS_CACHE", str(tmp_path))
    built = cached_force_map(scene.tactile_config, scene.tactile_inclusion)
    assert len(list((tmp_path / "force-maps").glob("*.json"))) == 1
    again = cached_force_map(scene.tactile_config, scene.tactile_inclusion)
    assert again == built
    other = cached_force_map(
        scene.tactile_config, scene.tactile_inclusion.model_copy(update={"modulus_ratio": 9.0})
    )
    assert other.table != built.table  # the key holds the inclusion
