"""``python -m hugginggpt.server [--host H] [--port P] [--workspace DIR]``: the same as ``hugginggpt serve``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..config import HuggingGPTConfig
from .app import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hugginggpt.server", description=__doc__)
    parser.add_argument("--host", help="Interface (default: server.host, 127.0.0.1).")
    parser.add_argument("--port", type=int, help="Port (default: server.port, 8004).")
    parser.add_argument("--workspace", type=Path, help="Workspace (artifacts and the SQLite file).")
    parser.add_argument("--planner", choices=["auto", "offline", "llm"])
    parser.add_argument("--no-ui", action="store_true", help="Do not mount the web UI.")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    config = HuggingGPTConfig()
    changes: dict[str, object] = {"workspace": args.workspace, "planner": args.planner}
    if args.no_ui:
        changes["server"] = {**config.server.model_dump(), "ui": False}
    serve(config.with_overrides(**changes), host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
