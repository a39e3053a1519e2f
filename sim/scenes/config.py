"""Scene parameters from TOML, validated by each scene's pydantic config.

A file holds one table per scene, named after it, with that scene's config fields:

    [needle]
    lateral_stiffness_n_per_m = 800.0

    [[needle.layers]]          # nested tables where a field is a list of models
    name = "skin"
    ...

`load_scene_params(path)` returns the dict a scene's constructor takes (the `scene_params`
of a session). Unknown tables and unknown keys are errors that name the bad key and the
allowed ones, so a misspelt parameter never falls back to a silent default. Beyond each
scene's own model, every number must be finite, physical quantities that cannot be
negative (radii, stiffnesses, forces, ...) are not, `*_range_*` pairs are ordered, and each
unit has a sane upper bound (`physical_problem`). Every problem is a ConfigError naming the
file, the table and the field. Examples: `sim/scenes/examples/*.toml`.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from haptics.errors import ConfigError
from sim.scenes.cutting import CuttingConfig
from sim.scenes.needle import NeedleConfig
from sim.scenes.palpation import PalpationConfig

SCENE_CONFIGS: dict[str, type[BaseModel]] = {
    "palpation": PalpationConfig,
    "needle": NeedleConfig,
    "cutting": CuttingConfig,
}


# Field-name words of quantities that are never negative (positions, e.g. `path_start_m`,
# may be); radii and thicknesses must be above zero.
NON_NEGATIVE_WORDS = (
    "radius",
    "stiffness",
    "damping",
    "thickness",
    "toughness",
    "friction",
    "depth",
    "force",
    "length",
    "cushion",
    "linear",
    "quadratic",
    "cubic",
)
POSITIVE_WORDS = ("radius", "thickness")
# Upper bounds by the unit at the end of a field's name: beyond them a value is a typo (the
# world is a 10 cm block; no haptic device renders a 1 MN/m wall or 1 kN).
UNIT_BOUNDS: tuple[tuple[str, float, str], ...] = (
    ("_ns_per_m", 1e5, "N·s/m"),
    ("_n_per_m", 1e6, "N/m"),
    ("_n", 1e3, "N"),
    ("_m", 1.0, "m"),
)


def _numbers(value: Any, path: str, name: str) -> Iterator[tuple[str, str, float]]:
    """(path, nearest field name, number) for every number inside `value`."""
    if isinstance(value, bool):
        return
    if isinstance(value, int | float):
        yield path, name, float(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{path}.{key}" if path else str(key), str(key))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _numbers(item, f"{path}.{i}", name)


def physical_problem(params: dict[str, Any]) -> str | None:
    """The first problem with the numbers in a scene table, or None: a non-finite number, a
    negative (or, for radii and thicknesses, zero) physical quantity, a `*_range_*` pair
    whose low end is above its high end, or a value above its unit's bound."""
    for path, name, x in _numbers(params, "", ""):
        if not math.isfinite(x):
            return f"{path}: {x} is not a finite number; give a finite value"
        words = name.lower()
        if any(w in words for w in POSITIVE_WORDS) and x <= 0:
            return f"{path}: {x:g} must be above 0"
        if any(w in words for w in NON_NEGATIVE_WORDS) and x < 0:
            return f"{path}: {x:g} cannot be negative"
        suffix, bound, shown = next(
            (b for b in UNIT_BOUNDS if words.endswith(b[0])), ("", math.inf, "")
        )
        if suffix and abs(x) > bound:
            return f"{path}: {x:g} {shown} is beyond the sane bound of {bound:g} {shown}"
    for key, value in params.items():
        if "_range_" in key and isinstance(value, list | tuple) and len(value) == 2:
            lo, hi = value
            if isinstance(lo, int | float) and isinstance(hi, int | float) and lo > hi:
                return f"{key}: the range [{lo:g}, {hi:g}] is reversed; give [low, high]"
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read scene config {path}: {exc}; check the path") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"scene config {path} is not valid TOML: {exc}") from exc


