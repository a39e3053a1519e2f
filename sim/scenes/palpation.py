"""Palpation: a soft tissue block with a stiffer inclusion (a "tumour") hidden under it.

Geometry (world frame, metres): the block's top surface is z = 0, 10 cm × 10 cm × 4 cm. The
inclusion is a sphere whose position, radius and stiffness are drawn from the seed, and kept
as ground truth in the manifest. The tool is a 3 mm sphere moved kinematically.

Force, each tick: pressing on the top surface, the tool is the flat palpation probe of the
simulated tactile array and its normal force comes from the same tissue model the array's
pressure frames come from (`sim.tactile`: a Boussinesq slab with a stiff spherical
inclusion whose modulus is `modulus_ratio` times the tissue's, drawn from the seed in
`inclusion_modulus_ratio_range`), tabulated once at `build()` (`ProbeForceMap`) and read
each tick in a few µs. So the force over the inclusion rises smoothly as the probe passes
over it (the pressure bump is blurred by the inclusion's depth), and the array's summed
taxel force equals it. Plus tissue damping along the normal while in contact. On the
block's sides (contact normal not up), KV(depth) along the contact normal as before.

State kept between ticks: only whether the tool was in contact (`sim.scenes.probe`); the
force is a function of the tool's position and the sample's velocity, so a repeated sample
(the loop reuses the previous one when a new sample is late) renders the same force again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import random
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from haptics.errors import SceneError
from haptics.loop.scene import Contact, Vec3
from sim.instruments.rcm import RcmConfig
from sim.scenes.probe import ContactEdges, Probe, instrumented, left_contact
from sim.tactile import Inclusion as TactileInclusion
from sim.tactile import ProbeForceMap, TactileArray, TactileArrayConfig, slab_for_stiffness
from sim.tissue.kelvin_voigt import kelvin_voigt_force
from sim.visuals import (
    HIDDEN,
    INCLUSION,
    NO_PRESS,
    TISSUE,
    Bodies,
    Instrument,
    Press,
    Stratum,
    TissueView,
    instrument_or_none,
    probe,
    tip_of,
)
from sim.world import World

BLOCK_HALF_EXTENTS_M = (0.05, 0.05, 0.02)
VIEW_HALF_WIDTH_M = 0.04  # the picture shows the middle 8 cm of the block (camera only)


class PalpationConfig(BaseModel):
    instrument: RcmConfig | None = Field(
        None, description="the tool as a surgical instrument through a fixed entry point"
    )
    seed: int = 0
    tissue_stiffness_n_per_m: float = Field(300.0, gt=0)
    tissue_damping_ns_per_m: float = Field(1.0, ge=0)
    inclusion_stiffness_range_n_per_m: tuple[float, float] = (1200.0, 2000.0)
    inclusion_damping_ns_per_m: float = Field(2.0, ge=0)
    inclusion_damping_onset_m: float = Field(
        0.0005,
        ge=0,
        description="the inclusion's damping builds up over this squeeze, so its force "
        "starts continuously when the tool comes within `cushion_m` (no event marks it)",
    )
    inclusion_radius_range_m: tuple[float, float] = (0.006, 0.010)
    inclusion_top_depth_range_m: tuple[float, float] = (0.004, 0.006)
    cushion_m: float = Field(
        0.005, gt=0, description="tissue between tool and inclusion that transmits force"
    )
    tool_radius_m: float = Field(0.003, gt=0)
    inclusion_modulus_ratio_range: tuple[float, float] = Field(
        (8.0, 18.0), description="inclusion modulus / tissue modulus (tumours: 8 to 18)"
    )


class Inclusion(BaseModel):
    center_m: tuple[float, float, float]
    radius_m: float
    stiffness_n_per_m: float


def force_map_cache_dir() -> Path:
    """Where built force maps are kept: $HAPTICS_CACHE or ~/.cache/haptics, /force-maps."""
    root = os.environ.get("HAPTICS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "haptics"
    )
    return Path(root) / "force-maps"


def cached_force_map(config: TactileArrayConfig, inclusion: TactileInclusion) -> ProbeForceMap:
    """The array's force map over `inclusion`: built once (one to several seconds, which
    the loop's start-up would otherwise pay at every session) and kept in
    `force_map_cache_dir()` under a hash of everything it depends on. A cache that cannot be
    read or written is ignored (the map is built)."""
    key = json.dumps(
        {"array": config.model_dump(mode="json"), "inclusion": inclusion.model_dump(
            mode="json"), "format": 1},
        sort_keys=True,
    )
    path = force_map_cache_dir() / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        data = json.loads(path.read_text())
        return ProbeForceMap(
            inclusion,
            float(data["spacing_m"]),
            float(data["base_n_per_m"]),
            tuple(tuple(float(v) for v in row) for row in data["table"]),
        )
    built = TactileArray(config).force_map(inclusion)  # the model: only on a cache miss
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({
            "spacing_m": built.spacing_m, "base_n_per_m": built.base_n_per_m,
            "table": built.table,
        }))
        os.replace(tmp, path)
    return built


def draw_modulus_ratio(cfg: PalpationConfig) -> float:
    """The inclusion's modulus ratio for `cfg.seed`, from its own stream of the seed (the
    position, radius and stiffness `draw_inclusion` gives stay what they were)."""
    return random.Random(f"{cfg.seed}:modulus-ratio").uniform(*cfg.inclusion_modulus_ratio_range)


def draw_inclusion(cfg: PalpationConfig) -> Inclusion:
    """The inclusion for `cfg.seed`: same seed, same tumour (ground truth is reproducible)."""
    rng = random.Random(cfg.seed)
    radius = rng.uniform(*cfg.inclusion_radius_range_m)
    top = rng.uniform(*cfg.inclusion_top_depth_range_m)
    # on the palpation path (y within ±4 mm) so the scripted operator meets it
    x = rng.uniform(-0.015, 0.015)
    y = rng.uniform(-0.003, 0.003)
    return Inclusion(
        center_m=(x, y, -(top + radius)),
        radius_m=radius,
        stiffness_n_per_m=rng.uniform(*cfg.inclusion_stiffness_range_n_per_m),
    )


class PalpationScene:
    name = "palpation"

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.cfg = PalpationConfig(**(config or {}))
        self.inclusion = draw_inclusion(self.cfg)
        self.modulus_ratio = draw_modulus_ratio(self.cfg)
        self.tactile_config = TactileArrayConfig(
            tissue=slab_for_stiffness(self.cfg.tissue_stiffness_n_per_m)
        )
        self._tactile: TactileArray | None = None
        self.tactile_inclusion = TactileInclusion(
            center_m=self.inclusion.center_m,
            radius_m=self.inclusion.radius_m,
            modulus_ratio=self.modulus_ratio,
        )
        self.force_map: ProbeForceMap | None = None
        self.world: World | None = None
        self._probe: Probe | None = None
        self._edges = ContactEdges()
        self._view: TissueView | None = None
        self._probe_look: Instrument | None = None

    def build(self) -> None:
        probe = self._probe = Probe(
            BLOCK_HALF_EXTENTS_M, self.cfg.tool_radius_m, self.cfg.instrument
        )
        self.world, self.block, self.tool = probe.world, probe.block, probe.tool
        self.inc = probe.world.sphere(self.inclusion.radius_m, self.inclusion.center_m)
        if self.force_map is None:  # before the loop goes real-time
            self.force_map = cached_force_map(self.tactile_config, self.tactile_inclusion)

    @property
    def tactile(self) -> TactileArray:
        """The scene's tactile array (its model built on first use, not at every start-up)."""
        if self._tactile is None:
            self._tactile = TactileArray(self.tactile_config)
        return self._tactile

    @instrumented
    def step(self, tool: Vec3, tool_velocity: Vec3, dt_s: float) -> Contact:
        probe = self._probe
        assert probe is not None, "build() first"
        fx = fy = fz = 0.0
        depth, (nx, ny, nz) = probe.touch(tool)
        contact = depth > 0.0
        inc = self.inclusion
        force_map = self.force_map
        assert force_map is not None, "build() first"
        if contact:
            # The normal points from the block towards the tool: the tissue pushes the tool
            # along it; depth grows when the tool moves against it.
            rate = -(tool_velocity[0] * nx + tool_velocity[1] * ny + tool_velocity[2] * nz)
            if nz > 0.7:  # the top surface: the flat probe on the tactile model
                f = force_map.normal_force_n(tool[0], tool[1], tool[2])
                f = max(0.0, f + self.cfg.tissue_damping_ns_per_m * rate)  # never pulls
                fz = f
            else:  # the block's sides
                f = kelvin_voigt_force(
                    depth,
                    rate,
                    self.cfg.tissue_stiffness_n_per_m,
                    self.cfg.tissue_damping_ns_per_m,
                )
                fx, fy, fz = nx * f, ny * f, nz * f
        events = self._edges.update(contact)
        if not contact:
            return left_contact(events)
        lateral = math.hypot(tool[0] - inc.center_m[0], tool[1] - inc.center_m[1])
        return Contact(
            True,
            depth,
            (fx, fy, fz),
            math.sqrt(fx * fx + fy * fy + fz * fz),
            0,
            lateral < inc.radius_m,
            events,
        )

    def build_visuals(self, truth: bool = False) -> dict[str, Any]:
        """Camera only: the tissue block and the probe; `truth` cuts the block away through
        the inclusion's centre and shows the inclusion. Returns the framing: oblique from
        the front, over the palpation lines."""
        probe_world = self._probe
        if probe_world is None:
            raise SceneError("palpation scene: build() before build_visuals()")
        client = probe_world.world.client
        bodies = Bodies(client)
        bodies.paint(probe_world.block, HIDDEN)
        bodies.paint(self.inc, INCLUSION if truth else HIDDEN)
        half = VIEW_HALF_WIDTH_M
        front = self.inclusion.center_m[1] if truth else -half
        strata = [Stratum("tissue", 2 * BLOCK_HALF_EXTENTS_M[2], TISSUE)]
        self._view = TissueView(
            client, strata, (-half, half), (front, half), 2 * BLOCK_HALF_EXTENTS_M[2], 2.5e-3
        )
        self._probe_look = instrument_or_none(
            probe_world, lambda: probe(bodies, self.cfg.tool_radius_m)
        )
        if truth:
            return {
                "target_m": (0.0, front, -0.008),
                "distance_m": 0.13,
                "yaw_deg": 0.0,
                "pitch_deg": -28.0,
            }
        return {
            "target_m": (0.0, 0.0, -0.004),
            "distance_m": 0.11,
            "yaw_deg": 0.0,
            "pitch_deg": -40.0,
        }

    def update_visuals(self) -> None:
        """Camera only: place the probe at the tool; dent the surface under it."""
        probe_world, view, look = self._probe, self._view, self._probe_look
        if probe_world is None or view is None or look is None:
            return
        r = self.cfg.tool_radius_m
        tip = tip_of(probe_world.world.client, probe_world.tool, r)
        look.place(tip)
        depth = -tip[2]
        # a ball pushed in by d touches a disc of radius √(2rd − d²), at most r
        a = math.sqrt(max(0.0, 2 * r * min(depth, r) - min(depth, r) ** 2))
        view.press(Press(tip[0], tip[1], depth, max(a, 0.3 * r)) if depth > 0 else NO_PRESS)

    def describe(self) -> dict[str, Any]:
        return {
            "scene": self.name,
            "config": self.cfg.model_dump(),
            "ground_truth": {
                "inclusion": {**self.inclusion.model_dump(), "modulus_ratio": self.modulus_ratio},
                "tissue_surface_z_m": 0.0,
            },
        }

    def operator_script(self) -> list[tuple[float, Vec3]]:
        """Approach, press, palpate across the inclusion on two lines, retract."""
        x0, x1, dz = -0.030, 0.030, -0.010  # the hand aims 10 mm deep; tissue pushes back
        return [
            (0.00, (x0, -0.004, 0.020)),
            (0.12, (x0, -0.004, 0.004)),
            (0.20, (x0, -0.004, dz)),
            (0.48, (x1, -0.004, dz)),
            (0.54, (x1, 0.004, dz)),
            (0.82, (x0, 0.004, dz)),
            (0.90, (x0, 0.004, 0.004)),
            (1.00, (x0, 0.004, 0.020)),
        ]

    def close(self) -> None:
        """Disconnect from pybullet (idempotent)."""
        if self._probe is not None:
            self._probe.close()
            self._probe = self.world = None
            self._view = self._probe_look = None
