"""Cutting: a scalpel presses into a tissue block, breaks in, and is dragged across it.

Geometry (world frame, metres): the block's top surface is z = 0, 20 cm × 20 cm × 8 cm. The
blade's edge is a small sphere moved kinematically (the stylus position is the edge); it is
held vertical, so the normal is +z. The planned cut is a straight path on the surface from
`path_start_m` to `path_end_m`; the `Cutting` model tracks the blade's coordinate along that
path (the projection of the edge onto it, in m from `path_start_m`), so the cut intervals
in its state are positions along the planned path.

Force, each tick, from a pybullet collision query and the pure `Cutting` model, whose state
the scene keeps as a plain value:
- normal (+z): the model's normal force for the edge depth below the surface (a spring until
  the blade breaks in at `cut_start_force_n`, capped at it while cutting);
- tangential (x, y): the model's cut resistance r·G·d, opposing the blade's motion. It is
  rendered as Coulomb friction on a stick-slip proxy: a stiff spring
  (`drag_stiffness_n_per_m`) ties the edge to where the blade sits in the tissue, and the
  proxy slides behind the edge whenever the spring would pull harder than the model's
  resistance. While the blade slides the force is that resistance, directed against the
  lateral velocity. Why not apply −|Fₜ|·v/|v| directly: with the loop's one-tick delay,
  a ~4 N force that flips with the sign of the velocity reverses a 0.1 kg stylus within one
  tick (4 N·1 ms / 0.1 kg = 40 mm/s, more than a drag speed) and chatters at 500 Hz
  (measured offline with the simulated hand); a spring limited by the resistance does not.
  The proxy's cap is the resistance r·G·d itself (`Cutting.drag_resistance_n`; static =
  kinetic: a blade pulled more gently than that stays put, held by the tissue).
  Simplification: the model is 1-D along the planned path, so only motion along the path
  is resisted and extends the cut; motion across it is free. The edge has a length
  (`edge_length_m`, a model parameter): the resistance changes from intact to cut tissue
  over it, so pulling the blade back from the front of its cut lowers the force smoothly.

Events: EVENT_CUT_START when the blade breaks in, EVENT_CUT_END when it leaves the tissue;
EVENT_CONTACT_START / _END at the surface. The cut stays cut: the model state's intervals
(`cut_intervals_m`, `cut_segments_m`) are the ground truth of what was cut; `describe()`
(called at the start of a session) gives the parameters and the planned path.

State kept between ticks: the model's `CuttingState` (pass, cut intervals, and the blade's
path coordinate, handed to the model as a position, not integrated from a velocity), the
proxy's position, and whether the blade was in contact (`sim.scenes.probe`). The model's
tangential velocity is the sample's velocity projected on the path. So a repeated sample
(the loop reuses the previous one when a new sample is late) renders the same force again.
"""

from __future__ import annotations

import math
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from haptics.errors import SceneError
from haptics.loop.scene import Contact, Vec3
from sim.instruments.rcm import RcmConfig
from sim.scenes.needle import OPERATOR_ARM_STIFFNESS_N_PER_M, lateral_spring
from sim.scenes.probe import ContactEdges, Probe, instrumented, left_contact
from sim.tissue.base import TissueInput
from sim.tissue.cutting import Cutting, CuttingState
from sim.visuals import (
    HIDDEN,
    NO_PRESS,
    TISSUE,
    Bodies,
    Incision,
    Instrument,
    Press,
    Stratum,
    TissueView,
    instrument_or_none,
    scalpel,
    tip_of,
)
from sim.world import World

BLOCK_HALF_EXTENTS_M = (0.10, 0.10, 0.04)
MAX_PATH_OFFSET_M = 0.06  # path ends within ±6 cm of the block's centre
VIEW_MARGIN_M = 0.02  # the picture shows the path and this much tissue around it
VIEW_DEPTH_M = 0.03  # how deep the block is drawn (the picture is about the surface)
VIEW_CONTACT_RADIUS_M = 2.0e-3  # how wide the blade dents the surface before it breaks in


