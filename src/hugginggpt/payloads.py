"""Typed expert outputs: what an expert found (labels, boxes, masks, answers, entities, an embedding), each with one
text formatter (``text()``), one encoder to the JARVIS response shape (``jarvis()``), one drawer where a picture
makes sense (``draw(image)``), and a lossless trip to and from the JSON facts (``facts()`` / ``from_facts``).

Facts travel as JSON (run records, the server API, other processes), so the facts keep the keys experts have always
written (``objects``, ``classes_supported``, ``scores``, ``labels``, ``segments``, ``entities``, ``answers``,
``score``/``start``/``end``, ``dim``); consumers read them back with ``<Payload>.from_facts(result.data)`` instead of
guessing keys. Embedded experts and hub backends build the same payloads, so a detection reads, draws and answers
the same whichever backend ran it.

A low-layer module: it imports only PIL and numpy (lazily, for drawing), nothing from the rest of the package.
"""

from __future__ import annotations

import colorsys
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

# The four corners of a box, in the order JARVIS and the transformers pipelines write them.
CORNERS = ("xmin", "ymin", "xmax", "ymax")


class Payload(Protocol):
    """What every payload offers (``ExpertResult.of`` builds the result's text output and facts from it)."""

    def text(self) -> str: ...

    def facts(self) -> dict[str, Any]: ...

    def jarvis(self) -> Any: ...


def scored(label: Any, score: Any) -> str:
    """The one way a label and its score are written: ``cat (0.91)``."""
    return f"{label} ({float(score):.2f})"


def colors(n: int) -> list[tuple[int, int, int]]:
    """``n`` evenly spaced bright colours (the JARVIS drawing palette)."""
    return [_rgb255(*colorsys.hsv_to_rgb(i / max(n, 1), 0.8, 1.0)) for i in range(n)]


def _rgb255(r: float, g: float, b: float) -> tuple[int, int, int]:
    return int(r * 255), int(g * 255), int(b * 255)


def _extra(row: Mapping[str, Any], known: Iterable[str]) -> dict[str, Any]:
    skip = set(known)
    return {k: v for k, v in row.items() if k not in skip}


# ----- labels ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Label:
    label: str | None
    score: float | None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "score": self.score, **self.extra}


@dataclass(frozen=True)
class Labels:
    """A ranking of labels with scores (classification of text, images, audio; zero-shot).

    Facts: ``{"label": best, "scores": [{"label", "score"}...]}`` (``mapping``: ``scores`` as ``{label: score}``),
    or ``{"labels": [...]}`` without the best label (``key="labels"``). ``show``: how many labels ``text()`` lists
    (``None``: all)."""

    items: tuple[Label, ...]
    key: str = "scores"
    mapping: bool = False
    show: int | None = 1
    empty: str = "no label returned"

    @classmethod
    def of(cls, rows: Iterable[Mapping[str, Any]] | Mapping[str, float], **kw: Any) -> Labels:
        """From pipeline rows (``{"label", "score", ...}``) or a ``{label: score}`` mapping."""
        if isinstance(rows, Mapping):
            return cls(tuple(Label(str(k), v) for k, v in rows.items()), mapping=True, **kw)
        return cls(tuple(Label(r.get("label"), r.get("score"), _extra(r, ("label", "score"))) for r in rows), **kw)

    @property
    def best(self) -> Label | None:
        return max(self.items, key=lambda x: float(x.score or 0)) if self.items else None

    def text(self) -> str:
        if not self.items:
            return self.empty
        shown = [self.best] if self.show == 1 else self.items[: self.show]
        return ", ".join(scored(x.label, x.score) for x in shown if x is not None)

    def facts(self) -> dict[str, Any]:
        rows: Any = {x.label: x.score for x in self.items} if self.mapping else [x.to_dict() for x in self.items]
        best = self.best
        return {"label": best.label, self.key: rows} if best is not None and self.key == "scores" else {self.key: rows}

    def jarvis(self) -> list[dict[str, Any]]:
        return [{"label": x.label, "score": x.score} if self.mapping else x.to_dict() for x in self.items]

    @classmethod
    def from_facts(cls, facts: Mapping[str, Any]) -> Labels | None:
        """The ranking in ``facts`` (under ``scores``, else ``labels``), or None when there is none."""
        key = "scores" if "scores" in facts else "labels"
        rows = facts.get(key)
        if isinstance(rows, Mapping):
            return cls.of(rows, key=key)
        if isinstance(rows, list) and all(isinstance(r, Mapping) and "label" in r for r in rows):
            return cls(tuple(Label(r["label"], r.get("score"), _extra(r, ("label", "score"))) for r in rows),
                       key=key, show=None if key == "labels" else 1)
        return None


