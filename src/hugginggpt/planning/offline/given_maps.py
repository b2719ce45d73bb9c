"""Condition maps as the input of a new picture.

- A map the user already has ("I already have a normal map, normals.png. Render a handbag from it"): a file the
  request names as a condition map (lexicon ``controls``) is the guided generator's input as it is; no task
  extracts a map from it, and a picture asked for near it is generated under that map.
- A map the request makes, then "turns into a new thing" ("find the canny outline of doodle.png and then turn it
  into an oil painting of a lighthouse"): the edit of a map is generation guided by it, not an image edit.
- A map asked for in words of an edit ("turn skate.jpg into the pose thing with the stick figure"): the map's
  extraction only, no edit beside it.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import cache

from .lexicon import default_lexicon, expand, pattern
from .literals import guided_prompt
from .text import ParsedRequest
from .types import Detection


@cache
def _given_rx() -> dict[str, re.Pattern[str]]:
    """Per control task: the pattern of a file named as the map that task would make."""
    section = default_lexicon().raw["controls"]
    template = str(section["given"])
    return {task: re.compile(expand(template.replace("<MAP>", str(words))), re.I)
            for task, words in section["maps"].items()}


@cache
def _map_only_rx() -> re.Pattern[str]:
    """A picture's whole prompt that only names a condition map ("the depth image of it")."""
    section = default_lexicon().raw["controls"]
    maps = "|".join(f"(?:{words})" for words in section["maps"].values())
    return re.compile(str(section["map_only"]).replace("<MAP>", maps), re.I)


def map_only(found: list[Detection]) -> list[Detection]:
    """``found`` without a picture whose prompt only names a map that a task of the request extracts ("I must
    make a depth map ... Can you make the depth image of it?": the map is what is asked for, twice)."""
    extracted = {d.task for d in found} & set(default_lexicon().raw["controls"]["maps"])
    if not extracted:
        return found
    return [d for d in found if not (d.task == "text-to-image" and d.capture and names_only_a_map(d.capture))]


def names_only_a_map(text: str) -> bool:
    """Whether ``text`` (a prompt, or a clause that asks to make something) only names a condition map: "the depth
    image of it", "Can you make the depth image of it?"."""
    asked = pattern("controls", "map_request_lead").match(text)
    return _map_only_rx().fullmatch(text[asked.end() if asked else 0 :].strip()) is not None


def given_maps(req: ParsedRequest, found: list[Detection], controlled: dict[str, str],
               tools: set[str]) -> list[Detection]:
    """``found`` with the maps the user gives used as such: their extraction dropped, generation guided by them
    (``controlled``: the generator of each control task)."""
    out = list(found)
    for task, rx in _given_rx().items():
        generator = controlled.get(task)
        if generator not in tools:
            continue
        spans = [m.span() for m in rx.finditer(req.masked)
                 if req.resources_in(m.start(), m.end(), "image") and _had(req, m.start(), m.end())]
        if not spans:
            continue
        near = [_near(req, a) for a, _ in spans]
        out = [_as_guided(d, generator) if _makes_picture(req, d) and any(a <= d.start < b for a, b in near)
               else d for d in out]
        if not any(d.task == generator for d in out):
            made = _asked_after(req, spans[0][1], out, generator)
            if made is None:
                continue  # nothing is generated under the map: a map asked about stays as it was
            out.append(made)
        out = [d for d in out if not (d.task == task and _extracts_given(req, d, spans))]
    return out


def referred_maps(req: ParsedRequest, found: list[Detection], controlled: dict[str, str], earlier_image: bool
                  ) -> list[Detection]:
    """``found`` without the extraction of a map the request points back at ("then based on the above canny image
    and a prompt '...', generate a new image"), when a picture is generated under it, the request names no
    picture and an earlier turn's picture is the latest one (``earlier_image``): that picture is the map, and the
    generator reads it."""
    if not earlier_image or req.resources_in(0, len(req.masked), "image"):
        return found
    generators = {d.task for d in found}
    referred = pattern("controls", "referred")
    return [d for d in found if not (controlled.get(d.task) in generators
                                     and referred.search(req.masked, max(0, d.start - 30), d.start))]


def shared_prompt(req: ParsedRequest, found: list[Detection], controlled: dict[str, str], tools: set[str]
                  ) -> list[Detection]:
    """``found`` with a picture guided by each of its maps when one quoted prompt is said to serve them all ("2
    variants / one from depth, one from soft edges (hed) / prompt for both: '...'"), and no picture is asked for
    otherwise."""
    maps = [d for d in found if controlled.get(d.task) in tools]
    if len(maps) < 2 or any(d.task in controlled.values() for d in found):
        return found
    said = pattern("controls", "shared_prompt").search(req.masked)
    quote = next((q for q in req.quotes if said and q.start >= said.end()), None)
    if quote is None:
        return found
    return [*found, *(Detection(controlled[d.task], d.end, d.end, capture=quote.text) for d in maps)]


