"""Taxonomies: the four shipped ones, and files that are refused with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from haptics.dataset.taxonomy import builtin_taxonomies, load_taxonomy, parse_taxonomy
from haptics.errors import ConfigError, LabelError


def test_the_four_shipped_taxonomies() -> None:
    assert list(builtin_taxonomies()) == [
        "needle-phases",
        "palpation-findings",
        "skill-ratings",
        "tissue-events",
    ]
    phases, _ = load_taxonomy("needle-phases")
    assert phases.keys["phase"].values == (
        "approach",
        "contact",
        "insertion",
        "puncture",
        "retraction",
    )
    assert phases.keys["phase"].target == "interval" and phases.keys["phase"].blind
    events, _ = load_taxonomy("tissue-events")
    assert set(events.keys["event"].values) == {"contact", "puncture", "cut_start", "cut_end"}
    skills, _ = load_taxonomy("skill-ratings")
    assert all(k.level == "ordinal" and k.domain() == [1, 2, 3, 4, 5] for k in skills.keys.values())
    palp, _ = load_taxonomy("palpation-findings")
    assert set(palp.keys) == {
        "inclusion_present",
        "inclusion_location",
        "inclusion_size_mm",
        "confidence",
    }


def test_values_are_checked_against_the_key() -> None:
    skills, _ = load_taxonomy("skill-ratings")
    k = skills.key("overall_performance")
    assert k.check_value("4") == 4
    for bad in (0, 6, 2.5, "great", None, True):
        with pytest.raises(LabelError):
            k.check_value(bad)
    with pytest.raises(LabelError, match="keys:"):
        skills.key("speed")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = 'x'\n[keys.a]\ntarget = 'interval'\n", "needs `values`"),
        ("name = 'x'\n[keys.a]\ntarget = 'later'\nvalues = ['a']\n", "target"),
        (
            "name = 'x'\n[keys.a]\ntarget = 'session'\nvalues = ['a']\nlevel = 'ratio'\n",
            "nominal or ordinal",
        ),
        ("name = 'x'\n[keys.a]\ntarget = 'session'\nvalues = ['a']\ncolour = 'red'\n", "colour"),
        ("name = 'x' [", "not valid TOML"),
    ],
)
def test_invalid_taxonomies_are_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_taxonomy(text)


def test_a_missing_file_names_the_built_in_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needle-phases"):
        load_taxonomy(tmp_path / "nope.toml")
