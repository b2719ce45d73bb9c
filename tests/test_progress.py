"""Progress of long steps: a model load over a second is announced (and its end), a quick one is not; speech in
several chunks reports i/n per chunk (with the real espeak-ng program); a failing listener never breaks the work."""

from __future__ import annotations

import time
import wave
from io import BytesIO
from typing import Any

import pytest

from hugginggpt import progress
from hugginggpt.experts.base import Expert, ExpertOutput, ExpertResult
from hugginggpt.experts.embedded import audio
from hugginggpt.experts.embedded._speech import speech_chunks
from hugginggpt.experts.pool import ExpertPool
from hugginggpt.progress import Progress


class Recorder:
    def __init__(self) -> None:
        self.updates: list[Progress] = []

    def __call__(self, update: Progress) -> None:
        self.updates.append(update)

    def keyed(self, prefix: str) -> list[Progress]:
        return [u for u in self.updates if u.key.startswith(prefix)]


def loading_for(seconds: float, name: str) -> type[Expert]:
    """An expert whose load takes ``seconds`` (the time a model's weights take to read)."""

    def _load(self: Any) -> None:
        time.sleep(seconds)

    def run(self: Any, inputs: dict[str, Any]) -> ExpertResult:
        return ExpertResult(outputs=[ExpertOutput(kind="text", text=name)])

    return type(name, (Expert,), {"task": "text-generation", "model_id": f"test/{name}", "_load": _load, "run": run})


def test_a_load_over_a_second_is_announced_while_it_loads_and_closed_after():
    pool, seen = ExpertPool(budget_mb=1e9), Recorder()
    slow = loading_for(1.4, "slow")
    with progress.listening(seen):
        pool.get(slow)
    start, end = seen.keyed("load:")
    assert start == Progress("load:test/slow", "loading test/slow")
    assert end.finished and end.key == "load:test/slow" and 1.4 <= end.seconds < 5
    with progress.listening(seen):
        pool.get(slow)  # already loaded: nothing to announce
    assert len(seen.keyed("load:")) == 2


def test_a_quick_load_reports_nothing_and_no_listener_means_no_work():
    pool, seen = ExpertPool(budget_mb=1e9), Recorder()
    with progress.listening(seen):
        pool.get(loading_for(0.05, "quick"))
    time.sleep(1.1)  # past the threshold: the cancelled announcement never comes
    assert seen.updates == []
    assert not progress.active()


def test_slow_step_threshold_and_a_failing_listener():
    seen = Recorder()

    def broken(update: Progress) -> None:
        raise RuntimeError("display gone")

    with progress.listening(broken), progress.listening(seen), progress.slow_step("k", "working", after=0.05):
        time.sleep(0.3)
    assert [u.finished for u in seen.updates] == [False, True]
    assert seen.updates[1].seconds >= 0.3
    with pytest.raises(ValueError), progress.listening(seen):
        raise ValueError("the block's own error still propagates")
    assert not progress.active()


@pytest.mark.skipif(not audio.EspeakTTS.availability()[0], reason="espeak-ng program not installed")
def test_speech_in_chunks_reports_each_chunk_of_n():
    text = ("The first line is one chunk.\nThe second line is another one.\nAnd a third line ends the text.\n"
            "A fourth, to be sure.")
    n = len(list(speech_chunks(text)))
    assert n == 4
    seen = Recorder()
    with progress.listening(seen):
        result = audio.EspeakTTS().run({"text": text})
    updates = seen.keyed("tts:")
    assert [(u.done, u.total) for u in updates] == [(i, n) for i in range(n + 1)]
    assert [u.fraction for u in updates[:2]] == ["0/4", "1/4"]
    assert [u.finished for u in updates] == [False] * n + [True]
    with wave.open(BytesIO(result.outputs[0].data)) as w:  # the speech itself is whole
        assert w.getnframes() / w.getframerate() > 3.0
    seen.updates.clear()
    with progress.listening(seen):
        audio.EspeakTTS().run({"text": "One short sentence."})
    assert seen.updates == []  # one chunk: nothing to count


# --- the CLI's display ----------------------------------------------------------------------------------------------


