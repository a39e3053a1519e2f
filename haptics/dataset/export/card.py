"""The dataset card written beside every export: provenance, counts, label coverage and
agreement where known, software versions, and how to open the result."""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from haptics.dataset.agreement import agreement
from haptics.dataset.catalog import Dataset
from haptics.dataset.export.base import Format
from haptics.dataset.export.runner import MARKER

PACKAGES = (
    "haptics", "pyarrow", "numpy", "dask", "distributed", "h5py", "mcap", "av", "scikit-learn"
)


def versions() -> dict[str, str]:
    """Installed versions of the packages an export depends on, and Python's."""
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


def agreement_for_card(ds: Dataset, session_ids: set[str]) -> dict[str, Any]:
    """Krippendorff's alpha per answered key over the exported sessions' human answers, with
    the units and annotators behind it (`haptics labels stats` has the windows and pairs)."""
    store = ds.store
    answers = [a for a in store.log_tables()[0] if a.session_id in session_ids]
    sessions = {r.session_id: r for r in store.sessions() if r.session_id in session_ids}
    taxes = [store.taxonomy(n) for n in store.taxonomy_names()]
    return {
        f"{k.taxonomy}/{k.key}": {
            "alpha": k.alpha,
            "level": k.level,
            "units": k.units,
            "annotators": k.annotators,
        }
        for k in agreement(taxes, answers, sessions)
    }


def build_card(
    out: Path, fmt: Format, source: str, left_out: dict[str, str],
    failed: dict[str, str], agreement: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The card's content, from what is now in `out/sessions` (all runs together)."""
    sessions = []
    for marker in sorted((out / "sessions").glob(f"*/{MARKER}")):
        m = json.loads(marker.read_text())
        sessions.append({"session_id": marker.parent.name, **m})
    prov: dict[str, int] = {}
    for s in sessions:
        prov[str(s.get("provenance"))] = prov.get(str(s.get("provenance")), 0) + 1
    labeled = sum(1 for s in sessions if s.get("labels", 0) > 0)
    return {
        "format": fmt.name,
        "format_version": fmt.version,
        "source": source,
        "layout": fmt.layout,
        "open_with": fmt.open_with,
        "sessions": len(sessions),
        "provenance": prov,
        "rows": {k: sum(s["rows"].get(k, 0) for s in sessions)
                 for k in sorted({k for s in sessions for k in s["rows"]})},
        "label_rows": sum(s.get("labels", 0) for s in sessions),
        "sessions_labeled": labeled,
        "agreement": agreement,
        "left_out": left_out,
        "failed": failed,
        "software": versions(),
    }


def write_card(out: Path, card: dict[str, Any]) -> None:
    """card.json and card.md, each written aside and moved into place."""
    md = [
        f"# Dataset card: {card['source']} as {card['format']}",
        "",
        f"- sessions: {card['sessions']} (provenance: "
        + ", ".join(f"{k} {v}" for k, v in card["provenance"].items()) + ")",
        "- rows per stream: " + ", ".join(f"{k} {v}" for k, v in card["rows"].items()),
        f"- labels: {card['label_rows']} answers over {card['sessions_labeled']} sessions",
        f"- layout: {card['layout']}",
        f"- open with: {card['open_with']}",
        f"- left out: {len(card['left_out'])}, failed: {len(card['failed'])}",
        "- software: " + ", ".join(f"{k} {v}" for k, v in card["software"].items()),
    ]
    if card.get("agreement"):
        md.append("- agreement (Krippendorff's alpha per key, human answers only):")
        for key, a in card["agreement"].items():
            alpha = "undefined" if a["alpha"] is None else f"{a['alpha']:.3f}"
            md.append(f"  - {key}: alpha {alpha} over {a['units']} units, "
                      f"{len(a['annotators'])} annotators ({a['level']})")
    for sid, why in {**card["left_out"], **card["failed"]}.items():
        md.append(f"  - {sid}: {why}")
    for name, text in (("card.json", json.dumps(card, indent=2)), ("card.md", "\n".join(md))):
        tmp = out / f".{name}.tmp"
        tmp.write_text(text + "\n", encoding="utf-8")
        tmp.replace(out / name)
