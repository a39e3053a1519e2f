"""Needle insertion: a needle pushed vertically through skin, fat and muscle, then withdrawn.

Geometry (world frame, metres): the tissue block's top surface is z = 0; the block is
20 cm × 20 cm × 12 cm, large enough that, anywhere within ±`MAX_INSERTION_OFFSET_M` of its
centre and down to 60 mm deep, the top face is the face nearest the tip, so pybullet's
penetration depth *is* the tip's depth below the surface. The needle is represented by its
tip, a small sphere moved kinematically; its shaft is implicit along +z above the tip (the
stylus position is the needle tip). The insertion axis is −z: the needle is held vertical.

Force, each tick, from a pybullet collision query and the pure `NeedleInsertion` model
(deflection, puncture, cutting, shaft friction; Okamura et al. 2004), whose state the scene
keeps as a plain value:
- axial (z): the model's force for the tip depth and its rate d(depth)/dt = −v_z; positive
  pushes the needle out, negative (friction on withdrawal) pulls it in;
- lateral (x, y): a needle in tissue cannot move sideways freely. Once the skin is punctured
  the tissue holds the shaft at the entry point with a stiff lateral spring
  (`lateral_stiffness_n_per_m`). The spring is stick-slip: if the operator pushes sideways
  harder than `lateral_max_force_n` the tissue gives way and the anchor slides along with
  the needle, so the lateral force never exceeds that cap (no unbounded force from a long
  sideways pull). The anchor is released when the needle is fully withdrawn.

Events: EVENT_PUNCTURE from the model (once per layer per insertion: punctured layers stay
punctured until the tip is fully withdrawn), EVENT_CONTACT_START / _END when the tip meets /
leaves the surface. `Contact.layer` is the layer the tip presses on or is inside (−1 out).

State kept between ticks: the model's `LayeredState` (puncture depths, deepest depth), the
lateral anchor, and whether the tip was in contact (`sim.scenes.probe`). All three follow
the tip's position, and the model reads the sample's velocity, so a repeated sample (the
loop reuses the previous one when a new sample is late) renders the same force again.

Rendering note (why `friction_velocity_m_s` defaults to 20 mm/s, not the model's 1 mm/s):
below v₀ the model's friction and cutting act as a damper of slope (Σμ·L + c)/v₀ (≈1 N/v₀).
Rendered with the loop's one-tick delay on a ~0.1 kg stylus, a damper is only stable below
about m/T = 100 N·s/m; with v₀ = 1 mm/s (≈1000 N·s/m) the force chatters between ±1 N every
tick (measured offline with the simulated hand; it starts below v₀ ≈ 10 mm/s). 20 mm/s keeps
the slope under ≈75 N·s/m at full depth with the default layers; a lighter real device may
need a larger v₀.
"""

from __future__ import annotations

import math
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from haptics.errors import SceneError
from haptics.loop.scene import Contact, Vec3
from sim.instruments.rcm import RcmConfig
from sim.scenes.probe import ContactEdges, Probe, instrumented, left_contact
from sim.tissue.base import TissueInput
from sim.tissue.layered import INTACT, SKIN_FAT_MUSCLE, Layer, LayeredState
from sim.tissue.needle import NeedleInsertion
from sim.tissue.polynomial_stiffening import PolynomialStiffening
from sim.visuals import (
    HIDDEN,
    NO_PRESS,
    Bodies,
    Instrument,
    Press,
    Stratum,
    TissueView,
    instrument_or_none,
    layer_colour,
    needle,
    tip_of,
)
from sim.world import World

BLOCK_HALF_EXTENTS_M = (0.10, 0.10, 0.06)
MAX_INSERTION_OFFSET_M = 0.04  # insertion points within ±4 cm of the block's centre
# The picture (camera only): a cut-away through the insertion point, the layers drawn to
# this depth, and the dent's contact radius (a needle tip tents the skin wider than its
# 0.5 mm: a visual choice, see sim.visuals).
VIEW_DEPTH_M = 0.045
VIEW_CONTACT_RADIUS_M = 1.5e-3
# Stiffness of the operator's arm the scripted operator is planned for (drivers' HandModel
# default; Hogan's measurements put human arm stiffness at 200–1000 N/m).
OPERATOR_ARM_STIFFNESS_N_PER_M = 400.0


