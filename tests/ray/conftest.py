"""A real local Ray instance for the Ray engine's tests (2 CPUs, no dashboard), shut down after each module.

The worker processes import ``ray_fault_experts`` (the test experts' backend) from this directory, so it goes on
their PYTHONPATH before Ray starts them. This directory has no ``__init__.py`` on purpose: ``tests`` is on
``sys.path``, and a package named ``ray`` there would hide the real Ray.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("ray")  # the optional extra; it also puts its bundled psutil on sys.path
import psutil

HERE = Path(__file__).resolve().parent
NAMESPACE = "hugginggpt-test"


def worker_path() -> str:
    return os.pathsep.join([str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[object]:
    ray = pytest.importorskip("ray")
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = worker_path()
    ray.init(address="local", num_cpus=2, include_dashboard=False, namespace=NAMESPACE, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def ray_worker_processes() -> list[psutil.Process]:
    """This test process's Ray expert actors (descendants whose title is ``ray::ExpertWorker...``)."""
    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            if "ExpertWorker" in " ".join(p.cmdline()) or p.name().startswith("ray::Expert"):
                out.append(p)
        except psutil.Error:
            continue
    return out


def cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            continue
    return total


def kill_named_actors(ray: object) -> None:
    """Kill the expert actors the last test left (they are detached: they outlive the agent that made them)."""
    for name in ray.util.list_named_actors():  # type: ignore[attr-defined]
        try:
            ray.kill(ray.get_actor(name), no_restart=True)  # type: ignore[attr-defined]
        except ValueError:  # already gone
            pass


@pytest.fixture
def ray_session(local_ray: object) -> Iterator[object]:
    """The module's Ray, with no expert actor left over from an earlier test (each holds a CPU)."""
    kill_named_actors(local_ray)
    yield local_ray
    kill_named_actors(local_ray)
