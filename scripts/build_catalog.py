"""Build the bundled hub catalog from JARVIS's model list (facts only: ids, tasks, numbers, tags, licences).

Usage: python scripts/build_catalog.py ../shared/hugginggpt/p0_models.jsonl
Writes src/hugginggpt/catalog/data/hub_models.json. Model-card prose (``description``) is deliberately dropped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src/hugginggpt/catalog/data/hub_models.json"


def _list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, (str, int, float))]
    return [str(value)]


def convert(row: dict) -> dict:
    meta = row.get("meta") or {}
    return {
        "id": row["id"],
        "task": row["task"],
        "downloads": int(row.get("downloads") or 0),
        "likes": int(row.get("likes") or 0),
        "tags": sorted(set(_list(meta.get("tags")))),
        "license": ", ".join(_list(meta.get("license"))) or None,
        "languages": _list(meta.get("language") or meta.get("languages")),
        "datasets": _list(meta.get("datasets")),
        "library": meta.get("library_name") if isinstance(meta.get("library_name"), str) else None,
    }


def main(src: str) -> None:
    rows = [json.loads(line) for line in Path(src).read_text(encoding="utf-8").splitlines() if line.strip()]
    cards = [convert(r) for r in rows]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(cards, indent=0, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(cards)} cards to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/hugginggpt/p0_models.jsonl")