# ----- boxes -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Box:
    """One detection: ``box`` is ``{"xmin", "ymin", "xmax", "ymax"}`` in pixels (as the detector gave it)."""

    label: str | None
    score: float | None
    box: Mapping[str, Any]
    extra: Mapping[str, Any] = field(default_factory=dict)

    def corners(self) -> tuple[Any, Any, Any, Any] | None:
        b = self.box
        return (b["xmin"], b["ymin"], b["xmax"], b["ymax"]) if set(CORNERS) <= set(b) else None

    def to_dict(self, digits: int | None = None) -> dict[str, Any]:
        score = round(self.score, digits) if digits is not None and self.score is not None else self.score
        return {"label": self.label, "score": score, "box": dict(self.box), **self.extra}


@dataclass(frozen=True)
class Boxes:
    """Detections. Facts: ``{"objects": [{"label", "score", "box", ...}], "classes_supported": [...]}`` (the latter
    only for a detector that says which labels it knows). ``digits`` rounds the scores written to the facts."""

    items: tuple[Box, ...]
    known: tuple[str, ...] | None = None
    empty: str = "no objects found"
    digits: int | None = None

    @classmethod
    def of(cls, rows: Iterable[Mapping[str, Any]], **kw: Any) -> Boxes:
        return cls(tuple(Box(r.get("label"), r.get("score"), r.get("box") or {}, _extra(r, ("label", "score", "box")))
                         for r in rows), **kw)

    def text(self) -> str:
        return ", ".join(scored(b.label, b.score) for b in self.items) or self.empty

    def facts(self) -> dict[str, Any]:
        out: dict[str, Any] = {"objects": [b.to_dict(self.digits) for b in self.items]}
        if self.known is not None:
            out["classes_supported"] = list(self.known)
        return out

    def jarvis(self) -> list[dict[str, Any]]:
        return [b.to_dict(self.digits) for b in self.items]

    @classmethod
    def from_facts(cls, facts: Mapping[str, Any]) -> Boxes | None:
        rows = facts.get("objects")
        if not isinstance(rows, list):
            return None
        known = facts.get("classes_supported")
        return cls.of([r for r in rows if isinstance(r, Mapping)],
                      known=tuple(str(k) for k in known) if isinstance(known, list) else None)

    def labels(self) -> list[str]:
        return ["" if b.label is None else str(b.label) for b in self.items]

    def draw(self, image: Any, palette: Mapping[str, tuple[int, int, int]] | None = None) -> Any:
        """A copy of ``image`` with a box per detection. Without ``palette``: JARVIS's thin boxes, one colour per label,
        the label written above. With it (label -> colour): thicker boxes sized to the image, each captioned
        ``label 0.93`` in white on a filled tag."""
        from PIL import ImageDraw

        if palette is not None:
            return self._draw_captioned(image, palette)
        canvas = image.copy()
        draw = ImageDraw.Draw(canvas)
        names = sorted({str(b.label) for b in self.items})
        color = dict(zip(names, colors(len(names)), strict=True))
        for b in self.items:
            corners, c = b.corners(), color[str(b.label)]
            if corners is not None:
                x0, y0, x1, y1 = corners
                draw.rectangle(((x0, y0), (x1, y1)), outline=c, width=2)
                draw.text((x0 + 4, max(0, y0 - 12)), str(b.label), fill=c)
        return canvas

    def _draw_captioned(self, image: Any, palette: Mapping[str, tuple[int, int, int]]) -> Any:
        from PIL import ImageDraw, ImageFont

        canvas = image.convert("RGB").copy()
        draw = ImageDraw.Draw(canvas)
        w, h = canvas.size
        width = max(2, round(min(w, h) / 200))
        font = ImageFont.load_default(size=max(12, round(min(w, h) / 30)))
        for b in self.items:
            box = b.corners()
            if box is None:
                continue
            color = palette.get(str(b.label), (255, 200, 0))
            draw.rectangle(box, outline=color, width=width)
            caption = f"{b.label} {b.score:.2f}"
            left, top, right, bottom = draw.textbbox((0, 0), caption, font=font)
            tw, th = right - left, bottom - top
            ty = box[1] - th - 2 * width if box[1] - th - 2 * width >= 0 else box[1]
            draw.rectangle((box[0], ty, box[0] + tw + 2 * width, ty + th + 2 * width), fill=color)
            draw.text((box[0] + width - left, ty + width - top), caption, fill=(255, 255, 255), font=font)
        return canvas


