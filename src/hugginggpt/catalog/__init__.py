"""Stage 2: the model catalog and the selector."""

from .cards import Catalog, ModelCard

__all__ = ["Catalog", "ModelCard"]
