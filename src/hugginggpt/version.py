"""The package version (kept equal to ``version`` in pyproject.toml), importable without importing the agent."""

__version__ = "0.1.0"
