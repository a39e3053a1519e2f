from collections.abc import Iterator

import pytest

from haptics.loop.scene import load_scene, scene_names
from sim.scenes.palpation import PalpationConfig, PalpationScene, draw_inclusion


@pytest.fixture
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
    cx, cy, _ = scene.inclusion.center_m
    over = scene.step((cx, cy, -0.004), (0.0, 0.0, 0.0), 1e-3)
    away = scene.step((0.04, -0.04, -0.004), (0.0, 0.0, 0.0), 1e-3)
    assert over.inclusion
    assert over.force[2] > 1.5 * away.force[2]


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
    assert PalpationScene({"seed": 7}).describe()["ground_truth"]["inclusion"] == a.model_dump()
