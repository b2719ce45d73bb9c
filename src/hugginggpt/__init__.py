"""hugginggpt: an LLM controller that plans a DAG of tasks, selects expert models, runs them and answers from the
real outputs — offline by default."""

from .agent import HuggingGPT
from .config import HuggingGPTConfig, LLMSettings
from .results import Event, RunResult, TaskResult
from .version import __version__

__all__ = ["Event", "HuggingGPT", "HuggingGPTConfig", "LLMSettings", "RunResult", "TaskResult", "__version__"]