class CuttingConfig(BaseModel):
    """Parameters of the cutting scene; units in the field names. Unknown keys are rejected.

    The model fields are those of `sim.tissue.Cutting` (see there for their literature basis).
    """

    instrument: RcmConfig | None = Field(
        None, description="the tool as a surgical instrument through a fixed entry point"
    )
    model_config = ConfigDict(extra="forbid")

    seed: int = Field(
        0,
        description="unused (the scene is deterministic); accepted so that "
        "`haptics run --seed` works with every scene",
    )
    stiffness_n_per_m: float = Field(300.0, ge=0)
    cut_start_force_n: float = Field(2.0, gt=0)
    toughness_j_per_m2: float = Field(500.0, ge=0)
    recut_fraction: float = Field(0.2, gt=0, le=1)
    friction_velocity_m_s: float = Field(1.0e-3, gt=0)
    drag_stiffness_n_per_m: float = Field(
        1000.0, gt=0, description="spring of the stick-slip proxy rendering the cut resistance"
    )
    blade_radius_m: float = Field(0.0005, gt=0, le=0.005)
    edge_length_m: float = Field(
        0.002,
        ge=0,
        le=0.02,
        description="length of the edge in contact, over which the resistance changes "
        "between intact and cut tissue (see sim.tissue.cutting)",
    )
    path_start_m: tuple[float, float] = Field((-0.020, 0.0), description="planned cut, x, y")
    path_end_m: tuple[float, float] = Field((0.020, 0.0), description="planned cut, x, y")
    operator_depth_m: float | None = Field(
        None,
        gt=0,
        le=0.035,
        description="how deep the scripted operator's hand aims; None: deep enough to break "
        "in with a 400 N/m arm (see `required_operator_depth_m`)",
    )

    @model_validator(mode="after")
    def _check_path(self) -> Self:
        (ax, ay), (bx, by) = self.path_start_m, self.path_end_m
        if math.hypot(bx - ax, by - ay) < 1e-3:
            raise ValueError("path_start_m and path_end_m must be at least 1 mm apart")
        for x in (ax, ay, bx, by):
            if not abs(x) <= MAX_PATH_OFFSET_M:
                raise ValueError(
                    f"the planned path must lie within ±{MAX_PATH_OFFSET_M} m of the block's "
                    f"centre, got {self.path_start_m} → {self.path_end_m}"
                )
        return self


def required_operator_depth_m(model: Cutting, margin_m: float = 0.0025) -> float:
    """How deep (m) a 400 N/m arm must aim for the blade to break in, plus `margin_m`.

    The blade breaks in at depth F_start / k, where the arm must push with F_start.
    """
    force = model.cut_start_force_n
    start = force / model.stiffness_n_per_m if model.stiffness_n_per_m > 0 else 0.0
    return start + force / OPERATOR_ARM_STIFFNESS_N_PER_M + margin_m


