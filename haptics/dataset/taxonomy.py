"""Taxonomies: what may be labeled, how, and by how many people, as TOML validated by pydantic.

A taxonomy file names its keys; each key says its target kind (the whole session, an interval
or an instant), its value type and level of measurement, the allowed values, how many
annotators label each item and whether they label blind. Four ship with the package
(`builtin_taxonomies()`); a dataset may add its own files.
"""

from __future__ import annotations

import math
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, Field, model_validator

from haptics.errors import ConfigError, LabelError

TargetKind = Literal["session", "interval", "instant"]
ValueType = Literal["category", "integer", "number", "boolean"]
Level = Literal["nominal", "ordinal", "interval", "ratio"]


class Key(BaseModel):
    """One thing to label: e.g. the needle's phase over time, or a skill rating."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    description: str = ""
    target: TargetKind
    value_type: ValueType = "category"
    level: Level = "nominal"
    values: tuple[str, ...] = ()  # allowed categories (category keys)
    minimum: float | None = None  # numeric keys
    maximum: float | None = None
    annotators: int = Field(2, ge=1, le=20, description="people per item")
    blind: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> Key:
        if self.value_type == "category" and not self.values:
            raise ValueError(f"key '{self.name}': a category key needs `values`")
        if self.value_type != "category" and self.values:
            raise ValueError(f"key '{self.name}': `values` is only for category keys")
        if self.value_type in ("category", "boolean") and self.level not in ("nominal", "ordinal"):
            raise ValueError(
                f"key '{self.name}': a {self.value_type} key is nominal or ordinal, "
                f"not {self.level}"
            )
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"key '{self.name}': minimum > maximum")
        return self

    def domain(self) -> list[Any]:
        """The ordered value domain used by agreement (categories in file order)."""
        if self.value_type == "category":
            return list(self.values)
        if self.value_type == "boolean":
            return [False, True]
        if self.value_type == "integer" and self.minimum is not None and self.maximum is not None:
            return list(range(int(self.minimum), int(self.maximum) + 1))
        return []

    def check_value(self, value: Any) -> Any:
        """The value normalised to its stored form; raises LabelError if the key forbids it."""
        where = f"key '{self.name}'"
        if self.value_type == "category":
            if not isinstance(value, str) or value not in self.values:
                raise LabelError(
                    f"{value!r} is not a value of {where}; allowed: {', '.join(self.values)}"
                )
            return value
        if self.value_type == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
                return value.lower() in ("true", "yes")
            raise LabelError(f"{value!r} is not a value of {where}; give true or false")
        number: float
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            raise LabelError(f"{value!r} is not a number; {where} takes a {self.value_type}")
        if self.value_type == "integer" and number != int(number):
            raise LabelError(f"{value!r} is not a whole number; {where} takes an integer")
        lo, hi = self.minimum, self.maximum
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            raise LabelError(f"{value!r} is outside {where}'s range [{lo}, {hi}]")
        return int(number) if self.value_type == "integer" else number


class Taxonomy(BaseModel):
    """A named, versioned set of keys (one TOML file)."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    version: int = Field(1, ge=1)
    description: str = ""
    keys: dict[str, Key]

    @model_validator(mode="before")
    @classmethod
    def _name_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("keys"), dict):
            keys = {}
            for name, spec in data["keys"].items():
                keys[name] = {**spec, "name": name} if isinstance(spec, dict) else spec
            data = {**data, "keys": keys}
        return data

    def key(self, name: str) -> Key:
        """The key called `name`; raises LabelError naming the keys there are."""
        try:
            return self.keys[name]
        except KeyError:
            raise LabelError(
                f"taxonomy '{self.name}' has no key '{name}'; keys: {', '.join(self.keys)}"
            ) from None


def parse_taxonomy(text: str, source: str = "<text>") -> Taxonomy:
    """A taxonomy from TOML text; raises ConfigError saying which field is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}; fix the file and retry") from exc
    try:
        return Taxonomy.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ConfigError(f"{source} is not a valid taxonomy: {exc}") from exc


def builtin_taxonomies() -> dict[str, str]:
    """Name → TOML text of the taxonomies shipped with the package."""
    out: dict[str, str] = {}
    for entry in resources.files("haptics.dataset").joinpath("taxonomies").iterdir():
        if entry.name.endswith(".toml"):
            out[entry.name.removesuffix(".toml")] = entry.read_text(encoding="utf-8")
    return dict(sorted(out.items()))


def load_taxonomy(name_or_path: str | Path) -> tuple[Taxonomy, str]:
    """A built-in taxonomy by name, or a TOML file by path: (taxonomy, its TOML text).

    Raises ConfigError if there is no such taxonomy or the file is invalid.
    """
    builtin = builtin_taxonomies()
    if str(name_or_path) in builtin:
        text = builtin[str(name_or_path)]
        return parse_taxonomy(text, str(name_or_path)), text
    path = Path(name_or_path)
    if not path.is_file():
        raise ConfigError(
            f"no taxonomy '{name_or_path}': give a TOML file or one of {', '.join(builtin)}"
        )
    text = path.read_text(encoding="utf-8")
    return parse_taxonomy(text, str(path)), text
