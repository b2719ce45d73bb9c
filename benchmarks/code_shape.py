"""The shape of the code in ``src/hugginggpt``: ``Any`` and ``type: ignore`` counts, imports inside functions,
functions over 60 lines, files over 350 lines, and import cycles (strongly connected groups of modules).

    python benchmarks/code_shape.py [SRC_DIR]
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path


class _Inner(ast.NodeVisitor):
    def __init__(self) -> None:
        self.depth = self.imports = 0

    def _function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = _function

    def visit_Import(self, node: ast.AST) -> None:
        self.imports += self.depth > 0

    visit_ImportFrom = visit_Import


def module_name(root: Path, path: Path) -> str:
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(root: Path, path: Path, tree: ast.AST) -> set[str]:
    """Modules of the package that this module imports (anywhere in it)."""
    here = module_name(root, path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            mod = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                elif nxt in on:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    m = stack.pop()
                    on.discard(m)
                    group.append(m)
                    if m == node:
                        break
                if len(group) > 1:
                    out.append(sorted(group))
    return out


def shape(root: Path) -> dict[str, object]:
    n_any = n_ignore = n_inner = n_long_fn = n_long_file = 0
    graph: dict[str, set[str]] = {}
    trees = {}
    for path in sorted(root.rglob("*.py")):
        text = path.read_text()
        n_any += len(re.findall(r"\bAny\b", text))
        n_ignore += text.count("type: ignore")
        n_long_file += len(text.splitlines()) > 350
        tree = ast.parse(text)
        trees[path] = tree
        visitor = _Inner()
        visitor.visit(tree)
        n_inner += visitor.imports
        n_long_fn += sum(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno >= 60
                         for n in ast.walk(tree))
    modules = {module_name(root, p) for p in trees}
    for path, tree in trees.items():
        graph[module_name(root, path)] = {m for m in imports_of(root, path, tree) if m in modules}
    # a package's __init__ importing its own submodules is not a cycle of the design; leave those edges out
    for mod, deps in graph.items():
        graph[mod] = {d for d in deps if not d.startswith(mod + ".") and not mod.startswith(d + ".")}
    groups = cycles(graph)
    return {"Any": n_any, "type_ignore": n_ignore, "imports_in_functions": n_inner,
            "functions_over_60_lines": n_long_fn, "files_over_350_lines": n_long_file,
            "import_cycles": len(groups), "modules_in_cycles": sum(len(g) for g in groups),
            "cycles": groups}


if __name__ == "__main__":
    src = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "src" / "hugginggpt")
    print(json.dumps(shape(src), indent=1))