class LayerConfig(BaseModel):
    """One tissue layer with a polynomial pre-puncture stiffness (see `sim.tissue.Layer`).

    Units are in the field names: F = k₁·d + k₂·d² + k₃·d³ before puncture.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    thickness_m: float = Field(gt=0)
    linear_n_per_m: float = Field(ge=0)
    quadratic_n_per_m2: float = Field(ge=0)
    cubic_n_per_m3: float = Field(0.0, ge=0)
    puncture_force_n: float = Field(gt=0)
    cutting_force_n: float = Field(0.0, ge=0)
    friction_n_per_m: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _check_stiffens(self) -> Self:
        if self.linear_n_per_m + self.quadratic_n_per_m2 + self.cubic_n_per_m3 <= 0.0:
            raise ValueError(f"layer {self.name!r} has no stiffness: it could never puncture")
        return self

    def to_layer(self) -> Layer:
        """The `sim.tissue.Layer` this config describes. Raises ConfigError if invalid."""
        return Layer(
            name=self.name,
            thickness_m=self.thickness_m,
            stiffness=PolynomialStiffening(
                self.linear_n_per_m, self.quadratic_n_per_m2, self.cubic_n_per_m3
            ),
            puncture_force_n=self.puncture_force_n,
            cutting_force_n=self.cutting_force_n,
            friction_n_per_m=self.friction_n_per_m,
        )

    @classmethod
    def from_layer(cls, layer: Layer) -> LayerConfig:
        """The config of a library layer; its stiffness must be `PolynomialStiffening`."""
        law = layer.stiffness
        if not isinstance(law, PolynomialStiffening):
            raise TypeError(f"layer {layer.name!r}: only PolynomialStiffening is configurable")
        return cls(
            name=layer.name,
            thickness_m=layer.thickness_m,
            linear_n_per_m=law.linear_n_per_m,
            quadratic_n_per_m2=law.quadratic_n_per_m2,
            cubic_n_per_m3=law.cubic_n_per_m3,
            puncture_force_n=layer.puncture_force_n,
            cutting_force_n=layer.cutting_force_n,
            friction_n_per_m=layer.friction_n_per_m,
        )


def _default_layers() -> tuple[LayerConfig, ...]:
    return tuple(LayerConfig.from_layer(layer) for layer in SKIN_FAT_MUSCLE)


class NeedleConfig(BaseModel):
    """Parameters of the needle scene; units in the field names. Unknown keys are rejected."""

    instrument: RcmConfig | None = Field(
        None, description="the tool as a surgical instrument through a fixed entry point"
    )
    model_config = ConfigDict(extra="forbid")

    seed: int = Field(
        0,
        description="unused (the scene is deterministic); accepted so that "
        "`haptics run --seed` works with every scene",
    )
    layers: tuple[LayerConfig, ...] = Field(
        default_factory=_default_layers, min_length=1, description="outermost first"
    )
    friction_velocity_m_s: float = Field(
        0.02, gt=0, description="v₀ of the model's friction/cutting sign (see module notes)"
    )
    bevel_length_m: float = Field(
        1.0e-3,
        gt=0,
        le=0.01,
        description="the cutting force builds up over this length as the tip enters fresh "
        "tissue beyond the deepest point reached",
    )
    lateral_stiffness_n_per_m: float = Field(
        1000.0, gt=0, description="tissue holding the shaft sideways once inserted"
    )
    lateral_max_force_n: float = Field(
        3.0, gt=0, description="sideways force at which the tissue gives way (anchor slides)"
    )
    tip_radius_m: float = Field(0.0005, gt=0, le=0.005)
    insertion_point_m: tuple[float, float] = Field(
        (0.0, 0.0), description="where the scripted operator inserts (x, y on the surface)"
    )
    operator_depth_m: float | None = Field(
        None,
        gt=0,
        le=0.055,
        description="how deep the scripted operator's hand aims; None: deep enough to "
        "puncture every layer with a 400 N/m arm (see `required_operator_depth_m`)",
    )

    @model_validator(mode="after")
    def _check_point(self) -> Self:
        x, y = self.insertion_point_m
        if not (abs(x) <= MAX_INSERTION_OFFSET_M and abs(y) <= MAX_INSERTION_OFFSET_M):
            raise ValueError(
                f"insertion_point_m {self.insertion_point_m} is off the block's valid region "
                f"(|x|, |y| <= {MAX_INSERTION_OFFSET_M} m)"
            )
        return self


def _deflection_at(layer: Layer, force_n: float) -> float:
    """Deflection (m) at which `layer`'s stiffening law reaches `force_n` (bisection)."""
    lo, hi = 0.0, 1e-3
    while layer.stiffness.force_at(hi) < force_n:
        hi *= 2.0
        if hi > 10.0:
            raise ValueError(f"layer {layer.name!r} never reaches {force_n} N")
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if layer.stiffness.force_at(mid) < force_n:
            lo = mid
        else:
            hi = mid
    return hi


