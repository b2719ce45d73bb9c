"""The expert boundary in isolation: what ``check_result`` accepts and refuses, and the daemon worker threads."""

from __future__ import annotations

import asyncio
import io
import threading
import wave

import pytest
from PIL import Image

from hugginggpt.errors import ExpertCrashed, ExpertError, ExpertOutputError, ExpertUnavailable, MediaTooLarge
from hugginggpt.execution.outputs import check_result
from hugginggpt.experts.base import ExpertOutput, ExpertResult
from hugginggpt.experts.workers import DaemonExecutor, ExpertWorkers, contained


def png(size: tuple[int, int] = (32, 24)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buf, format="PNG")
    return buf.getvalue()


def wav(frames: int = 800) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * frames)
    return buf.getvalue()


def test_well_formed_outputs_pass_unchanged() -> None:
    result = ExpertResult([ExpertOutput("text", text="a cat"), ExpertOutput("image", data=png(), ext=".png"),
                           ExpertOutput("audio", data=wav(), ext=".wav"),
                           ExpertOutput("json", text='{"labels": ["cat"]}')], {"labels": [{"label": "cat"}]})
    checked, facts = check_result(result, "m")
    assert [c.kind for c in checked] == ["text", "image", "audio", "json"]
    assert checked[0].text == "a cat" and checked[1].data == png() and checked[3].ext == ".json"
    assert facts == {"labels": [{"label": "cat"}]}


