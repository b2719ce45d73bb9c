"""The plan as a small SVG: tasks in columns by dependency depth, edges for ``<GENERATED>-k`` inputs, colours by
state. Self-contained markup (no script), so it can go into any HTML view."""

from __future__ import annotations

from html import escape
from typing import Any

_COLOURS = {  # fill, stroke, text
    "pending": ("#f1f5f9", "#94a3b8", "#334155"),
    "running": ("#fef3c7", "#f59e0b", "#78350f"),
    "ok": ("#dcfce7", "#16a34a", "#14532d"),
    "failed": ("#fee2e2", "#dc2626", "#7f1d1d"),
    "skipped": ("#f8fafc", "#cbd5e1", "#64748b"),
}
NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 176, 54, 56, 16, 10


def _depths(tasks: list[dict[str, Any]]) -> dict[int, int]:
    ids = {t["id"] for t in tasks}
    deps = {t["id"]: [d for d in t.get("dep", []) if d in ids and d != t["id"]] for t in tasks}
    depth: dict[int, int] = {}

    def visit(tid: int, seen: frozenset[int]) -> int:
        if tid in depth:
            return depth[tid]
        if tid in seen:  # a cycle cannot come out of validation; guard anyway
            return 0
        d = max((visit(p, seen | {tid}) + 1 for p in deps[tid]), default=0)
        depth[tid] = d
        return d

    for t in tasks:
        visit(t["id"], frozenset())
    return depth


def plan_svg(tasks: list[dict[str, Any]], status: dict[int, str] | None = None,
             models: dict[int, str] | None = None) -> str:
    """SVG markup of a plan (JARVIS task dicts). ``status``: task id -> pending/running/ok/failed/skipped."""
    if not tasks:
        return ""
    status, models = status or {}, models or {}
    depth = _depths(tasks)
    columns: dict[int, list[dict[str, Any]]] = {}
    for t in tasks:
        columns.setdefault(depth[t["id"]], []).append(t)
    rows = max(len(c) for c in columns.values())
    width = PAD * 2 + len(columns) * NODE_W + (len(columns) - 1) * GAP_X
    height = PAD * 2 + rows * NODE_H + (rows - 1) * GAP_Y
    pos: dict[int, tuple[float, float]] = {}
    for col, members in columns.items():
        offset = (rows - len(members)) * (NODE_H + GAP_Y) / 2
        for row, t in enumerate(members):
            pos[t["id"]] = (PAD + col * (NODE_W + GAP_X), PAD + offset + row * (NODE_H + GAP_Y))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="hg-plan" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-label="plan graph">',
             '<defs><marker id="hg-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#64748b"/></marker></defs>']
    for t in tasks:
        x2, y2 = pos[t["id"]]
        for d in t.get("dep", []):
            if d not in pos or d == t["id"]:
                continue
            x1, y1 = pos[d]
            sx, sy, ex, ey = x1 + NODE_W, y1 + NODE_H / 2, x2 - 2, y2 + NODE_H / 2
            mid = (sx + ex) / 2
            parts.append(f'<path d="M{sx:.0f},{sy:.0f} C{mid:.0f},{sy:.0f} {mid:.0f},{ey:.0f} {ex:.0f},{ey:.0f}" '
                         'fill="none" stroke="#64748b" stroke-width="1.6" marker-end="url(#hg-arrow)"/>')
    for t in tasks:
        x, y = pos[t["id"]]
        st = status.get(t["id"], "pending")
        fill, stroke, ink = _COLOURS.get(st, _COLOURS["pending"])
        dash = ' stroke-dasharray="4 3"' if st == "skipped" else ""
        model = models.get(t["id"], "")
        short = model.removeprefix("hugginggpt/")  # the embedded namespace; the tooltip keeps the full id
        parts.append(
            f'<g><title>{escape(t["task"])} ({escape(st)}){escape(" - " + model) if model else ""}</title>'
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{NODE_W}" height="{NODE_H}" rx="10" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="1.8"{dash}/>'
            f'<text x="{x + 10:.0f}" y="{y + 21:.0f}" font-size="13" font-weight="600" fill="{ink}" '
            f'font-family="system-ui, sans-serif">#{t["id"]} {escape(_clip(t["task"], 20))}</text>'
            f'<text x="{x + 10:.0f}" y="{y + 40:.0f}" font-size="11" fill="{ink}" opacity="0.8" '
            f'font-family="ui-monospace, monospace">{escape(_clip(short or st, 25))}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"
