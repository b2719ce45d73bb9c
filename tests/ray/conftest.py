"""A real local Ray instance for the Ray engine's tests (2 CPUs, no dashboard), shut down after each module.

The worker processes import ``ray_fault_experts`` (the test experts' backend) from this directory, so it goes on
their PYTHONPATH before Ray starts them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from ray_support import NAMESPACE, kill_named_actors, worker_path


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


@pytest.fixture
def ray_session(local_ray: object) -> Iterator[object]:
    """The module's Ray, with no expert actor left over from an earlier test (each holds a CPU)."""
    kill_named_actors(local_ray)
    yield local_ray
    kill_named_actors(local_ray)