class CuttingScene:
    """A scalpel cutting a tissue block: press until it breaks in, drag, lift."""

    name = "cutting"

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        """Validate `config` (CuttingConfig fields). Raises pydantic.ValidationError."""
        cfg = self.cfg = CuttingConfig(**(config or {}))
        self.model = Cutting(
            stiffness_n_per_m=cfg.stiffness_n_per_m,
            cut_start_force_n=cfg.cut_start_force_n,
            toughness_j_per_m2=cfg.toughness_j_per_m2,
            recut_fraction=cfg.recut_fraction,
            friction_velocity_m_s=cfg.friction_velocity_m_s,
            edge_length_m=cfg.edge_length_m,
        )
        (ax, ay), (bx, by) = cfg.path_start_m, cfg.path_end_m
        length = math.hypot(bx - ax, by - ay)
        self.path_length_m = length
        self._ux, self._uy = (bx - ax) / length, (by - ay) / length
        self.world: World | None = None
        self._probe: Probe | None = None
        self.state: CuttingState = self.model.initial_state()
        self._edges = ContactEdges()
        self._proxy_x = self._proxy_y = 0.0
        self._view: TissueView | None = None
        self._blade: Instrument | None = None
        self._incision: Incision | None = None

    def build(self) -> None:
        """Create the tissue block and the blade edge in a DIRECT pybullet client."""
        probe = self._probe = Probe(
            BLOCK_HALF_EXTENTS_M, self.cfg.blade_radius_m, self.cfg.instrument
        )
        self.world, self.block, self.tool = probe.world, probe.block, probe.tool

    def path_coordinate_m(self, x: float, y: float) -> float:
        """Position (m) of the point (x, y) projected onto the planned path, from its start."""
        ax, ay = self.cfg.path_start_m
        return (x - ax) * self._ux + (y - ay) * self._uy

    @instrumented
    def step(self, tool: Vec3, tool_velocity: Vec3, dt_s: float) -> Contact:
        """Move the blade edge to `tool` (m), render normal + drag force (N) for `dt_s` s."""
        probe = self._probe
        assert probe is not None, "build() first"
        x, y = tool[0], tool[1]
        depth = probe.touch(tool).depth_m
        # The model gets the blade's path coordinate as a position and the sample's velocity
        # along the path: a repeated sample repeats both.
        along = tool_velocity[0] * self._ux + tool_velocity[1] * self._uy
        self.state, out = self.model.step(
            self.state,
            TissueInput(depth, -tool_velocity[2], dt_s, along, self.path_coordinate_m(x, y)),
        )
        contact = depth > 0.0
        events = out.events | self._edges.update(contact)
        if not contact:
            self._proxy_x, self._proxy_y = x, y
            return left_contact(events)
        self._proxy_x, self._proxy_y, fx, fy = lateral_spring(
            self._proxy_x,
            self._proxy_y,
            x,
            y,
            self.cfg.drag_stiffness_n_per_m,
            self.model.drag_resistance_n(self.state, depth),
        )
        fz = out.force_n
        return Contact(
            True,
            depth,
            (fx, fy, fz),
            math.sqrt(fx * fx + fy * fy + fz * fz),
            out.layer,
            False,
            events,  # tissue event bits are the telemetry bits
        )

    def build_visuals(self, truth: bool = False) -> dict[str, Any]:
        """Camera only: the tissue around the planned path, the scalpel, and what has been
        cut so far as a dark incision (`truth` changes nothing: the cut is always shown).
        Returns the framing: oblique from the front, over the path's middle."""
        probe = self._probe
        if probe is None:
            raise SceneError("cutting scene: build() before build_visuals()")
        client = probe.world.client
        bodies = Bodies(client)
        bodies.paint(probe.block, HIDDEN)
        (ax, ay), (bx, by) = self.cfg.path_start_m, self.cfg.path_end_m
        m = VIEW_MARGIN_M
        x = (min(ax, bx) - m, max(ax, bx) + m)
        y = (min(ay, by) - m, max(ay, by) + m)
        depth = VIEW_DEPTH_M
        strata = [Stratum("tissue", depth, TISSUE)]
        self._view = TissueView(client, strata, x, y, depth, 2.5e-3)
        self._incision = Incision(bodies, self.cfg.path_start_m, self.cfg.path_end_m)
        self._blade = instrument_or_none(probe, lambda: scalpel(bodies, (self._ux, self._uy)))
        cx, cy = (ax + bx) / 2, (ay + by) / 2
        return {
            "target_m": (cx, cy, -0.002),
            "distance_m": 0.09,
            "yaw_deg": 0.0,
            "pitch_deg": -38.0,
        }

    def update_visuals(self) -> None:
        """Camera only: place the scalpel; show the incision; dent the surface under the
        blade until it breaks in (then the tissue is cut open, not dented)."""
        probe, view, blade, incision = self._probe, self._view, self._blade, self._incision
        if probe is None or view is None or blade is None or incision is None:
            return
        tip = tip_of(probe.world.client, probe.tool, self.cfg.blade_radius_m)
        blade.place(tip)
        incision.show(self.state.cut_intervals)
        depth = -tip[2]
        pressing = depth > 0.0 and not self.state.cutting
        view.press(Press(tip[0], tip[1], depth, VIEW_CONTACT_RADIUS_M) if pressing else NO_PRESS)

    @property
    def cut_intervals_m(self) -> tuple[tuple[float, float], ...]:
        """What has been cut so far, as intervals of the path coordinate (m), sorted."""
        return self.state.cut_intervals

    @property
    def cut_segments_m(self) -> list[tuple[tuple[float, float], tuple[float, float]]]:
        """What has been cut so far, as (start, end) points (x, y in m) on the surface."""
        ax, ay = self.cfg.path_start_m
        ux, uy = self._ux, self._uy
        return [
            ((ax + a * ux, ay + a * uy), (ax + b * ux, ay + b * uy))
            for a, b in self.state.cut_intervals
        ]

    def describe(self) -> dict[str, Any]:
        """Config and the planned cut (what was actually cut is in `cut_intervals_m`)."""
        start = self.model.cut_start_force_n
        k = self.model.stiffness_n_per_m
        return {
            "scene": self.name,
            "config": self.cfg.model_dump(),
            "ground_truth": {
                "tissue_surface_z_m": 0.0,
                "block_half_extents_m": list(BLOCK_HALF_EXTENTS_M),
                "planned_path_m": [list(self.cfg.path_start_m), list(self.cfg.path_end_m)],
                "planned_path_length_m": self.path_length_m,
                "cut_start_depth_m": start / k if k > 0 else 0.0,
            },
        }

    def operator_script(self) -> list[tuple[float, Vec3]]:
        """Approach the path's start, press until the blade breaks in, drag along, lift."""
        (ax, ay), (bx, by) = self.cfg.path_start_m, self.cfg.path_end_m
        deep = self.cfg.operator_depth_m or required_operator_depth_m(self.model)
        return [
            (0.00, (ax, ay, 0.015)),
            (0.10, (ax, ay, 0.003)),  # approach above the start of the path
            (0.30, (ax, ay, -deep)),  # press: the blade breaks in on the way down
            (0.36, (ax, ay, -deep)),  # hold
            (0.78, (bx, by, -deep)),  # drag along the path (~10 mm/s at 10 s)
            (0.84, (bx, by, -deep)),  # hold
            (0.94, (bx, by, 0.005)),  # lift out
            (1.00, (bx, by, 0.015)),
        ]

    def close(self) -> None:
        """Disconnect from pybullet (idempotent)."""
        if self._probe is not None:
            self._probe.close()
            self._probe = self.world = None
            self._view = self._blade = self._incision = None
