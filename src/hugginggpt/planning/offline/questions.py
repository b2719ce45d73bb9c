"""Question routing of the rule-based detector: a question about an image, a document or a text.

A question asked in quotes, by a sentence that asks for no task, or in words ("the question is ...") becomes
visual, document or text question answering, by what the request has to ask about; with nothing to ask about it is
left to the LLM. The wording (question words, politeness) is the lexicon's ``parsing`` and ``questions`` sections.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from .lexicon import default_lexicon, pattern
from .text import ParsedRequest, as_question, clause_question, extract_question, field_question, reported_question
from .types import Available, Detection, ToolInfo


class QuestionRules:
    """The question rules of ``KeywordDetector`` (which provides the media checks they use)."""

    tools: dict[str, ToolInfo]
    _question_rx: list[re.Pattern[str]]

    def media_in(self, req: ParsedRequest, start: int, end: int) -> set[str]:
        raise NotImplementedError

    def has_pronoun(self, req: ParsedRequest, start: int, end: int) -> bool:
        raise NotImplementedError

    def mentions_document(self, req: ParsedRequest) -> bool:
        raise NotImplementedError

    def document_noun_in(self, text: str) -> bool:
        raise NotImplementedError

    def _questions(self, req: ParsedRequest, avail: Available, found: list[Detection]) -> list[Detection]:
        """Route questions to visual, document or text question answering, or leave them to the LLM."""
        asked, quoted_only = self._quoted_questions(req, found)
        chat = any(d.task == "conversational" and d.capture is None and not d.clause_words for d in found)
        if not (chat and not req.resources and not avail.user_media):
            # (a chat about no file takes the whole message: "chat with me? what's the best way to spend a rainy day?")
            asked += self._sentence_questions(req, found, asked)
            asked += self._worded_questions(req, asked)
        asked += _field_questions(req, found, asked, self.document_noun_in)
        asked += _elliptic_questions(req, found, asked)
        out = list(found)
        for pos, question in sorted(asked):
            if (_answered_by_task(question, found) or pattern("questions", "about_assistant").search(question)
                    or (found and pattern("questions", "opinion_only").search(question))):
                # (or a question about the assistant: "what kinds of tasks are you able to help with?"; or only a
                # tag after a task: "is this review good or bad, what do you reckon?")
                continue
            task = self._route_question(req, avail, pos, found)
            if pos in quoted_only and task == "question-answering":
                continue  # without an image to ask about, a bare quoted question is text for another task
            if task == "question-answering" and _quotes_inside(req, question):
                continue  # "what does the abbreviation 'c.' signify?": a quote inside the question is no passage
            if task and task in self.tools:
                out.append(Detection(task, pos, pos + 1, question=question))
        return out

    @staticmethod
    def _quoted_questions(req: ParsedRequest, found: list[Detection]) -> tuple[list[tuple[int, str]], set[int]]:
        """Questions in quotes, and those of them nobody says to answer ("the phrase is 'Ça va?'")."""
        asked: list[tuple[int, str]] = []
        quoted_only: set[int] = set()
        for q in req.quotes:
            clause = req.clause_at(q.start)
            busy = [d for d in found if clause.start <= d.start < clause.end]
            asks = pattern("questions", "asks").search(req.masked[clause.start : clause.end])
            # "translate 'Wo ist der Bahnhof?'": a quoted question in a clause that asks for another task is
            # that task's text, not a question for the planner to route.
            if any(d.task == "conversational" for d in busy):
                continue  # "answer this chat message: 'Free on Sunday?'": the question is the message to reply to
            if q.text.endswith("?") and (not busy or asks):
                asked.append((q.start, q.text))
                if not asks:
                    quoted_only.add(q.start)
        return asked, quoted_only

    @staticmethod
    def _sentence_questions(req: ParsedRequest, found: list[Detection],
                            asked: list[tuple[int, str]]) -> list[tuple[int, str]]:
        """Questions asked by sentences that ask for no task and hold no quoted question."""
        out = []
        for s in req.sentences:
            if any(s.start <= p < s.end for p, _ in asked):
                continue
            if not any(s.start <= d.start < s.end for d in found):
                question = extract_question(s, req.masked[s.start : s.end], bool(req.resources_in(s.start, s.end)))
                if question is None and not found and req.resources:
                    question = reported_question(s.text)  # "my roommate is asking me what color the flag is"
                if question:
                    out += _split_joined(req, s.start, s.end, question)
                continue
            # The sentence asks for a task ("what is in this photo?"); a clause of it that asks none may still ask
            # a question ("describe b.jpg, then tell me if there's a dog in a.jpg").
            before = len(out)
            for c in req.clauses:
                lead = req.text[c.start : s.start]  # a clause may begin at the space before its sentence
                if (s.start <= c.start or not lead.strip()) and c.start < s.end and c.end <= s.end \
                        and not any(c.start <= d.start < c.end for d in found):
                    question = clause_question(req, c, asked=s.text.rstrip().endswith("?"))
                    if question:
                        out.append((c.start, question))
            if len(out) == before and s.text.rstrip().endswith("?"):
                out += _joined_question(req, s.start, s.end, found)
        return out

    def _worded_questions(self, req: ParsedRequest, asked: list[tuple[int, str]]) -> list[tuple[int, str]]:
        """Sentences that ask to answer a question in words ("the question is ..."), unless already asked."""
        out: list[tuple[int, str]] = []
        for rx in self._question_rx:
            for m in rx.finditer(req.masked):
                sentence = req.sentence_at(m.start())
                if any(sentence.start <= p < sentence.end for p, _ in asked + out):
                    continue  # the question itself is already there (quoted or asked)
                out.append((m.start(), sentence.text))
        return out

    def _route_question(self, req: ParsedRequest, avail: Available, pos: int, found: list[Detection]) -> str | None:
        """The QA task for a question at ``pos``: about an image or document if one is at hand, else a text."""
        sentence = req.sentence_at(pos)
        earlier = [self.tools[d.task] for d in found if d.start < pos and d.task in self.tools]
        image = (
            any(r.media == "image" for r in req.resources if not r.output)
            or "image" in avail.user_media
            or any("image" in t.outputs for t in earlier)
            or (
                "image" in avail.history_media
                and (
                    "image" in self.media_in(req, sentence.start, sentence.end)
                    or self.has_pronoun(req, sentence.start, sentence.end)
                )
            )
        )
        if image:
            return "document-question-answering" if self.mentions_document(req) else "visual-question-answering"
        # "voicemail.wav what address did they say": asked of a recording the sentence names, answered from its
        # transcript (not "what is the man saying", which the transcript is, nor "what is making the sound", which
        # is about the sound, not the words)
        lead = pattern("parsing", "polite").match(req.masked[pos : sentence.end])  # "can you work out what ..."
        asked_at = pos + (lead.end() if lead else 0)
        audio = (bool(req.resources_in(sentence.start, sentence.end, "audio"))
                 and bool(pattern("questions", "wh_asked").match(req.masked, asked_at, sentence.end))
                 and not pattern("questions", "whole_transcript").match(req.masked, pos, sentence.end)
                 and not pattern("questions", "about_sound").search(req.masked, pos, sentence.end))
        text = (
            any(not q.text.endswith("?") for q in req.quotes)
            or any(r.media == "text" for r in req.resources)
            or audio
            or any("text" in t.outputs for t in earlier)
            or ("text" in avail.history_media and self.has_pronoun(req, sentence.start, sentence.end))
        )
        return "question-answering" if text else None


def _quotes_inside(req: ParsedRequest, question: str) -> bool:
    """Whether the quotes of a request with no text file lie inside a longer question ("what does 'c.' before a
    date signify?"): part of the question, so no passage to answer it from (a question that is a quote is not).
    A few words quoted elsewhere are no passage either ("is 'data' singular or plural? he insists on 'the data
    are'")."""
    bare = question.strip(" ?!.'\"")
    inside = [q for q in req.quotes if q.text in question and q.text.strip(" ?!.'\"") != bare]
    return bool(inside) and not any(r.media == "text" for r in req.resources) and all(
        len(q.text.split()) < _PASSAGE_WORDS for q in req.quotes if q not in inside)


_PASSAGE_WORDS = 5  # a quote shorter than this, outside the question, is a term, not a passage to answer from


def _joined_question(req: ParsedRequest, start: int, end: int, found: list[Detection]) -> list[tuple[int, str]]:
    """"x.jpg how many ppl on the wall and is anyone not wearing a harness??": a question joined by "and" after the
    sentence's last task, in a clause of that task, is asked too."""
    last = max((d.end for d in found if start <= d.start < end), default=start)
    m = pattern("questions", "joined").search(req.masked, last, end)
    if m is None:
        return []
    text = req.text[m.end() : end].strip().rstrip(" ?!.")
    return [(m.end(), as_question(text))] if text else []


def _split_joined(req: ParsedRequest, start: int, end: int, question: str) -> list[tuple[int, str]]:
    """"how much did I pay for the voile, and what is the date written on it?": a sentence's question with a
    second one joined by "and" is two questions, each asked on its own (one answer each)."""
    joined = _joined_question(req, start, end, [])
    if not joined:
        return [(start, question)]
    pos, second = joined[0]
    body, tail = question.rstrip(" ?!."), second.rstrip("?")
    at = body.lower().rfind(tail.lower())
    first = pattern("questions", "join_tail").sub("", body[:at]) if at > 0 else ""
    if len(first.split()) < 2 or len(tail.split()) < 2:
        return [(start, question)]
    return [(start, as_question(first)), (pos, second)]



def _answered_by_task(question: str, found: list[Detection]) -> bool:
    """Whether ``question`` only asks what a task of the request answers: a comparison with a count
    ("count the cars in x.jpg and tell me if there are more than 10") or a choice between labels that a
    classification makes ("what sound is in noise.wav? is it a dog or a car?", "Is it spam or genuine? Labels: ...")."""
    tasks = {d.task for d in found}
    answered_by = default_lexicon().raw["questions"]["answered_by"]  # follow-up pattern -> the tasks that answer it
    return any(tasks & set(by) and pattern("questions", key).match(question) for key, by in answered_by.items())


def _field_questions(req: ParsedRequest, found: list[Detection], asked: list[tuple[int, str]],
                     document_noun_in: Callable[[str], bool]) -> list[tuple[int, str]]:
    """"I need the customer name from the purchase order po.png", "find the policy number in claim_form.png": a
    field asked of a document (named by a document noun, or a file whose name holds one), in a sentence that asks
    nothing else, is the question "What is the customer name?"."""
    out = []
    for m in pattern("questions", "document_field").finditer(req.masked):
        file = next((g for g in ("file", "file_before") if m.group(g)), None)
        if file and not document_noun_in(req.text[m.start(file) : m.end(file)]):
            continue  # a field of a picture that is no document ("find the dog in park.jpg")
        sentence = req.sentence_at(m.start())
        if any(sentence.start <= d.start < sentence.end for d in found) or any(
                sentence.start <= p < sentence.end for p, _ in asked):
            continue
        field = req.text[m.start("field") : m.end("field")]
        out.append((m.start(), field_question(field)))
    return out


def _elliptic_questions(req: ParsedRequest, found: list[Detection],
                        asked: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """"invoice.png - total due? due date?": a sentence of a few words and no verb, ending with a question mark,
    asks for the field it names ("What is the due date?"), when it names a file, another question came before it,
    or the request names a file and asks for no task ("look at dog.jpg. breed?"). A sentence that asks for a task
    or holds a question already is not one."""
    out: list[tuple[int, str]] = []
    for s in req.sentences:
        if any(s.start <= p < s.end for p, _ in asked) or any(s.start <= d.start < s.end for d in found):
            continue
        m = pattern("questions", "elliptic").match(req.masked[s.start : s.end])
        if m is None:
            continue
        earlier = any(p < s.start for p, _ in asked + out) or any(
            d.question and d.start < s.start for d in found)
        if earlier or req.resources_in(s.start, s.end) or (req.resources and not found):
            field = req.text[s.start + m.start("field") : s.start + m.end("field")]
            out.append((s.start, field_question(field)))
    return out