def _had(req: ParsedRequest, start: int, end: int) -> bool:
    """Whether the map phrase at ``start:end`` names a map the user has, not one asked for: a label before a colon
    ("canny edges: x.jpg. then gen '...'") asks for the map, unless words of having come before or in it or the file
    is named like a map; any other phrase ("the line drawing x.png", "x.png (already a normal map)") names one."""
    if req.masked[start] != "0" and pattern("controls", "asked_before").search(req.masked, max(0, start - 30), start):
        return False  # "kindly produce a depth map of the photograph, x.jpg": asked for, made from x.jpg
    if req.masked[start] == "0" or ":" not in req.masked[start:end]:
        return True
    sentence = req.sentence_at(start)
    if pattern("controls", "possession").search(req.masked, sentence.start, end):
        return True
    return any(pattern("controls", "map_file").search(r.name.lower()) for r in req.resources_in(start, end, "image"))


def _extracts_given(req: ParsedRequest, d: Detection, spans: list[tuple[int, int]]) -> bool:
    """Whether the control detection ``d`` only names the given map (its words are in the phrase, or its clause
    holds no picture but the given file), rather than asking for a map of another picture."""
    if any(a <= d.start < b for a, b in spans):
        return True
    clause = req.clause_at(d.start)
    own = req.resources_in(clause.start, clause.end, "image")
    return all(any(a <= r.start < b for a, b in spans) for r in own)


def _near(req: ParsedRequest, pos: int) -> tuple[int, int]:
    """The sentence at ``pos`` and the next one: where a picture asked for is made under the map named there."""
    here = req.sentence_at(pos)
    later = [s for s in req.sentences if s.start >= here.end]
    return here.start, (later[0].end if later else here.end)


def _asked_after(req: ParsedRequest, end: int, found: list[Detection], generator: str) -> Detection | None:
    """A picture asked for after a given map in words no trigger knows: a step that asks to make something ("u can
    generate a mannequin in a linen suit with it?"), else a quote ("x.png (already a normal map) -> 'a relief'")."""
    for clause in req.clauses:
        start = max(clause.start, end)
        if clause.end <= end or any(start <= d.start < clause.end for d in found):
            continue
        m = pattern("generation", "guided_step").search(req.masked, start, clause.end)
        if m and m.group(1).strip():
            prompt = guided_prompt(req.text[m.start(1) : m.end(1)].rstrip(" ?"))
            return Detection(generator, m.start(1), m.end(1), capture=prompt)
    quote = next((q for q in req.quotes if q.start >= end
                  and not any(q.start <= d.start < q.end or d.capture == q.text for d in found)), None)
    return Detection(generator, quote.start, quote.end, capture=quote.text) if quote else None


def edits_of_maps(req: ParsedRequest, found: list[Detection], controlled: dict[str, str],
                  tools: set[str]) -> list[Detection]:
    """An image edit into a new thing ("... and then turn it into an oil painting of a lighthouse"), in the clause
    of a condition map or the next one, is generation guided by that map."""
    out = list(found)
    for ctrl in [d for d in found if controlled.get(d.task) in tools]:
        here = req.clause_at(ctrl.start).index
        for i, d in enumerate(out):
            if d.task == "image-to-image" and _makes_picture(req, d) and d.start > ctrl.end \
                    and req.clause_at(d.start).index in (here, here + 1):
                out[i] = _as_guided(d, controlled[ctrl.task])
    return out


def maps_not_edits(req: ParsedRequest, found: list[Detection], controlled: dict[str, str]) -> list[Detection]:
    """"turn skate.jpg into the pose thing with the stick figure": an edit whose described result is a condition map
    asked for in the same words is that map's extraction, not an edit too."""
    def holds_map(d: Detection) -> bool:
        clause = req.clause_at(d.start)
        end = min(clause.end, d.end + len(str(d.capture)) + 2)
        return any(c.task in controlled and d.end <= c.start < end for c in found)

    return [d for d in found if not (d.task == "image-to-image" and d.capture and holds_map(d))]


def _makes_picture(req: ParsedRequest, d: Detection) -> bool:
    """A request for a new picture: text-to-image, or an edit whose words name a new thing ("into a hoverbike",
    "into 'oil painting of a jazz musician'")."""
    if d.task == "text-to-image":
        return True
    if d.task != "image-to-image":
        return False
    if any(0 <= q.start - d.end <= 3 for q in req.quotes):
        return True  # the new thing is quoted right after the words ("turn it into '...'")
    articles = default_lexicon().words("generation", "new_articles")
    return bool(d.capture) and str(d.capture).split()[0].lower() in articles


def _as_guided(d: Detection, generator: str) -> Detection:
    return replace(d, task=generator, capture=guided_prompt(d.capture) if d.capture else d.capture)
