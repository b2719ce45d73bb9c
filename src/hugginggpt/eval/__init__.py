"""Evaluation harnesses (TaskBench). Kept import-light: the CLI imports ``eval.cli`` at start-up.

- ``tools``: ``ToolSpec`` / ``ToolList`` (a benchmark's tool list) and ``ToolBinding`` (planning over it);
- ``data``: loading and normalizing TaskBench gold samples;
- ``metrics``: n-F1, e-F1, t-F1, v-F1 and NED as TaskBench defines them;
- ``baseline``: the TaskBench paper's prompt design as a planner over any LLM client;
- ``taskbench``: the harness behind ``hugginggpt eval taskbench``.
"""
