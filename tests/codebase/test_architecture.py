"""The rooms and their arrows: every import of our code (at a module's top, inside a function or
under TYPE_CHECKING) goes one way, downward, and never round in a circle.

    storage < tools < models < oversight < telemetry < run < worker < cli

telemetry (traces, metrics, logs leaving onloop for an observability stack) sits above oversight
because what it exports is redacted as the store is (agent_core/oversight/redact.py), and below
run and worker, which call its hooks where spans start and end and counters move.
dashboard imports only storage, tools, models and oversight; onloop (the public API for people's
own tools) only tools. Every module of agent_core sits in a room. The checker is tested too, on
made-up module graphs, so a checker that stopped finding things would fail here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("agent_core", "storage", "dashboard", "onloop")
LAYERS = ("storage", "tools", "models", "oversight", "telemetry", "run", "worker", "cli")
ROOMS = LAYERS[1:]  # agent_core's rooms (storage is its own package)
ENTRY = ("agent_core", "agent_core.__main__")  # the package and `python -m agent_core`
MAY_IMPORT: dict[str, frozenset[str]] = {
    **{layer: frozenset(LAYERS[: i + 1]) for i, layer in enumerate(LAYERS)},
    "dashboard": frozenset({"storage", "tools", "models", "oversight", "dashboard"}),
    "onloop": frozenset({"tools", "onloop"}),
    "entry": frozenset(LAYERS),
}

Graph = Mapping[str, Iterable[str]]


# -- the checker --------------------------------------------------------------------------------


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every name `module` imports, wherever the import stands, relative imports resolved:
    `import a.b` gives a.b, `from a import b` gives a.b (a module of a, or a name in a)."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = parts[: len(parts) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def resolve(name: str, modules: Iterable[str]) -> str | None:
    """The module of ours an imported name loads: itself, or the module it is a name in."""
    modules = set(modules)
    if name in modules:
        return name
    parent = name.rpartition(".")[0]
    return parent if parent in modules else None


def our_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (importing a.b is not counted as importing a,
    the package whose __init__ Python runs first, which would make every package a circle)."""
    files = {
        module_name(path, root): path
        for package in PACKAGES
        for path in sorted((root / package).rglob("*.py"))
    }
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        source = path.read_text(encoding="utf-8")
        names = imported_names(source, module, is_package=path.name == "__init__.py")
        found = {resolve(name, files) for name in names}
        graph[module] = {target for target in found if target is not None} - {module}
    return graph


def layer_of(module: str) -> str | None:
    """The room (or package) a module belongs to; None for a module flat at agent_core's top."""
    top, _, rest = module.partition(".")
    if top != "agent_core":
        return top
    if module in ENTRY:
        return "entry"
    room = rest.partition(".")[0]
    return room if room in ROOMS else None


def cycles(graph: Graph) -> list[list[str]]:
    """One circle through each set of modules that import each other (Tarjan's components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(_circle(graph, component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _circle(graph: Graph, component: set[str]) -> list[str]:
    """A path from the component's first module back to itself, inside the component."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                return paths[node] + [start]
            if nxt in component and nxt not in paths:
                paths[nxt] = paths[node] + [nxt]
                queue.append(nxt)
    raise AssertionError(f"no circle in {sorted(component)}")


def wrong_arrows(graph: Graph) -> list[str]:
    """Every import that goes against the layering, as 'a (room) -> b (room)'."""
    wrong = []
    for module in sorted(graph):
        here = layer_of(module)
        for target in sorted(graph[module]):
            there = layer_of(target)
            if here is None or there is None:
                continue  # a flat module: reported by flat_modules
            if there not in MAY_IMPORT[here]:
                wrong.append(f"{module} ({here}) -> {target} ({there})")
    return wrong


def flat_modules(graph: Graph) -> list[str]:
    """Modules of agent_core in no room."""
    return sorted(m for m in graph if m.startswith("agent_core") and layer_of(m) is None)


def problems(graph: Graph) -> list[str]:
    return (
        [f"import circle: {' -> '.join(circle)}" for circle in cycles(graph)]
        + [f"upward or forbidden arrow: {arrow}" for arrow in wrong_arrows(graph)]
        + [f"module outside every room: {module}" for module in flat_modules(graph)]
    )


# -- the code as it is --------------------------------------------------------------------------


