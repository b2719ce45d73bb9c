"""A simulated three-node cluster (a head, a ``vision`` node and an ``audio`` node, one CPU each): experts are
placed by the media of their task, inputs and outputs cross nodes as bytes (a large image through the object
store), and losing a node in the middle of a call ends in a retry on another node, never in a hang."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ray_fault_experts import Echo, RayFaultAgent, ReadsAudio, ReadsImage, SlowAudio
from ray_support import NAMESPACE, kill_named_actors, worker_path

from llm_doubles import ScriptedLLM

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
MODELS = {"image-classification": ReadsImage.model_id, "automatic-speech-recognition": ReadsAudio.model_id,
          "summarization": Echo.model_id, "audio-classification": SlowAudio.model_id}


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[object, dict[str, object]]]:
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = worker_path()
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        ray.init(address=c.address, namespace=NAMESPACE, log_to_driver=False)  # the driver is on the head node
        nodes = {"vision": c.add_node(num_cpus=1, resources={"vision": 1}),
                 "audio": c.add_node(num_cpus=1, resources={"audio": 1})}
        c.wait_for_nodes()
        yield c, nodes
    finally:
        ray.shutdown()
        c.shutdown()
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


@pytest.fixture(autouse=True)
def no_leftover_actors(cluster) -> Iterator[None]:
    """Each test starts with no expert actor (on one-CPU nodes a leftover one would leave no room)."""
    import ray

    kill_named_actors(ray)
    yield
    kill_named_actors(ray)


def agent_for(plan: list[dict], tmp_path: Path, **config) -> RayFaultAgent:
    return RayFaultAgent(plan, tmp_path, llm=ScriptedLLM(capable=False), overrides=MODELS, cache=False,
                         allowed_dirs=[tmp_path, ROOT], execution={"engine": "ray", "ray_max_restarts": 3},
                         **config)


@pytest.mark.timeout(180)
def test_experts_are_placed_by_media_and_artifacts_cross_nodes(cluster, tmp_path: Path) -> None:
    _, nodes = cluster
    big = tmp_path / "noise.png"  # > 4 MiB: goes to the vision node through the object store
    from PIL import Image

    Image.frombytes("RGB", (1400, 1400), os.urandom(1400 * 1400 * 3)).save(big)
    speech = ROOT / "examples" / "speech.wav"
    plan = [{"task": "image-classification", "id": 0, "args": {"image": str(big)}},
            {"task": "automatic-speech-recognition", "id": 1, "args": {"audio": str(speech)}},
            {"task": "summarization", "id": 2, "args": {"text": "<GENERATED>-1"}}]
    agent = agent_for(plan, tmp_path, task_timeout=90)
    t0 = time.perf_counter()
    result = agent.run("classify, transcribe, summarize")
    took = time.perf_counter() - t0
    image, audio, summary = result.results
    assert [r.status for r in result.results] == ["ok", "ok", "ok"], [r.error for r in result.results]
    assert big.stat().st_size > 4 * 2**20
    assert image.text == f"{big.stat().st_size} bytes 89504e47"  # every byte arrived on the vision node
    assert image.data["node"] == nodes["vision"].node_id
    assert audio.text == f"{speech.stat().st_size} bytes 52494646"
    assert audio.data["node"] == nodes["audio"].node_id
    assert summary.text == audio.text.upper()  # the audio node's output, stored here, fed to the next task
    assert image.outputs[0].path.is_relative_to(agent.store.root)
    print(f"\nthree tasks on three nodes: {took:.2f} s (actors started)")


@pytest.mark.timeout(180)
def test_losing_a_node_mid_call_retries_on_another_node(cluster, tmp_path: Path) -> None:
    c, nodes = cluster
    speech = ROOT / "examples" / "speech.wav"
    plan = [{"task": "audio-classification", "id": 0, "args": {"audio": str(speech)}}]
    agent = agent_for(plan, tmp_path, task_timeout=90)
    box: dict[str, object] = {}
    runner = threading.Thread(target=lambda: box.setdefault("result", agent.run("listen")), daemon=True)
    t0 = time.perf_counter()
    runner.start()
    name = f"ray-faults:{SlowAudio.model_id}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until the call runs on the audio node
        engine = agent._engine_state.get("ray")
        actor = engine.actors.get(name) if engine else None
        if actor is not None and actor.ready:
            break
        time.sleep(0.1)
    assert actor is not None and actor.node == nodes["audio"].node_id
    time.sleep(1.0)
    c.remove_node(nodes["audio"], allow_graceful=False)
    lost_at = time.perf_counter()
    nodes["audio"] = c.add_node(num_cpus=1, resources={"audio": 1})  # the cluster gets a replacement
    runner.join(timeout=120)
    assert not runner.is_alive(), "the run hung after its node was lost"
    took = time.perf_counter() - t0
    task = box["result"].results[0]
    assert task.status == "ok", task.error
    assert task.data["node"] == nodes["audio"].node_id  # retried once, on the new node
    print(f"\nnode lost {lost_at - t0:.1f} s into the run; retried on the new node, run ended at {took:.1f} s")