# ----- masks -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mask:
    """One segment: its label, the fraction of the image it covers, the model's score, and the mask as PNG bytes
    (kept for drawing; not part of the facts)."""

    label: str
    area: float
    score: Any = None
    png: bytes | None = field(default=None, repr=False)

    def pixels(self, size: tuple[int, int]) -> Any:
        """The mask as a boolean array of the given (width, height)."""
        import numpy as np
        from PIL import Image

        return np.asarray(Image.open(io.BytesIO(self.png or b"")).convert("L").resize(size)) > 127


@dataclass(frozen=True)
class Masks:
    """Segments. Facts: ``{"segments": [{"label", "score"?, "area"}]}`` (``score`` only when the model gives one:
    ``scored``)."""

    items: tuple[Mask, ...]
    scored: bool = False

    @classmethod
    def measure(cls, size: tuple[int, int], segments: Iterable[tuple[str, Any, Any]], scored: bool = False) -> Masks:
        """From ``(label, mask, score)`` where mask is a PIL image or PNG bytes; areas measured at ``size``."""
        items = []
        for label, mask, score in segments:
            data = mask if isinstance(mask, bytes) else _png(mask.convert("L"))
            blank = Mask(label, 0.0, score, data)
            items.append(Mask(label, round(float(blank.pixels(size).mean()), 4), score, data))
        return cls(tuple(items), scored)

    def text(self) -> str:
        return ", ".join(f"{m.label} ({m.area:.0%} of the image)" for m in self.items) or "no segments found"

    def facts(self) -> dict[str, Any]:
        return {"segments": [{"label": m.label, **({"score": m.score} if self.scored else {}), "area": m.area}
                             for m in self.items]}

    def jarvis(self) -> list[dict[str, Any]]:
        return self.facts()["segments"]

    @classmethod
    def from_facts(cls, facts: Mapping[str, Any]) -> Masks | None:
        rows = facts.get("segments")
        if not isinstance(rows, list) or not all(isinstance(r, Mapping) and "area" in r for r in rows):
            return None
        return cls(tuple(Mask(r["label"], r["area"], r.get("score")) for r in rows),
                   scored=any("score" in r for r in rows))

    def draw(self, image: Any) -> Any:
        """``image`` with each mask tinted in its own colour (55 % colour over 45 % image)."""
        import numpy as np
        from PIL import Image

        base = np.asarray(image, dtype=np.float32)
        out = base.copy()
        for m, color in zip(self.items, colors(len(self.items)), strict=True):
            if m.png is None:
                continue
            mask = m.pixels(image.size)
            out[mask] = 0.45 * base[mask] + 0.55 * np.asarray(color, dtype=np.float32)
        return Image.fromarray(out.clip(0, 255).astype(np.uint8))