def _fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The field names allowed at `loc` (a pydantic error location) inside `model`."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            break
        annotation = fields[part].annotation
        # tuple[LayerConfig, ...] / list[...]: step into the item model
        args = getattr(annotation, "__args__", ())
        nested = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            nested = annotation
        if nested is None:
            break
        current = nested
    fields = getattr(current, "model_fields", {})
    return sorted(fields)


def validate_scene_params(scene: str, params: dict[str, Any], source: str = "") -> dict[str, Any]:
    """Check `params` against `scene`'s config and return them (only the keys given).

    Raises ConfigError naming the scene, the bad key and the allowed keys for an unknown key,
    and the field and the reason for an invalid value; for an unknown scene it lists the
    scenes that have a config.
    """
    where = f" in {source}" if source else ""
    try:
        model = SCENE_CONFIGS[scene]
    except KeyError:
        raise ConfigError(
            f"unknown scene table [{scene}]{where}; scenes with a config: "
            f"{', '.join(sorted(SCENE_CONFIGS))}"
        ) from None
    allowed = sorted(model.model_fields)
    for key in params:
        if key not in model.model_fields:
            raise ConfigError(
                f"[{scene}]{where}: unknown key {key!r}; allowed keys: {', '.join(allowed)}"
            )
    try:
        model.model_validate(params)
    except ValidationError as exc:
        problems = []
        errors = exc.errors()
        for e in errors:
            loc = tuple(e["loc"])
            if e["type"] == "too_short" and any(
                len(o["loc"]) > len(loc) and tuple(o["loc"][: len(loc)]) == loc for o in errors
            ):
                continue  # pydantic also calls a list short when one of its items failed
            name = ".".join(str(x) for x in loc) or "(table)"
            if e["type"] == "extra_forbidden":
                ok = ", ".join(_fields_at(model, loc[:-1]))
                problems.append(f"unknown key {name!r} (allowed there: {ok})")
            else:
                problems.append(f"{name}: {e['msg']}")
        raise ConfigError(f"[{scene}]{where}: " + "; ".join(problems)) from exc
    problem = physical_problem(params)
    if problem:
        raise ConfigError(f"[{scene}]{where}: {problem}")
    return dict(params)


def load_scene_tables(path: str | Path) -> dict[str, dict[str, Any]]:
    """Every scene table in the TOML file `path`, validated: {scene name: params}.

    Raises ConfigError if the file cannot be read or parsed, has a key outside a table, an
    unknown scene table, an unknown key or an invalid value.
    """
    p = Path(path)
    data = _read_toml(p)
    tables: dict[str, dict[str, Any]] = {}
    for name, table in data.items():
        if not isinstance(table, dict):
            raise ConfigError(
                f"{p}: key {name!r} is outside a scene table; put scene parameters under a "
                f"table named after the scene, one of: {', '.join(sorted(SCENE_CONFIGS))}"
            )
        tables[name] = validate_scene_params(name, table, str(p))
    return tables


def load_scene_params(path: str | Path, scene: str | None = None) -> dict[str, Any]:
    """The parameters for one scene from the TOML file `path`, validated by its config.

    scene: which table to take; None takes the file's only table. Returns the dict the
    scene's constructor takes (the keys the file sets; the rest keep their defaults).
    Raises ConfigError for an unreadable or invalid file, an unknown key (naming it and the
    allowed ones), a missing table for `scene`, or several tables and no `scene`.
    """
    tables = load_scene_tables(path)
    if scene is None:
        if len(tables) != 1:
            raise ConfigError(
                f"{path} has {len(tables)} scene tables ({', '.join(tables) or 'none'}); "
                "say which scene to load"
            )
        return next(iter(tables.values()))
    if scene not in tables:
        raise ConfigError(
            f"{path} has no [{scene}] table; it has: {', '.join(tables) or 'no tables'}"
        )
    return tables[scene]