def test_the_run_view_shows_a_step_while_it_lasts_and_only_on_a_terminal():
    from io import StringIO

    from rich.console import Console

    from hugginggpt.cli_progress import run_progress
    from hugginggpt.render import ProgressView

    terminal = Console(file=StringIO(), force_terminal=True, width=100)
    with ProgressView(terminal) as view, run_progress(view, terminal):
        assert progress.active()
        progress.report(Progress("tts:m", "speaking (m)", done=2, total=5))
        assert [str(s.text) for s in view.steps.values()] == ["speaking (m) 2/5 …"]
        progress.report(Progress("load:x", "loading x"))
        progress.report(Progress("tts:m", "speaking (m)", done=3, total=5))
        assert [str(s.text) for s in view.steps.values()] == ["speaking (m) 3/5 …", "loading x …"]
        terminal.print(view._render())
        assert "loading x" in terminal.file.getvalue()
        progress.report(Progress("load:x", "loading x", finished=True, seconds=1.5))
        assert list(view.steps) == ["tts:m"]
    assert not progress.active()

    piped = Console(file=StringIO(), force_terminal=False)
    with ProgressView(piped) as view, run_progress(view, piped):
        assert not progress.active()  # not a terminal: nothing listens, nothing is printed
        progress.report(Progress("load:x", "loading x"))
    assert view.steps == {} and piped.file.getvalue() == ""


def test_download_bars_follow_the_hubs_progress_calls():
    """The bar class driven as snapshot_download drives it: a file-count bar over a thread map, byte bars whose total
    grows, descriptions changed after the fact."""
    from io import StringIO

    from huggingface_hub.utils.tqdm import hf_thread_map
    from rich.console import Console

    from hugginggpt.cli_progress import download_progress

    console = Console(file=StringIO(), force_terminal=True, width=100)
    with download_progress(console) as bars:
        transfer = bars(desc="Downloading bytes", total=0, initial=0, unit="B", unit_scale=True)

        def fetch(size: int) -> int:
            transfer.total = (transfer.total or 0) + size
            transfer.refresh()
            for _ in range(4):
                transfer.update(size // 4)
            return size

        assert hf_thread_map(fetch, [4000, 8000, 12000], desc="Fetching 3 files", tqdm_class=bars) == [4000, 8000,
                                                                                                      12000]
        transfer.set_description_str("Download complete")
        tasks = {t.description: t for t in bars.prog.tasks}
        assert tasks["Fetching 3 files"].completed == 3 and tasks["Fetching 3 files"].total == 3
        done = tasks["Download complete"]
        assert done.completed == done.total == 24000 and done.fields["unit"] == "B"
        assert transfer.format_dict["n"] == 24000
    assert "24.0 kB" in console.file.getvalue()


# --- progress in a run's own event stream (CLI view, server events, web UI) -----------------------------------------

def test_a_runs_progress_reaches_its_own_events_and_the_ui_board(tmp_path) -> None:
    """Speech of several chunks, spoken by the real espeak-ng inside a run: the chunk i/n updates come as
    ``progress`` events of that run (from the expert's worker thread), and the web UI's board shows the step while it
    lasts. Progress made outside the run (a process-wide report) is not in the run's stream."""
    from hugginggpt import HuggingGPT, HuggingGPTConfig
    from hugginggpt.server.uiparts import ProgressBoard
    from planner_doubles import FixedPlanner

    text = "The first line is one chunk.\nThe second line is another one.\nAnd a third line ends the text."
    plan = [{"task": "text-to-speech", "id": 0, "dep": [-1], "args": {"text": text}}]
    config = HuggingGPTConfig(workspace=tmp_path / "ws", allowed_dirs=[tmp_path], cache=False,
                              overrides={"text-to-speech": "hugginggpt/espeak-ng"})
    agent = HuggingGPT(config, planner=FixedPlanner(plan), base_dir=tmp_path)
    events: list[Any] = []
    progress.report(Progress("outside", "not this run's"))  # nobody listens: dropped
    run = agent.run("read it aloud", on_event=events.append)
    assert run.status == "succeeded", run.results[0].error
    steps = [e for e in events if e.kind == "progress"]
    assert [(e.data["done"], e.data["total"]) for e in steps] == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert [e.status for e in steps] == ["running"] * 3 + ["done"]
    assert all(e.data["key"].startswith("tts:") for e in steps)

    board = ProgressBoard()
    for e in steps[:2]:
        board.update(e.model_dump(mode="json"))
    assert "⏳" in board.progress_html() and "(1/3)" in board.progress_html()
    board.update(steps[-1].model_dump(mode="json"))
    assert "⏳" not in board.progress_html()