def puncture_depths_m(model: NeedleInsertion) -> list[float]:
    """Quasi-static tip depths (m) at which each layer punctures, outermost first."""
    depths: list[float] = []
    entry = 0.0
    for layer in model.layers:
        depth = entry + _deflection_at(layer, layer.puncture_force_n)
        depths.append(depth)
        entry = depth + layer.thickness_m
    return depths


def required_operator_depth_m(model: NeedleInsertion, margin_m: float = 0.008) -> float:
    """How deep (m) a 400 N/m arm must aim to puncture every layer, plus `margin_m`.

    At layer i's puncture the arm must push with its puncture force plus the full-speed
    friction of the shaft already inside, i.e. aim (that force) / 400 N/m beyond the
    puncture depth.
    """
    need = 0.0
    punctures: tuple[float, ...] = ()
    for layer, depth in zip(model.layers, puncture_depths_m(model), strict=True):
        force = layer.puncture_force_n + model.shaft_friction_n(punctures, depth)
        need = max(need, depth + force / OPERATOR_ARM_STIFFNESS_N_PER_M)
        punctures = (*punctures, depth)
    return need + margin_m


def lateral_spring(
    anchor_x: float, anchor_y: float, x: float, y: float, stiffness: float, max_force: float
) -> tuple[float, float, float, float]:
    """A stick-slip spring in the x-y plane pulling the tool at (x, y) toward an anchor.

    Returns (anchor_x, anchor_y, fx, fy): the force (N) is stiffness·(anchor − tool); if its
    magnitude would exceed `max_force` (N) the anchor slides toward the tool until it equals
    `max_force` (so, while sliding, the force opposes the motion). Positions in m, stiffness
    in N/m. `max_force` <= 0 puts the anchor on the tool (no force). Plain floats.
    """
    dx = anchor_x - x
    dy = anchor_y - y
    stretch = math.sqrt(dx * dx + dy * dy)
    limit = max_force / stiffness
    if stretch > limit:
        if limit <= 0.0:
            return x, y, 0.0, 0.0
        s = limit / stretch
        dx *= s
        dy *= s
        anchor_x = x + dx
        anchor_y = y + dy
    return anchor_x, anchor_y, stiffness * dx, stiffness * dy