def test_our_imports_go_one_way_with_no_circles_and_every_module_in_a_room():
    graph = our_graph()
    assert len(graph) > 100 and "agent_core.run.loop" in graph  # it read the real tree
    assert "storage" in graph["agent_core.run.port"]
    found = problems(graph)
    assert not found, "\n".join(found)


def test_imports_inside_functions_and_under_type_checking_are_counted():
    graph = our_graph()
    # The command modules import what a command needs inside the command (start-up speed).
    assert "agent_core.cli.run" in graph["agent_core.cli.start_commands"]
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from agent_core.run.spec import RunSpec\n"
        "def later():\n    import storage.runs\n    from . import policy\n"
        "    from ..models import base\n"
    )
    names = imported_names(source, "agent_core.oversight.rules")
    modules = set(graph)
    assert {resolve(name, modules) for name in names} == {
        None,  # typing
        "agent_core.run.spec",
        "storage.runs",
        "agent_core.oversight.policy",
        "agent_core.models.base",
    }


# -- the checker finds what it is for -----------------------------------------------------------


def test_the_checker_reports_a_circle_with_its_path():
    graph = {
        "agent_core.run.loop": {"agent_core.run.tool_step"},
        "agent_core.run.tool_step": {"agent_core.run.approval_gate"},
        "agent_core.run.approval_gate": {"agent_core.run.loop", "storage"},
        "storage": set(),
    }
    assert problems(graph) == [
        "import circle: agent_core.run.approval_gate -> agent_core.run.loop -> "
        "agent_core.run.tool_step -> agent_core.run.approval_gate"
    ]
    graph["storage"] = {"storage"}  # a module importing itself is a circle too
    assert "import circle: storage -> storage" in problems(graph)


def test_the_checker_reports_every_upward_or_forbidden_arrow():
    graph = {
        "storage.runs": {"agent_core.oversight.control"},  # the store knows nothing of ours
        "agent_core.oversight.control": {"storage.runs"},  # down: fine (but a circle here)
        "agent_core.tools.web": {"agent_core.models.base"},  # tools under models
        "agent_core.models.base": set(),
        "agent_core.cli.app": {"agent_core.worker.claim_loop"},  # down: fine
        "agent_core.worker.claim_loop": set(),
        "dashboard.views.run": {"agent_core.run.port"},  # the dashboard never drives a run
        "onloop": {"storage.runs"},  # onloop offers the tools API only
    }
    assert wrong_arrows(graph) == [
        "agent_core.tools.web (tools) -> agent_core.models.base (models)",
        "dashboard.views.run (dashboard) -> agent_core.run.port (run)",
        "onloop (onloop) -> storage.runs (storage)",
        "storage.runs (storage) -> agent_core.oversight.control (oversight)",
    ]
    assert sum(p.startswith("upward or forbidden arrow") for p in problems(graph)) == 4


def test_the_checker_reports_a_module_outside_every_room():
    graph = {
        "agent_core": set(),
        "agent_core.__main__": {"agent_core.cli.app"},
        "agent_core.cli.app": set(),
        "agent_core.worker_pool": {"storage"},  # flat at agent_core's top
        "agent_core.widgets.thing": set(),  # a folder that is not a room
        "storage": set(),
    }
    assert problems(graph) == [
        "module outside every room: agent_core.widgets.thing",
        "module outside every room: agent_core.worker_pool",
    ]


def test_the_checker_reads_a_real_tree_with_a_circle_inside_functions(tmp_path):
    """Through the files: a circle hidden by a function-level import is still a circle."""
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "agent_core" / "run").mkdir()
    (tmp_path / "agent_core" / "run" / "__init__.py").write_text("")
    (tmp_path / "agent_core" / "run" / "loop.py").write_text(
        "def go():\n    from agent_core.run.gate import ask\n"
    )
    (tmp_path / "agent_core" / "run" / "gate.py").write_text(
        "from agent_core.run import loop\n\ndef ask():\n    pass\n"
    )
    (tmp_path / "storage" / "runs.py").write_text("def f():\n    from agent_core.run import gate\n")
    found = problems(our_graph(tmp_path))
    assert found == [
        "import circle: agent_core.run.gate -> agent_core.run.loop -> agent_core.run.gate",
        "upward or forbidden arrow: storage.runs (storage) -> agent_core.run.gate (run)",
    ]
