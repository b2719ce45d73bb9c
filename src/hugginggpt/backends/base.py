"""The ``Backend`` protocol: a backend decides which catalog models can run here and builds their experts."""

from __future__ import annotations

from typing import Protocol

from ..catalog.cards import ModelCard
from ..experts.base import Expert


class Backend(Protocol):
    """What the selector and the executors use of a backend.

    A backend class may also set ``in_process = True`` when its experts must run in the controller process (they wrap
    the controller's own objects): the Ray engine runs their calls in its worker threads instead of in actors. It is
    optional (absent means False), so it is not a member of the protocol."""

    name: str

    def status(self) -> tuple[bool, str]:
        """Whether the backend can run anything at all here, and why (not)."""
        ...

    def can_serve(self, card: ModelCard) -> tuple[bool, str]:
        """Whether this backend can run that model here, and why (not)."""
        ...

    def expert(self, card: ModelCard, request: str = "") -> Expert:
        """A loaded expert for the card (may load weights; call from a worker thread). ``request`` is the user's
        request, for backends whose experts word a prompt with it (the controller LLM's); others ignore it."""
        ...
