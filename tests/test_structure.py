"""The house's shape: no import cycles, each option declared once, the ground floor imports nothing above
it, registries that front ends build from, and no module or function past its size."""

from __future__ import annotations

import ast
from pathlib import Path

from options.table import API, CLI, FORM, SERVER, TABLE, options_for

ROOT = Path(__file__).resolve().parent.parent
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 450, 100


def project_modules() -> dict[str, Path]:
    """Every module of the project (benchmarks included, tests not): dotted name -> file."""
    modules: dict[str, Path] = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in ("tests", ".git", ".venv") or any(part.startswith(".") for part in rel.parts):
            continue
        name = ".".join(rel.with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules a module imports, anywhere in it (inside functions too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for target in targets:
            parts = target.split(".")
            for end in range(len(parts), 0, -1):  # the longest prefix that is a project module
                if ".".join(parts[:end]) in modules:
                    found.add(".".join(parts[:end]))
                    break
    found.discard(name)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_import_graph_has_no_cycles() -> None:
    modules = project_modules()
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    assert {"pipeline.stages", "pipeline.engine", "pipeline.run"} <= set(graph)
    assert "pipeline.engine" not in graph["pipeline.stages"] and "pipeline.ray_engine" not in graph["pipeline.stages"]
    assert cycles(graph) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_records_import_nothing_above_them() -> None:
    modules = project_modules()
    assert imports_of("records", modules["records"], modules) == set()


def test_each_option_is_declared_once() -> None:
    table_source = (ROOT / "options" / "table.py").read_text(encoding="utf-8")
    declared = [
        node.args[0].value
        for node in ast.walk(ast.parse(table_source))
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Option" and node.args
        if isinstance(node.args[0], ast.Constant)
    ]
    assert len(declared) == len(set(declared)) == len(TABLE)  # no name twice (a dict would hide it)
    from reports.formats import FORMATS

    flags = [option.flag for option in TABLE.values()] + [fmt.flag for fmt in FORMATS.values()]
    assert len(flags) == len(set(flags))
    for name, path in project_modules().items():  # no front end declares a flag of its own
        if name == "options.flags":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
                literal = [a.value for a in node.args if isinstance(a, ast.Constant) and str(a.value).startswith("-")]
                assert not literal or name.startswith("bench."), f"{name} declares {literal} outside the options table"


def test_every_front_end_is_built_from_the_table() -> None:
    import app
    import cli
    from service.form import FORM_OPTIONS
    from service.submit import JobOptionsIn

    cli_flags = {action.dest for action in cli.build_parser()._actions}
    server_flags = {action.dest for action in app.build_parser()._actions}
    assert {option.name for option in options_for(CLI)} <= cli_flags
    assert {option.name for option in options_for(SERVER)} <= server_flags
    assert set(JobOptionsIn.model_fields) == {option.name for option in options_for(API)}
    assert {option.name for option in FORM_OPTIONS} == {option.name for option in options_for(FORM)}
    assert all(option.control is not None for option in options_for(FORM))
    shared = {option.name for option in TABLE.values() if {CLI, SERVER} <= option.fronts}
    assert {"model", "device", "render", "ocr", "backend"} <= shared  # once, for both


def test_engines_and_report_formats_come_from_their_registries() -> None:
    from options import ENGINES
    from pipeline.run import ENGINES as ENGINE_REGISTRY
    from reports.formats import FORMATS
    from service.runner import REPORT_FILES

    assert set(ENGINE_REGISTRY) == set(ENGINES)
    assert set(REPORT_FILES) == {fmt.file_name for fmt in FORMATS.values()}


def test_no_module_or_function_is_too_long() -> None:
    too_long = []
    for name, path in project_modules().items():
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{name}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}.{node.name}: {length} lines")
    assert too_long == []
