"""What the camera draws: coloured tissue whose surface dents where the tool presses, a
cut-away face showing the layers, and the instruments.

Only the camera process builds these bodies (through a scene's `build_visuals`, then
`update_visuals` once per frame); the loop's world never has them, so the 1 kHz tick is
untouched. The physical bodies a scene uses for contact (the block, the tool sphere, an
inclusion) are made invisible or recoloured here; their collision geometry is unchanged.

Tissue picture (`TissueView`): a box of strata (e.g. skin, fat, muscle), each its own colour.
- The top surface is a pybullet heightfield, replaced in place every frame
  (`replaceHeightfieldIndex`: no new shape, no memory growth; ~1 ms for 50 × 25 points)
  with the indentation profile around the tool (`surface_indentation_m`).
- The front face (the cut-away plane, or the block's front) is a row of thin column bodies
  per stratum, moved every frame so the strata's boundaries follow the same profile: the
  cross-section shows the layers bending under the tool.
- The other faces are static slabs. pybullet keeps every visual shape it ever created, so
  nothing here creates a shape per frame: bodies are moved, shapes are reused.

The indentation profile is a picture, not the force model: the rigid flat punch on an
elastic half-space (Boussinesq; Johnson, Contact Mechanics, 1985, §3.8), w(r) = d for r ≤ a
and (2d/π)·asin(a/r) beyond, with the depth d the scene's model says the surface is pushed
in and a contact radius a chosen per scene so the dent reads at 320 × 240. Below the surface
the dent fades with depth (`depth_decay_m`), so deeper layers bend less.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pybullet

Rgba = tuple[float, float, float, float]
Vec3 = tuple[float, float, float]

# Colours (linear RGBA). Tissue in warm tones, instruments in a cool steel blue that matches
# the camera's tint of `scene.tool` (haptics.session.camera), so nothing is confused.
SKIN: Final[Rgba] = (0.93, 0.72, 0.60, 1.0)
FAT: Final[Rgba] = (0.98, 0.86, 0.42, 1.0)
MUSCLE: Final[Rgba] = (0.66, 0.14, 0.16, 1.0)
TISSUE: Final[Rgba] = (0.90, 0.56, 0.55, 1.0)  # a single soft tissue (palpation, cutting)
INSTRUMENT: Final[Rgba] = (0.20, 0.55, 0.95, 1.0)
HANDLE: Final[Rgba] = (0.12, 0.20, 0.35, 1.0)
INCLUSION: Final[Rgba] = (0.20, 0.85, 0.30, 1.0)
INCISION: Final[Rgba] = (0.35, 0.02, 0.05, 1.0)
TABLE: Final[Rgba] = (0.16, 0.18, 0.22, 1.0)
BACKDROP: Final[Rgba] = (0.30, 0.34, 0.40, 1.0)
HIDDEN: Final[Rgba] = (1.0, 1.0, 1.0, 0.0)  # TinyRenderer skips a body with alpha 0
LAYER_COLOURS: Final[dict[str, Rgba]] = {"skin": SKIN, "fat": FAT, "muscle": MUSCLE}
_FRONT_GAP_M: Final = 1.0e-4  # strata columns stand this far apart in y (no z-fighting)
_PARKED: Final[Vec3] = (0.0, 0.0, -10.0)  # where unused bodies wait, far below the view


def layer_colour(name: str, index: int) -> Rgba:
    """The colour of a tissue layer by name (skin, fat, muscle), else by its position."""
    cycle = (SKIN, FAT, MUSCLE)
    return LAYER_COLOURS.get(name.lower(), cycle[index % len(cycle)])


def surface_indentation_m(
    r_m: np.ndarray[Any, Any], depth_m: float, contact_radius_m: float
) -> np.ndarray[Any, Any]:
    """Downward displacement (m, ≥ 0) of the surface at distances `r_m` from the tool.

    Rigid flat punch of radius a on an elastic half-space pushed in by `depth_m`:
    w = d for r ≤ a, (2d/π)·asin(a/r) beyond. Zero everywhere for depth ≤ 0. Pure.
    """
    r = np.asarray(r_m, dtype=np.float64)
    if depth_m <= 0.0:
        return np.zeros_like(r)
    a = max(contact_radius_m, 1e-6)
    ratio = np.minimum(1.0, a / np.maximum(r, 1e-12))
    return np.where(r <= a, depth_m, depth_m * (2.0 / math.pi) * np.arcsin(ratio))


@dataclass(frozen=True)
class Stratum:
    """One tissue layer as drawn: its name, thickness (m) and colour."""

    name: str
    thickness_m: float
    rgba: Rgba


@dataclass(frozen=True)
class Press:
    """Where the tool dents the tissue this frame.

    x_m, y_m: the tool on the surface; depth_m: how far the dented boundary is pushed in;
    from_stratum: the first boundary that is dented (0 = the surface; a needle that has
    punctured the skin dents the fat's boundary instead); contact_radius_m: a of the profile.
    """

    x_m: float
    y_m: float
    depth_m: float
    contact_radius_m: float
    from_stratum: int = 0


NO_PRESS: Final = Press(0.0, 0.0, 0.0, 1e-3)


def _texture(client: int) -> int:
    """A plain near-white texture with faint grain (replaces pybullet's checkerboard)."""
    folder = Path(tempfile.mkdtemp(prefix="haptics-tex-"))
    rng = np.random.default_rng(0)
    img = (240 + rng.integers(0, 14, size=(64, 64, 1))).repeat(3, axis=2).astype(np.uint8)
    path = folder / "grain.tga"  # uncompressed TGA: pybullet's loader (stb_image) reads it
    header = bytes([0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 64, 0, 24, 0])
    path.write_bytes(header + img[:, :, ::-1].tobytes())
    try:
        return int(pybullet.loadTexture(str(path), physicsClientId=client))
    finally:
        path.unlink(missing_ok=True)
        folder.rmdir()


class Bodies:
    """Visual-only bodies on one pybullet client: made once, then moved (never re-made)."""

    def __init__(self, client: int) -> None:
        self.client = client

    def shape(self, kind: int, rgba: Rgba, **size: Any) -> int:
        """A visual shape (pybullet GEOM_* kind with its size keywords) in a colour."""
        return int(
            pybullet.createVisualShape(kind, rgbaColor=rgba, physicsClientId=self.client, **size)
        )

    def body(
        self, shape: int, position: Vec3 = _PARKED, orientation: Sequence[float] = (0, 0, 0, 1)
    ) -> int:
        """A massless body showing `shape` (no collision shape: it never touches anything)."""
        return int(
            pybullet.createMultiBody(
                0.0,
                -1,
                shape,
                basePosition=position,
                baseOrientation=orientation,
                physicsClientId=self.client,
            )
        )

    def box(self, half: Vec3, rgba: Rgba, position: Vec3 = _PARKED) -> int:
        return self.body(self.shape(pybullet.GEOM_BOX, rgba, halfExtents=half), position)

    def cylinder(self, radius: float, length: float, rgba: Rgba) -> int:
        return self.body(self.shape(pybullet.GEOM_CYLINDER, rgba, radius=radius, length=length))

    def move(self, body: int, position: Vec3, orientation: Sequence[float] = (0, 0, 0, 1)) -> None:
        pybullet.resetBasePositionAndOrientation(
            body, position, orientation, physicsClientId=self.client
        )

    def paint(self, body: int, rgba: Rgba) -> None:
        """Recolour an existing body (e.g. hide a contact-only body with `HIDDEN`)."""
        pybullet.changeVisualShape(body, -1, rgbaColor=rgba, physicsClientId=self.client)


class _Field:
    """A heightfield body over x × y whose heights are replaced in place (no new shape).

    pybullet centres a heightfield on the middle of the height range it was created with
    and keeps that centre on replacement, so it is created spanning [lo, hi] once and its
    heights are clipped to that range.
    """

    def __init__(
        self,
        client: int,
        xs: np.ndarray[Any, Any],
        ys: tuple[float, float] | np.ndarray[Any, Any],
        lo: float,
        hi: float,
        rgba: Rgba,
        texture: int,
    ) -> None:
        self.client, self.lo, self.hi = client, lo, hi
        self.nx, self.ny = len(xs), len(ys)
        x0, x1, y0, y1 = float(xs[0]), float(xs[-1]), float(ys[0]), float(ys[-1])
        self.scale = [(x1 - x0) / (self.nx - 1), (y1 - y0) / (self.ny - 1), 1.0]
        heights = np.zeros(self.nx * self.ny)
        heights[0], heights[-1] = lo, hi
        self.shape = pybullet.createCollisionShape(
            pybullet.GEOM_HEIGHTFIELD,
            meshScale=self.scale,
            heightfieldData=heights.tolist(),
            numHeightfieldRows=self.nx,
            numHeightfieldColumns=self.ny,
            physicsClientId=client,
        )
        self.body = int(
            pybullet.createMultiBody(
                0.0,
                self.shape,
                basePosition=((x0 + x1) / 2, (y0 + y1) / 2, (lo + hi) / 2),
                physicsClientId=client,
            )
        )
        # a picture only: keep it out of every contact query
        pybullet.setCollisionFilterGroupMask(self.body, -1, 0, 0, physicsClientId=client)
        pybullet.changeVisualShape(
            self.body, -1, rgbaColor=rgba, textureUniqueId=texture, physicsClientId=client
        )

    def set(self, heights: np.ndarray[Any, Any]) -> None:
        """New heights (m), shape (ny, nx): row j at the j-th y, x fastest."""
        data = np.clip(heights, self.lo, self.hi).ravel()
        pybullet.createCollisionShape(
            pybullet.GEOM_HEIGHTFIELD,
            meshScale=self.scale,
            heightfieldData=data.tolist(),
            numHeightfieldRows=self.nx,
            numHeightfieldColumns=self.ny,
            replaceHeightfieldIndex=self.shape,
            physicsClientId=self.client,
        )


class TissueView:
    """A block of strata whose top surface and front face dent where the tool presses.

    x_m, y_m: the drawn extent (min, max) on the surface; the front face stands at y_m[0]
    (put it through the insertion point for a cut-away). depth_m: how deep the block is
    drawn (the last stratum fills what the others leave). resolution_m: grid spacing.
    depth_decay_m: how fast the dent fades with depth below the dented boundary.
    sides: draw the side face at x_m[0], at x_m[1] (only those the camera sees: every face
    costs render time).
    """

    def __init__(
        self,
        client: int,
        strata: Sequence[Stratum],
        x_m: tuple[float, float],
        y_m: tuple[float, float],
        depth_m: float,
        resolution_m: float = 2.0e-3,
        max_indent_m: float = 0.02,
        depth_decay_m: float = 0.02,
        sides: tuple[bool, bool] = (False, False),
    ) -> None:
        self.bodies = b = Bodies(client)
        self.client = client
        tops = np.concatenate([[0.0], np.cumsum([s.thickness_m for s in strata])])[:-1]
        self.strata, self.tops = tuple(strata), tops
        self.depth_m, self.decay_m, self.max_indent_m = depth_m, depth_decay_m, max_indent_m
        (x0, x1), (y0, y1) = x_m, y_m
        self.nx = max(3, round((x1 - x0) / resolution_m) + 1)
        self.ny = max(3, round((y1 - y0) / resolution_m) + 1)
        self.xs = np.linspace(x0, x1, self.nx)
        self.ys = np.linspace(y0, y1, self.ny)
        self.gx, self.gy = np.meshgrid(self.xs, self.ys)  # row-major, x fastest (pybullet's)
        self.front_y = y0
        texture = _texture(client)
        self.top = _Field(client, self.xs, self.ys, -max_indent_m, 0.0, strata[0].rgba, texture)
        # front face: per stratum a strip from its top boundary down to the next, as a
        # two-row heightfield (rows 0.05 mm apart in y): a vertical face whose edges dent
        self.strips = [
            _Field(
                client,
                self.xs,
                (y0 - _FRONT_GAP_M, y0),
                -depth_m - max_indent_m,
                0.0,
                s.rgba,
                texture,
            )
            for s in strata
        ]
        # static side faces where asked (the back face is never in view), one per stratum
        for i, s in enumerate(strata):
            h, top = self._thickness(i), -float(tops[i])
            for x, wanted in zip((x0, x1), sides, strict=True):
                if wanted:
                    b.box((5e-5, (y1 - y0) / 2, h / 2), s.rgba, (x, (y0 + y1) / 2, top - h / 2))
        self._dented = True
        self.press(NO_PRESS)

    def _thickness(self, i: int) -> float:
        if i == len(self.strata) - 1:
            return max(self.depth_m - float(self.tops[i]), 1e-3)
        return self.strata[i].thickness_m

    def boundary_indent_m(
        self, x: np.ndarray[Any, Any], y: float, p: Press, i: int
    ) -> np.ndarray[Any, Any]:
        """Downward displacement (m) of stratum i's top boundary at points (x, y). Pure."""
        if i < p.from_stratum or p.depth_m <= 0.0:
            return np.zeros_like(x)
        below = float(self.tops[i] - self.tops[p.from_stratum])
        r = np.hypot(x - p.x_m, y - p.y_m)
        w = surface_indentation_m(r, p.depth_m, p.contact_radius_m)
        return np.asarray(w * math.exp(-below / self.decay_m))

    def press(self, p: Press) -> None:
        """Dent the surface and the front face for this frame (cost ~1–2 ms)."""
        depth = min(p.depth_m, self.max_indent_m)
        p = Press(p.x_m, p.y_m, depth, p.contact_radius_m, p.from_stratum)
        if p.from_stratum == 0 and depth > 0.0:
            r = np.hypot(self.gx - p.x_m, self.gy - p.y_m)
            self.top.set(-surface_indentation_m(r, depth, p.contact_radius_m))
        elif self._dented:
            self.top.set(np.zeros_like(self.gx))
        self._dented = p.from_stratum == 0 and depth > 0.0
        n = len(self.strata)
        bounds = [
            -float(self.tops[i]) - self.boundary_indent_m(self.xs, self.front_y, p, i)
            for i in range(n)
        ]
        bounds.append(np.full(self.nx, -self.depth_m))
        for i, strip in enumerate(self.strips):
            strip.set(np.stack([bounds[i + 1], bounds[i]]))


class Instrument:
    """A tool drawn as parts (body, offset of its centre above the tip) moved with the tip."""

    def __init__(
        self,
        bodies: Bodies,
        parts: Sequence[tuple[int, Vec3]],
        orientation: Sequence[float] = (0.0, 0.0, 0.0, 1.0),
    ) -> None:
        self.bodies, self.parts, self.orientation = bodies, tuple(parts), tuple(orientation)

    def place(self, tip: Vec3) -> None:
        """Put the instrument so its tip is at `tip` (m)."""
        for body, (dx, dy, dz) in self.parts:
            self.bodies.move(body, (tip[0] + dx, tip[1] + dy, tip[2] + dz), self.orientation)


def needle(bodies: Bodies, shaft_radius_m: float = 4.5e-4, length_m: float = 0.06) -> Instrument:
    """A hypodermic needle held vertical: a steel shaft and a hub above it."""
    shaft = bodies.cylinder(shaft_radius_m, length_m, INSTRUMENT)
    hub = bodies.cylinder(3.0e-3, 0.012, HANDLE)
    return Instrument(bodies, [(shaft, (0, 0, length_m / 2)), (hub, (0, 0, length_m + 0.006))])


def probe(bodies: Bodies, radius_m: float, length_m: float = 0.06) -> Instrument:
    """A palpation probe: a ball tip on a rod."""
    ball = bodies.body(bodies.shape(pybullet.GEOM_SPHERE, INSTRUMENT, radius=radius_m))
    rod = bodies.cylinder(radius_m * 0.45, length_m, INSTRUMENT)
    grip = bodies.cylinder(radius_m * 1.3, 0.02, HANDLE)
    return Instrument(
        bodies,
        [(ball, (0, 0, radius_m)), (rod, (0, 0, length_m / 2)), (grip, (0, 0, length_m))],
    )


def scalpel(bodies: Bodies, direction: tuple[float, float], blade_m: float = 0.012) -> Instrument:
    """A scalpel held vertical, its blade along `direction` (unit x, y) with the edge down:
    a tall blade (it stands out of the tissue while it cuts) on a slim handle."""
    ux, uy = direction
    q = pybullet.getQuaternionFromEuler((0.0, 0.0, math.atan2(uy, ux)))
    blade_h, handle_h = 0.022, 0.05
    blade = bodies.body(
        bodies.shape(pybullet.GEOM_BOX, INSTRUMENT, halfExtents=(blade_m / 2, 2.5e-4, blade_h / 2)),
        orientation=q,
    )
    handle = bodies.body(
        bodies.shape(pybullet.GEOM_BOX, HANDLE, halfExtents=(3.0e-3, 1.2e-3, handle_h / 2)),
        orientation=q,
    )
    return Instrument(
        bodies, [(blade, (0, 0, blade_h / 2)), (handle, (0, 0, blade_h + handle_h / 2))], q
    )


def stage(bodies: Bodies, depth_m: float, backdrop_y_m: float = 0.25) -> None:
    """A dark table under the tissue and a backdrop behind it (TinyRenderer's background is
    white, which washes out pale tissue); the camera is meant to look along +y."""
    bodies.box((0.6, 0.6, 0.005), TABLE, (0.0, 0.0, -depth_m - 0.0052))
    bodies.box((0.8, 0.005, 0.5), BACKDROP, (0.0, backdrop_y_m, 0.0))


class Incision:
    """What a blade has cut, drawn as dark segments on the surface along the planned path.

    start, end: the planned path's ends (x, y in m); segment_m: the drawn resolution.
    """

    def __init__(
        self,
        bodies: Bodies,
        start: tuple[float, float],
        end: tuple[float, float],
        segment_m: float = 1.0e-3,
    ) -> None:
        (ax, ay), (bx, by) = start, end
        length = math.hypot(bx - ax, by - ay)
        self.bodies = bodies
        self.n = max(1, math.ceil(length / segment_m))
        self.step_m = length / self.n
        self.start, self.u = (ax, ay), ((bx - ax) / length, (by - ay) / length)
        q = pybullet.getQuaternionFromEuler((0.0, 0.0, math.atan2(self.u[1], self.u[0])))
        self.orientation = q
        shape = bodies.shape(
            pybullet.GEOM_BOX, INCISION, halfExtents=(self.step_m * 0.55, 8.0e-4, 2.0e-4)
        )
        self.segments = [bodies.body(shape) for _ in range(self.n)]
        self._shown = [False] * self.n

    def show(self, intervals: Sequence[tuple[float, float]]) -> None:
        """Show the segments whose middle lies in one of `intervals` (path coordinate, m)."""
        for k, body in enumerate(self.segments):
            s = (k + 0.5) * self.step_m
            cut = any(a <= s <= b for a, b in intervals)
            if cut == self._shown[k]:
                continue
            self._shown[k] = cut
            pos = (
                (self.start[0] + s * self.u[0], self.start[1] + s * self.u[1], 1.0e-4)
                if cut
                else _PARKED
            )
            self.bodies.move(body, pos, self.orientation)


def tip_of(client: int, sphere: int, radius_m: float) -> Vec3:
    """The tool position of a scene's tool sphere: its lowest point (sim.scenes.probe)."""
    (x, y, z), _ = pybullet.getBasePositionAndOrientation(sphere, physicsClientId=client)
    return (float(x), float(y), float(z) - radius_m)


def instrument_or_none(probe: Any, make: Callable[[], Instrument]) -> Instrument:
    """`make()`, unless the scene's `Probe` already draws an instrument (the RCM option of
    sim.scenes.probe puts a shaft in the world): then an empty one, so nothing is drawn twice."""
    if getattr(probe, "shaft", None) is not None:
        return Instrument(Bodies(probe.world.client), [])
    return make()