def _png(image: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


# ----- answers -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    """One extracted answer (question answering). Facts: ``{"score", "start", "end"}`` (the span only when known);
    the answer itself is the text output."""

    answer: str | None
    score: float | None = None
    span: tuple[int | None, int | None] | None = None

    def text(self) -> str:
        return self.answer or ""

    def facts(self) -> dict[str, Any]:
        start, end = self.span if self.span is not None else (None, None)
        return {"score": self.score, **({"start": start, "end": end} if self.span is not None else {})}

    def jarvis(self) -> dict[str, Any]:
        start, end = self.span if self.span is not None else (None, None)
        return {"answer": self.answer, "score": self.score, "start": start, "end": end}

    @classmethod
    def from_facts(cls, facts: Mapping[str, Any], text: str | None = None) -> Answer:
        span = (facts.get("start"), facts.get("end")) if "start" in facts or "end" in facts else None
        return cls(text, facts.get("score"), span)


@dataclass(frozen=True)
class Answers:
    """Ranked answers (visual and document question answering). Facts: ``{"answers": [{"answer", "score", ...}]}``."""

    rows: tuple[Mapping[str, Any], ...]

    def text(self) -> str:
        return str(self.rows[0]["answer"]) if self.rows else "no answer found"

    def facts(self) -> dict[str, Any]:
        return {"answers": [dict(r) for r in self.rows]}

    def jarvis(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.rows]

    @classmethod
    def from_facts(cls, facts: Mapping[str, Any], text: str | None = None) -> Answers:
        """The answers in ``facts``; without them, the text as the one answer with the facts' ``score``."""
        rows = facts.get("answers")
        if rows:
            return cls(tuple(rows))
        return cls(({"answer": text, "score": facts.get("score")},))


# ----- entities ----------------------------------------------------------------------------------------------------
_GROUP_KEYS = ("entity_group", "entity", "label")


@dataclass(frozen=True)
class Entity:
    """One named entity: the words, the group (PER, ORG...), score and character offsets where the model gives them.
    ``group_key`` remembers which key the group was written under (``label``, or a JARVIS server's
    ``entity_group``)."""

    word: str | None
    group: str | None
    score: float | None = None
    start: int | None = None
    end: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    group_key: str = "label"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"word": self.word} if self.word is not None else {}
        if self.group is not None:
            out[self.group_key] = self.group
        out.update({k: v for k, v in (("score", self.score), ("start", self.start), ("end", self.end))
                    if v is not None})
        return {**out, **self.extra}


@dataclass(frozen=True)
class Entities:
    """Named entities. Facts: ``{"entities": [{"word", "label", "score", "start", "end"}]}``."""

    items: tuple[Entity, ...]

    @classmethod
    def of(cls, rows: Iterable[Mapping[str, Any]], group_key: str | None = None) -> Entities:
        """From pipeline rows; the group is read from ``entity_group``, ``entity`` or ``label`` and written under
        ``group_key`` (default: the key it was read from)."""
        items = []
        for r in rows:
            found = next((k for k in _GROUP_KEYS if r.get(k) is not None), "label")
            word, group = r.get("word"), r.get(found)
            items.append(Entity(None if word is None else str(word), None if group is None else str(group),
                                r.get("score"), r.get("start"), r.get("end"),
                                _extra(r, ("word", "score", "start", "end", found)), group_key or found))
        return cls(tuple(items))

    def text(self) -> str:
        return "; ".join(f"{e.word}: {e.group}" for e in self.items) or "no entities found"

    def facts(self) -> dict[str, Any]:
        return {"entities": [e.to_dict() for e in self.items]}

    def jarvis(self) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self.items]

    @classmethod
    def from_facts(cls, facts: Mapping[str, Any]) -> Entities | None:
        rows = facts.get("entities")
        if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
            return None
        return cls.of(rows)


# ----- embeddings --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Embedding:
    """A feature vector. The text output is the vector as JSON (6 decimals); the facts hold its size (``dim``)."""

    vector: tuple[float, ...]

    @classmethod
    def of(cls, values: Sequence[Any] | Any) -> Embedding:
        return cls(tuple(round(float(x), 6) for x in values))

    def text(self) -> str:
        return json.dumps(list(self.vector))

    def facts(self) -> dict[str, Any]:
        return {"dim": len(self.vector)}

    def jarvis(self) -> dict[str, Any]:
        return {"generated text": self.text()}

    @classmethod
    def from_text(cls, text: str) -> Embedding:
        return cls.of(json.loads(text))
