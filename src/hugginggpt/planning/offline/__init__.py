"""Building blocks of the offline planner: request parsing, task detection, graph building."""