@pytest.mark.parametrize(("result", "words"), [
    (None, "returned None instead of an ExpertResult"),
    ({"outputs": []}, "returned a dict instead of an ExpertResult"),
    (ExpertResult([]), "returned no outputs"),
    (ExpertResult(["text"]), "output 0 is a str, not an ExpertOutput"),  # type: ignore[list-item]
    (ExpertResult([ExpertOutput("text", text=None)]), "text output 0 holds None"),
    (ExpertResult([ExpertOutput("image", data=b"")]), "image output 0 has no data"),
    (ExpertResult([ExpertOutput("image", data=png()[: len(png()) // 2])]), "image output 0 is broken"),
    (ExpertResult([ExpertOutput("image", data=b"GIF89a" + b"\0" * 20)]), "image output 0 is not an image PIL can"),
    (ExpertResult([ExpertOutput("audio", data=b"ID" + b"\0" * 40)]), "audio output 0 is not a WAV"),
    (ExpertResult([ExpertOutput("audio", data=b"RIFF\0\0\0\0WAVEdata")]), "not a WAV"),  # no fmt chunk, no samples
    (ExpertResult([ExpertOutput("video", data=b"not a video at all")]), "video output 0 is not a GIF/M4A/MP4"),
    (ExpertResult([ExpertOutput("json", text="{not json")]), "json output 0 is not JSON"),
    (ExpertResult([ExpertOutput("text", text="x")], data=["a"]), "facts as a list"),  # type: ignore[arg-type]
    (ExpertResult([ExpertOutput("text", text="x")], data={"f": object()}), "cannot be recorded as JSON"),
])
def test_malformed_results_are_named_errors(result, words: str) -> None:
    with pytest.raises(ExpertOutputError) as err:
        check_result(result, "some/model")
    assert words in err.value.message and err.value.message.startswith("some/model ")
    assert err.value.code == "expert_bad_output" and err.value.hint


def test_an_image_output_over_the_pixel_limit_is_media_too_large() -> None:
    from hugginggpt.imaging import max_image_pixels, set_max_image_pixels

    before = max_image_pixels()
    set_max_image_pixels(1000)
    try:
        with pytest.raises(MediaTooLarge):
            check_result(ExpertResult([ExpertOutput("image", data=png((64, 64)))]), "m")
    finally:
        set_max_image_pixels(before)


@pytest.mark.parametrize(("exc", "cls", "words"), [
    (SystemExit(3), ExpertCrashed, "SystemExit: 3"),
    (KeyboardInterrupt(), ExpertCrashed, "KeyboardInterrupt"),
    (GeneratorExit(), ExpertCrashed, "GeneratorExit"),
    (MemoryError(), ExpertCrashed, "ran out of memory"),
    (ValueError("bad shape"), ExpertError, "ValueError: bad shape"),
    (StopIteration(), ExpertError, "StopIteration"),
])
def test_contained_names_whatever_an_expert_raises(exc: BaseException, cls: type, words: str) -> None:
    def boom() -> None:
        raise exc

    with pytest.raises(cls) as err:
        contained(boom, "m/x")()
    assert words in err.value.message


def test_memory_an_expert_grabbed_is_freed_when_it_runs_out() -> None:
    """The named error must not keep the MemoryError's traceback, which holds the expert's frames and everything
    they allocated (a child process at its address-space limit then could not even start a thread)."""
    import gc
    import weakref

    class Block:
        pass

    held: list[weakref.ref[Block]] = []

    def grows() -> None:
        block = Block()
        held.append(weakref.ref(block))
        raise MemoryError

    with pytest.raises(ExpertCrashed) as err:
        contained(grows, "m/x")()
    gc.collect()
    assert "ran out of memory" in err.value.message and err.value.__context__ is None
    assert held[0]() is None  # the expert's frame, and its block, are gone while the error lives on


def test_daemon_executor_threads_survive_base_exceptions_and_leave_when_idle() -> None:
    ex = DaemonExecutor("t", max_workers=2, idle_s=0.2)

    def exits() -> None:
        raise SystemExit(1)

    assert isinstance(ex.submit(exits).exception(5), SystemExit)  # on the future, not out of the thread
    assert ex.submit(lambda: 41 + 1).result(5) == 42
    threads = [t for t in threading.enumerate() if t.name.startswith("t-")]
    assert threads and all(t.daemon for t in threads)  # never joined at interpreter exit
    for t in threads:
        t.join(5)
    assert ex.threads == 0  # idle threads gave themselves back


def test_queued_calls_are_cancelled_and_running_ones_abandoned() -> None:
    gate = threading.Event()
    workers = ExpertWorkers(max_per_model=1)

    async def scenario() -> None:
        running = asyncio.ensure_future(workers.call("m", lambda: gate.wait(10)))
        queued = asyncio.ensure_future(workers.call("m", lambda: "never"))
        await asyncio.sleep(0.1)
        running.cancel()
        queued.cancel()
        await asyncio.gather(running, queued, return_exceptions=True)
        assert workers.stats()["m"]["stuck"] == 1
        with pytest.raises(ExpertUnavailable):  # the only thread is stuck: fail fast
            await workers.call("m", lambda: "x")
        gate.set()
        for _ in range(100):
            if workers.stats()["m"]["stuck"] == 0:
                break
            await asyncio.sleep(0.02)
        assert await workers.call("m", lambda: "back") == "back"  # the model recovers when the call ends

    asyncio.run(scenario())


def test_input_resolution_queues_behind_slow_calls_instead_of_failing() -> None:
    gate = threading.Event()
    workers = ExpertWorkers(sizes={"inputs": 1})

    async def scenario() -> str:
        slow = asyncio.ensure_future(workers.run("inputs", lambda: gate.wait(10)))
        await asyncio.sleep(0.1)
        slow.cancel()  # abandoned, like a download past its task's timeout
        await asyncio.gather(slow, return_exceptions=True)
        assert workers.stats()["inputs"]["stuck"] == 1
        later = asyncio.ensure_future(workers.run("inputs", lambda: "resolved"))
        await asyncio.sleep(0.1)
        assert not later.done()  # waits for the slot (downloads end by their own deadline) rather than failing
        gate.set()
        return await later

    assert asyncio.run(scenario()) == "resolved"


def test_an_output_named_with_the_wrong_extension_gets_the_one_of_its_format() -> None:
    checked, _ = check_result(ExpertResult([ExpertOutput("image", data=png(), ext=".wav"),
                                            ExpertOutput("audio", data=wav(), ext=None),
                                            ExpertOutput("audio", data=wav(), ext="flac"),
                                            ExpertOutput("video", data=b"\0\0\0\x18ftypisom", ext=".mov")]), "m")
    assert [c.ext for c in checked] == [".png", ".wav", ".wav", ".mov"]  # ambiguous containers keep theirs
