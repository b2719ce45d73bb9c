"""Stage 3's workers: experts that turn typed inputs into typed outputs."""

from .base import Expert, ExpertCard, ExpertOutput, ExpertResult

__all__ = ["Expert", "ExpertCard", "ExpertOutput", "ExpertResult"]