class NeedleScene:
    """Needle insertion through skin, fat and muscle, with puncture events per layer."""

    name = "needle"

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        """Validate `config` (NeedleConfig fields). Raises pydantic.ValidationError."""
        self.cfg = NeedleConfig(**(config or {}))
        self.model = NeedleInsertion(
            layers=tuple(layer.to_layer() for layer in self.cfg.layers),
            friction_velocity_m_s=self.cfg.friction_velocity_m_s,
            bevel_length_m=self.cfg.bevel_length_m,
        )
        self.world: World | None = None
        self._probe: Probe | None = None
        self.state: LayeredState = self.model.initial_state()
        self._edges = ContactEdges()
        self._anchored = False
        self._anchor_x = self._anchor_y = 0.0
        self._view: TissueView | None = None
        self._needle: Instrument | None = None

    def build(self) -> None:
        """Create the tissue block and the needle tip in a DIRECT pybullet client."""
        probe = self._probe = Probe(
            BLOCK_HALF_EXTENTS_M, self.cfg.tip_radius_m, self.cfg.instrument
        )
        self.world, self.block, self.tool = probe.world, probe.block, probe.tool

    @instrumented
    def step(self, tool: Vec3, tool_velocity: Vec3, dt_s: float) -> Contact:
        """Move the needle tip to `tool` (m), render axial + lateral force (N) for `dt_s` s."""
        probe = self._probe
        assert probe is not None, "build() first"
        depth = probe.touch(tool).depth_m
        contact = depth > 0.0
        events = self._edges.update(contact)
        if not contact:
            self.state = INTACT
            self._anchored = False
            return left_contact(events)
        # the insertion axis is −z: depth grows as the tip moves down
        self.state, out = self.model.step(self.state, TissueInput(depth, -tool_velocity[2], dt_s))
        fx = fy = 0.0
        if self.state.puncture_depths_m:
            if not self._anchored:  # the skin just gave way: the shaft enters here
                self._anchored = True
                self._anchor_x, self._anchor_y = tool[0], tool[1]
            self._anchor_x, self._anchor_y, fx, fy = lateral_spring(
                self._anchor_x,
                self._anchor_y,
                tool[0],
                tool[1],
                self.cfg.lateral_stiffness_n_per_m,
                self.cfg.lateral_max_force_n,
            )
        else:
            self._anchored = False
        fz = out.force_n
        return Contact(
            True,
            depth,
            (fx, fy, fz),
            math.sqrt(fx * fx + fy * fy + fz * fz),
            out.layer,
            False,
            events | out.events,  # tissue event bits are the telemetry bits
        )

    def build_visuals(self, truth: bool = False) -> dict[str, Any]:
        """Camera only: the layers in a cut-away through the insertion point, the needle's
        shaft and hub; `truth` changes nothing (the layers are the ground truth and always
        shown). Returns the framing: the cut face, seen from the front, a little above."""
        probe = self._probe
        if probe is None:
            raise SceneError("needle scene: build() before build_visuals()")
        bodies = Bodies(probe.world.client)
        bodies.paint(probe.block, HIDDEN)
        x, y = self.cfg.insertion_point_m
        strata = [
            Stratum(layer.name, layer.thickness_m, layer_colour(layer.name, i))
            for i, layer in enumerate(self.cfg.layers)
        ]
        self._view = TissueView(
            probe.world.client,
            strata,
            (x - 0.04, x + 0.04),
            (y, y + 0.03),
            VIEW_DEPTH_M,
            resolution_m=2.0e-3,
        )
        self._needle = instrument_or_none(probe, lambda: needle(bodies))
        return {"target_m": (x, y, -0.012), "distance_m": 0.075, "yaw_deg": 0.0, "pitch_deg": -12.0}

    def update_visuals(self) -> None:
        """Camera only: place the needle at the tip; dent the boundary it presses on."""
        probe, view, inst = self._probe, self._view, self._needle
        if probe is None or view is None or inst is None:
            return
        tip = tip_of(probe.world.client, probe.tool, probe.radius_m)
        inst.place(tip)
        view.press(self.visible_press(tip))

    def visible_press(self, tip: Vec3) -> Press:
        """The dent the picture shows for the tip at `tip`: the boundary of the first intact
        layer, pushed in to the tip while the model says that layer is deflecting (drawn
        layers keep their nominal depths, so the dent reaches exactly the tip)."""
        depth = -tip[2]
        n = self.state.punctured
        if depth <= 0.0 or n >= len(self.cfg.layers):
            return NO_PRESS
        top = sum(layer.thickness_m for layer in self.cfg.layers[:n])
        if depth <= top:
            return NO_PRESS
        return Press(tip[0], tip[1], depth - top, VIEW_CONTACT_RADIUS_M, n)

    def describe(self) -> dict[str, Any]:
        """Config and ground truth: layer stack and quasi-static puncture depths."""
        depths = puncture_depths_m(self.model)
        return {
            "scene": self.name,
            "config": self.cfg.model_dump(),
            "ground_truth": {
                "tissue_surface_z_m": 0.0,
                "insertion_axis": [0.0, 0.0, -1.0],
                "block_half_extents_m": list(BLOCK_HALF_EXTENTS_M),
                "layers": [layer.name for layer in self.cfg.layers],
                "quasi_static_puncture_depths_m": depths,
            },
        }

    def operator_script(self) -> list[tuple[float, Vec3]]:
        """Approach above the insertion point, push through every layer, hold, withdraw."""
        x, y = self.cfg.insertion_point_m
        deep = self.cfg.operator_depth_m or required_operator_depth_m(self.model)
        return [
            (0.00, (x, y, 0.020)),
            (0.08, (x, y, 0.005)),  # approach above the insertion point
            (0.60, (x, y, -deep)),  # insert slowly (~10 mm/s at 15 s): the hand lags
            (0.70, (x, y, -deep)),  # hold
            (0.92, (x, y, 0.010)),  # withdraw above the surface
            (1.00, (x, y, 0.020)),
        ]

    def close(self) -> None:
        """Disconnect from pybullet (idempotent)."""
        if self._probe is not None:
            self._probe.close()
            self._probe = self.world = None
            self._view = self._needle = None
