"""How the offline planner fills a node's text slots, and finds the earlier nodes a clause refers to.

A text slot takes the first of the named rules of ``TextSlots._text_source``: the clause's own text, an earlier
task's output, another text of the request, the prompt of a generated medium the clause points at, an earlier
turn's text. ``GraphBuilder`` (``build.py``) mixes these rules in; the state they read is set by its constructor.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ...tasks import TaskRegistry, TaskType
from .counting import counted_label
from .detect import CONTROLLED, Detection, KeywordDetector
from .lexicon import default_lexicon, pattern
from .literals import guided_prompt
from .missing import missing_input, missing_labels
from .nodes import Node
from .text import ParsedRequest, Resource, Span

BRIDGES = {"image": "image-to-text", "audio": "automatic-speech-recognition"}
# Tasks that reword or analyse a text: after a verdict they take the text the verdict was about ("the sentiment of
# '...', then translate it"; "classify '...', also tag the named entities").
REWORDS = {"translation", "summarization", "text2text-generation", "text-classification", "token-classification",
           "zero-shot-classification"}
# Tasks whose text output is a verdict (a label, a score) rather than a text to work on: a bare "it" after them
# more likely means the user's own text than the verdict.
ANALYTIC = {
    "text-classification",
    "token-classification",
    "zero-shot-classification",
    "sentence-similarity",
    "image-classification",
    "audio-classification",
    "tabular-classification",
    "feature-extraction",
    "object-detection",
}


# Questions asked of a picture or a document: a summary after one summarises the picture's text, not the answer.
IMAGE_QUESTIONS = frozenset({"document-question-answering", "visual-question-answering"})
_GUIDED = frozenset(CONTROLLED.values())  # generation guided by a condition map
_MADE = frozenset({"image", "video", "audio"})  # media a task generates (from a prompt, for the generators)


class TextSlots:
    """The text-slot rules of ``GraphBuilder`` (the attributes below are set by its constructor)."""

    req: ParsedRequest
    detections: list[Detection]
    registry: TaskRegistry
    detector: KeywordDetector
    context: list[Resource]
    nodes: list[Node]
    used_quotes: set[int]
    kept_quotes: set[int]
    _result_nouns: set[str]
    _determiners: set[str]
    _ordinals: dict[str, int]
    _ref_rx: dict[str, re.Pattern[str]]
    _made_rx: dict[str, re.Pattern[str]]

    def _commit(self, node: Node) -> int:
        for other in self.nodes:
            if other.task == node.task and other.args == node.args and other.refs == node.refs:
                return other.key  # asked twice ("extract the text in sign.jpg ... the text in sign.jpg")
        node.key = len(self.nodes)
        self.nodes.append(node)
        return node.key

    # -- text slots -----------------------------------------------------------------------------------------
    def _fill_text(self, node: Node, tt: TaskType, det: Detection) -> None:
        text_slots = [s for s in tt.inputs if s.type == "text"]
        if not text_slots:
            return
        if node.task in ("visual-question-answering", "document-question-answering", "question-answering"):
            node.args["text"] = self._question(det, node.task)
            if tt.slot("context"):
                self._put(node, "context", self._text_source(node, det, capture=False))
            return
        if node.task == "sentence-similarity":
            first = self._text_source(node, det, capture=False)
            self._put(node, "text", first)
            second = self._text_source(node, det, capture=False, second=True)
            if isinstance(first, int) and isinstance(second, int) and second < first:
                node.refs["text"], second = second, first  # two outputs compared: keep them in order of mention
            self._put(node, "text2", second)
            return
        if node.task == "zero-shot-classification":
            if not det.labels:
                raise missing_labels(node.task)
            self._put(node, "text", self._text_source(node, det, capture=False))
            node.args["labels"] = det.labels
            return
        if self._optional_text(node, tt, det):
            return
        self._put(node, "text", self._text_source(node, det, capture=True))
        language = self._target_language(node) if tt.slot("language") else None
        if language:
            node.args["language"] = language  # translation's optional target ("... into German"); none: as asked

    def _optional_text(self, node: Node, tt: TaskType, det: Detection) -> bool:
        """The text slot of a task that reads it only as an optional hint; True when ``node`` is such a task."""
        if node.task == "object-detection":
            # The optional label: what a count asks for ("how many zebras" -> zebra); nothing when none is named.
            label = counted_label(self.req.masked, node.clause.start, node.clause.end)
            if label and tt.slot("text"):
                node.args["text"] = label
            return True
        if node.task == "image-to-image":
            own = self._clause_quote(node)
            prompt = own if own is not None else det.capture
            if prompt:
                node.args["text"] = prompt
            return True
        return False

    def _target_language(self, node: Node) -> str | None:
        """The language a translation goes into, named in its clause, else in its sentence ("... to German")."""
        languages = self.target_languages(node)
        return languages[0] if languages else None

    def target_languages(self, node: Node) -> list[str]:
        """Every language a translation goes into ("to German and to French": German, French)."""
        sentence = self.req.sentence_at(node.clause.start)
        rx = pattern("literals", "target_language")
        # after the task's own words first ("my abstract in Portuguese: '...' Please translate it for English")
        after = max(node.clause.start, min(int(node.pos), node.clause.end))
        m = self._first_match(rx, (after, node.clause.end), (node.clause.start, node.clause.end),
                              (sentence.start, sentence.end))
        if not m:
            return self._coded_language(node, sentence)
        found = [w.capitalize() for w in pattern("literals", "languages_in").findall(m.group(0))]
        return list(dict.fromkeys(found))

    def _coded_language(self, node: Node, sentence: Span) -> list[str]:
        """A language named by its code right after the verb ("| translate es"), in the clause, else the sentence."""
        m = self._first_match(pattern("literals", "target_code"), (node.clause.start, node.clause.end),
                              (sentence.start, sentence.end))
        codes = default_lexicon().raw["literals"]["language_codes"]
        return [str(codes[m.group(1).lower()]).capitalize()] if m else []

    def _first_match(self, rx: re.Pattern[str], *spans: tuple[int, int]) -> re.Match[str] | None:
        """The first match of ``rx`` in the masked request, trying ``spans`` in turn (the narrowest first)."""
        return next((m for a, b in spans if (m := rx.search(self.req.masked, a, b))), None)

    def _put(self, node: Node, slot: str, value: str | int) -> None:
        if isinstance(value, int):
            node.refs[slot] = value
        else:
            node.args[slot] = value

    def _text_source(self, node: Node, det: Detection, *, capture: bool, second: bool = False) -> str | int:
        """What fills a text slot: the first of the named rules below that finds a text."""
        found = self._given_text(node, det, capture)
        if found is None:
            found = self._separate_text(node)
        if found is None:
            found = self._earlier_output(node, second)
            found = self._text_a_verdict_read(node, found)
            found = self._text_an_answer_was_about(node, found)
        if found is None:
            found = self._request_text(node)
        if found is None:
            found = self._prompt_of_referred_media(node)
        if found is None:
            found = self._earlier_turn_text(node)
        if found is None and det.clause_words and det.capture:
            found = det.capture  # rule 6: the clause's own words, though they refer back to nothing found
        if found is None and node.task == "conversational":
            found = self.req.text.strip()  # rule 7: "hey chatbot, how's your day?" - the message is the request
        if found is None:
            found = self._reported_text(node)
        if found is None:
            found = self._described_look(node)
        if found is None:
            raise missing_input(node.task, "text")
        return found

    def _described_look(self, node: Node) -> str | None:
        """Rule 9: "I want to show the client how it looks with dark walnut cabinets ... Please use the lines for
        the new picture": a picture with no prompt of its own takes how the user said it should look (or what they
        want to make: "I want to make a Paris-Brest shaped like a wheel. Make me a picture of this")."""
        if "image" not in self._outputs(node):
            return None
        m = pattern("literals", "look_description").search(self.req.text)
        # (or what the user plans to make, said before "make me a picture of this")
        return (m.group("text") or m.group("text2")).strip() if m else None

    def _separate_text(self, node: Node) -> str | int | None:
        """Rule 1b: "2. Separately, a spoken version of the same notice": a clause that says it stands apart reads
        the text the task before it read, not that task's output."""
        clauses = [c for c in self.req.clauses if c.end <= node.clause.start]
        start = clauses[-1].start if clauses else node.clause.start  # "Separately" may be a clause of its own
        if not pattern("references", "separately").search(self.req.text[start : node.clause.end]):
            return None
        literal = self._latest_text_arg()
        if literal is not None:
            return literal
        # "transcribe it, then make a short summary AND separately pull out the names": the text the task before
        # read, when that is an earlier output (the transcript)
        key = self._latest(lambda n: "text" in n.refs)
        return self.nodes[key].refs["text"] if key is not None else None

    def _reported_text(self, node: Node) -> str | None:
        """Rule 8: "read me this text from my sister out loud she says running late ...": with no text found
        otherwise, the words someone says, to the end of the request, after the task's clause begins."""
        m = pattern("literals", "reported_text").search(self.req.text, node.clause.start)
        text = m.group("text").strip().rstrip(".! ") if m else ""
        return text if len(text.split()) >= 3 else None

    def _text_a_verdict_read(self, node: Node, found: str | int | None) -> str | int | None:
        """"review '...' -> positive or negative? also -> spanish": a translation or summary after a verdict (a label,
        a score) works on the text the verdict was about, not on the label."""
        if not isinstance(found, int) or node.task not in REWORDS:
            return found
        producer = self.nodes[found]
        text = producer.args.get("text")
        return text if producer.task in ANALYTIC and isinstance(text, str) and text else found

    def _text_an_answer_was_about(self, node: Node, found: str | int | None) -> str | int | None:
        """"what is the end date in contract.png, and can you make a short summary of the page?": a summary after an
        answer summarises what the question was asked of (the picture's text, read first; the question's context),
        not the answer."""
        if not isinstance(found, int) or node.task != "summarization":
            return found
        if not pattern("references", "whole_document").search(self.req.masked, node.clause.start, node.clause.end):
            return found  # "summarize that answer"; only "a summary of all the page" is the document's
        producer = self.nodes[found]
        if producer.task == "question-answering":
            context = producer.args.get("context")
            return context if isinstance(context, str) and context else found
        image = producer.args.get("image")
        reader = BRIDGES["image"]
        if producer.task not in IMAGE_QUESTIONS or not isinstance(image, str) or reader not in self.registry:
            return found
        return self._converter(node, reader, image)

    def _given_text(self, node: Node, det: Detection, capture: bool) -> str | int | None:
        """Rule 1: the clause's own text - a quote, the words after the trigger, or a file read by a converter."""
        if det.from_image:
            caption = self._caption_of_referred_image(node)
            if caption is not None:
                return caption
        own = self._clause_quote(node)
        if own is not None and node.task in _GUIDED:
            return guided_prompt(own) or own  # "new image: two robots wrestling, same pose" -> "two robots wrestling"
        if own is not None:
            return own
        if capture and det.capture and not self._is_reference(det.capture) and not self._points_back(node, det) \
                and not self._names_earlier_text(node, det.capture) and not self._builds_on_earlier(det.capture) \
                and self._quote_pointed_ahead(node) is None:  # "translate this paragraph. <the paragraph>"
            return self._same_subject(node, det.capture) or self._about_made(det.capture) or det.capture
        return self._bridge(node)

    def _about_made(self, text: str) -> str | None:
        """"draw a cat and write a poem about it": a text about "it" after a generated medium (and no text written
        before) is about that medium's prompt ("a poem about a cat")."""
        m = pattern("references", "about_made").search(text)
        if m is None:
            return None
        prompt = self._latest_made_prompt()
        return text[: m.start(1)] + prompt if prompt else None

    def _same_subject(self, node: Node, text: str) -> str | None:
        """"a pic of a raccoon gamer, and a short vid of the same thing for my intro": a medium made of "the same"
        takes the prompt of the latest medium made before it (its own words after "the same" say what it is for)."""
        if not pattern("references", "same_subject").match(text.strip()):
            return None
        return self._made_prompt(node)

    def _made_prompt(self, node: Node) -> str | None:
        """The prompt of the latest generated medium (image, video, audio), when ``node`` makes one too."""
        return self._latest_made_prompt() if _MADE & set(self._outputs(node)) else None

    def _latest_made_prompt(self) -> str | None:
        """The prompt of the latest medium (image, video, audio) generated from a literal text."""
        return self._latest_text_arg(lambda n: bool(_MADE & set(self._outputs(n))))

    def _latest_text_arg(self, also: Callable[[Node], bool] = lambda n: True) -> str | None:
        """The literal text argument of the latest task planned so far that has one (and passes ``also``)."""
        key = self._latest(lambda n: isinstance(n.args.get("text"), str) and also(n))
        return str(self.nodes[key].args["text"]) if key is not None else None

    def _builds_on_earlier(self, text: str) -> bool:
        """"a bedtime story based on that description": writing from an earlier text output, when there is one."""
        return bool(pattern("literals", "builds_on").search(text)) and self._has_earlier_text()

    def _has_earlier_text(self) -> bool:
        """Whether a task planned so far outputs a text."""
        return self._latest(lambda n: "text" in self._outputs(n)) is not None

    def _names_earlier_text(self, node: Node, text: str) -> bool:
        """"transcribe memo.wav and then translate the recipe": a definite noun of a word or two, in a task that
        works on a text (not a prompt for a picture or a video), names an earlier task's text output."""
        words = text.lower().split()
        if not 2 <= len(words) <= 3 or words[0] not in self._determiners:
            return False
        if {"image", "video"} & set(self.registry.get(node.task).outputs):
            return False
        return self._has_earlier_text()

    def _points_back(self, node: Node, det: Detection) -> bool:
        """A clause taken whole as the text ("and then read it loud for me") that refers back ("it", "that
        summary"): an earlier output or prompt is its text, and its own words only when there is none."""
        return det.clause_words and self.detector.has_pronoun(self.req, node.clause.start, node.clause.end)

    def _caption_of_referred_image(self, node: Node) -> int | None:
        """A caption of the image that "similar to this one" points at: the clause's own image, else the latest
        image the request names before it, else an attached one, else one of an earlier turn."""
        task = BRIDGES["image"]
        if task not in self.registry:
            return None
        clause = node.clause
        named = [r for r in self.req.resources if r.media == "image" and not r.output and r.start < clause.end]
        own = [r for r in named if r.start >= clause.start]
        attached = [r for r in self.context if r.media == "image" and r.origin != "history"]
        earlier = [r for r in self.context if r.media == "image"]
        candidates = own or named or attached or earlier
        if not candidates:
            return None
        return self._converter(node, task, candidates[-1].name)

    def _earlier_output(self, node: Node, second: bool) -> int | None:
        """Rule 2: an earlier task's text output, named ("the description") or implied (a chain, "it")."""
        clause = node.clause
        taken = set(node.refs.values())
        referenced = self._referenced(node, "text", exclude=taken)
        if referenced is not None:
            return referenced
        producer = self._latest(lambda n: "text" in self._outputs(n) and n.key not in taken)
        if producer is None:
            return None
        pronoun = self.detector.has_pronoun(self.req, clause.start, clause.end)
        # A verdict (a label, a score) followed by "it" and an earlier quote: "it" is more likely the user's text.
        analytic = self.nodes[producer].task in ANALYTIC
        quote_before = any(q.start < clause.start for q in self.req.quotes if q.start not in self.kept_quotes)
        unused = self._unused_quote()
        if clause.chained or (unused is None and not (analytic and pronoun and quote_before and not second)):
            return producer
        return producer if pronoun and not analytic else None

    def _request_text(self, node: Node) -> str | int | None:
        """Rule 3: a text the request gives elsewhere - an unused quote, a text file, the one image that holds it."""
        unused = self._unused_quote(node) or self._quote_pointed_ahead(node)
        if unused is not None:
            self.used_quotes.add(unused.start)
            return unused.text
        texts = [r for r in self.req.resources if r.media == "text" and not r.output]
        if texts:
            return texts[0].name
        # "a summary of the article, saved as page.jpg": the only image holds the text
        return self._bridge(node, anywhere=True)

    def _prompt_of_referred_media(self, node: Node) -> str | None:
        """Rule 4: "make a picture of a cat, then turn it into a video": the prompt of the generated medium the
        clause points at ("it", "the picture") is the new task's text."""
        if not self.detector.has_pronoun(self.req, node.clause.start, node.clause.end):
            return None  # only a medium made from the same prompt: "a picture of a fox, then turn it into a clip"
        return self._made_prompt(node)

    def _earlier_turn_text(self, node: Node) -> str | None:
        """Rule 5: "it" with nothing in this request - an earlier turn's text, or a quote of an earlier clause."""
        clause = node.clause
        if not self.detector.has_pronoun(self.req, clause.start, clause.end):
            return None
        history = [r for r in self.context if r.media == "text"]
        if history:
            return history[-1].name
        previous = [q for q in self.req.quotes if q.start < clause.start and q.start not in self.kept_quotes]
        return previous[-1].text if previous else None

    def _free(self, q: Span) -> bool:
        """Whether no task has taken quote ``q`` and none keeps it as its own."""
        return q.start not in self.used_quotes and q.start not in self.kept_quotes

    def _clause_quote(self, node: Node) -> str | None:
        for q in self.req.quotes_in(node.clause.start, node.clause.end):
            if self._free(q) and not self._title_quote(node, q):
                self.used_quotes.add(q.start)
                return q.text
        return None

    def _title_quote(self, node: Node, q: Span) -> bool:
        """"kindly render the transcribed text into English ... under 'Inscriptions'": a quote that names what a
        result is filed as, in a clause that names an earlier result, is no text of the clause's task."""
        title = pattern("references", "quote_title").search(self.req.text, max(0, q.start - 20), q.start)
        return title is not None and self._referenced(node, "text") is not None

    def _quote_pointed_ahead(self, node: Node) -> Span | None:
        """"summarise the following extract and then translate the summary: '...'": a clause that points ahead at a
        text takes the next quote, though a later task's clause holds it (that task then reads this one's output).
        So does a first step with no text of its own when the next step, chained to it, ends in a colon and the
        quote ("translate to English then check the feeling of it: '...'")."""
        following = next((q for q in self.req.quotes if q.start >= node.clause.end and self._free(q)), None)
        if pattern("literals", "points_ahead").search(self.req.masked, node.clause.start, node.clause.end):
            return following
        if following is None or self.req.quotes_in(node.clause.start, node.clause.end):
            return None
        clause = self.req.clause_at(following.start)
        colon = self.req.masked[clause.start : following.start].rstrip(" '\"\u201c\u2018").endswith(":")
        return following if clause.chained and clause.index == node.clause.index + 1 and colon else None

    def _unused_quote(self, node: Node | None = None) -> Span | None:
        """A quote no task has taken; for ``node``, none that a task of a later clause will take as its own text
        ("..., then make a reply audio saying '...'")."""
        return next(
            (q for q in self.req.quotes if self._free(q) and not (node and self._claimed_later(q, node))),
            None,
        )

    def _claimed_later(self, quote: Span, node: Node) -> bool:
        clause = self.req.clause_at(quote.start)
        if clause.start <= node.clause.start or not clause.chained:
            return False  # only a later step ("..., then ... saying '...'") keeps its quote
        placed = {(n.clause.start, n.task) for n in self.nodes}
        return any(clause.start <= d.start < clause.end and (clause.start, d.task) not in placed
                   for d in self.detections)

    def _bridge(self, node: Node, anywhere: bool = False) -> int | None:
        """A converter in front of a text slot whose clause (or, ``anywhere``, request) names an image or audio."""
        if any(s.type != "text" for s in self.registry.get(node.task).inputs):
            return None  # a task with its own file slots ("draw X in the pose of man.jpg") needs no converter
        consumed = set(node.args.values())
        if anywhere:
            # Only a file no task reads yet: otherwise the text most likely comes from that task's output.
            consumed |= {v for n in self.nodes for v in n.args.values()}
        start, end = (0, len(self.req.text)) if anywhere else (node.clause.start, node.clause.end)
        for r in self.req.resources_in(start, end):
            task = BRIDGES.get(r.media)
            if r.name in consumed or task is None or task not in self.registry:
                continue
            return self._converter(node, task, r.name)
        return None

    def _converter(self, node: Node, task: str, name: str) -> int:
        """A ``task`` (image-to-text, speech recognition) that reads the file ``name`` into a text, in front of
        ``node`` and in its clause."""
        slot = self.registry.get(task).inputs[0].name
        return self._commit(Node(len(self.nodes), task, node.pos - 0.5, node.clause, {slot: name}))

    def _question(self, det: Detection, task: str) -> str:
        # Asked by wording ("the main topic of this document") rather than as a question: the sentence is the query.
        question = det.question or self.req.sentence_at(det.start).text
        nouns = self.detector.lexicon.raw["references"]["question_nouns"]
        noun = nouns["document" if task == "document-question-answering" else "image"]
        for r in self.req.resources:
            named = noun if r.media == "image" else nouns.get(r.media, noun)  # "in voicemail.wav": "in the recording"
            question = re.sub(r"['\"]?" + re.escape(r.name) + r"['\"]?", named, question)
        # One task per file ("how many horses are in them?"): each asks about its own image.
        question = pattern("references", "question_double").sub(r"\1", question)
        return pattern("references", "question_plural").sub(r"\1 " + noun + "?", question)

    # -- references to earlier nodes ------------------------------------------------------------------------
    def _outputs(self, node: Node) -> list[str]:
        return list(self.registry.get(node.task).outputs)

    def _latest(self, pred: Callable[[Node], bool]) -> int | None:
        for n in reversed(self.nodes):
            if pred(n):
                return n.key
        return None

    def _referenced(self, node: Node, media: str, exclude: set[int] | None = None) -> int | None:
        """An earlier node the clause refers to by its output's name ("the description", "the mask")."""
        lang = pattern("references", "in_language").search(self.req.masked, node.clause.start, node.clause.end)
        if lang:  # "the French summary": the latest node that wrote French
            key = self._latest(lambda n: n.args.get("language", "").lower() == lang.group(1).lower()
                               and media in self._outputs(n) and n.key not in (exclude or set()))
            if key is not None:
                return key
        found: list[tuple[int, int]] = []
        for n in self.nodes:
            rx = self._ref_rx.get(n.task)
            if rx is None or media not in self._outputs(n) or (exclude and n.key in exclude):
                continue
            m = rx.search(self.req.masked, node.clause.start, node.clause.end)
            if m:
                found.append((m.start(), n.key))
        if not found:
            return self._made(node, media, exclude or set())
        # A clause that names one result, then asks for another from "the summary": the reference after the task's
        # own words, when there is one ("the transcript, a summary of that, and a Spanish version of the summary").
        after = [(pos, key) for pos, key in found if pos > node.pos and self.nodes[key].pos < pos]
        found = after or found
        first = min(pos for pos, _ in found)
        keys = [k for pos, k in found if pos == first]  # the nodes the earliest reference may name, in order
        nth = pattern("references", "ordinal").search(self.req.masked, node.clause.start, node.clause.end)
        index = self._ordinals.get(nth.group(1).lower(), -1) if nth else -1
        return keys[index] if -len(keys) <= index < len(keys) else keys[-1]  # "the first caption", else the latest

    def _made(self, node: Node, media: str, exclude: set[int]) -> int | None:
        """"describe the generated image": the latest earlier node whose output is ``media``, named as made."""
        rx = self._made_rx.get(media)
        if rx is None or not rx.search(self.req.masked, node.clause.start, node.clause.end):
            return None
        return self._latest(lambda n: media in self._outputs(n) and n.key not in exclude)

    def _is_reference(self, text: str) -> bool:
        words = text.lower().split()
        if not words:
            return True
        joined = " ".join(words)
        if pattern("references", "bare").fullmatch(joined) or pattern("references", "reply_to").fullmatch(joined):
            return True
        if pattern("references", "leading_how").match(joined):
            return True  # "it out loud to me slowly please i dont under stand all them big words": "it", said so
        # "the translated text", "the identified categories": a short phrase ending in a word for a result (not a
        # new one: "a stormy version")
        if len(words) <= 6 and words[-1].strip(".,!?") in self._result_nouns and words[0] not in ("a", "an"):
            return True
        # "it too for my daughter", "that summary for our desk", "that matches it": a short phrase led by one
        if len(words) <= 8 and (pattern("references", "leading").match(text.strip())
                                or (len(words) > 1 and words[0] in self._determiners
                                    and words[1].strip(".,!?") in self._result_nouns)):
            return True
        return any(rx.fullmatch(text) for rx in self._ref_rx.values())
