"""Which tests are slow, which start PostgreSQL, which compare peers, and where test files live.

The markers are applied here by folder, fixture and module (tests/conftest.py calls
`mark_items`), so no test file has to remember them. `slow`: single tests over ~2 s, and modules
whose tests start real processes or servers (workers, sandboxes, MCP servers, `onloop` commands,
benchmarks) or drive many AppTest pages (the sign-in roles). The fast loop
(`-m "not browser and not postgres and not slow"`) leaves them out; `.ci/run` runs them."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
FEATURE_FOLDERS = (
    "store", "run", "oversight", "tools", "models", "worker", "cli", "dashboard", "browser",
    "benchmarks", "docs", "codebase", "telemetry",
)  # fmt: skip

# Not test folders: shared fakes and helpers, and what .ci/run installs npm packages into.
DATA = frozenset({"support", "mcp_node", "oidc", "readabilipy", "__pycache__"})

SLOW_MODULES = frozenset(
    {
        "benchmarks/test_benchmarks_smoke.py",
        "cli/test_commands.py",
        "cli/test_fast_start.py",
        "cli/test_store_versions.py",
        "cli/test_up_signin.py",
        "models/test_model_path.py",
        "oversight/test_edit_redteam.py",
        "oversight/test_inert_attacks.py",
        "oversight/test_inert_redteam.py",
        "oversight/test_inert_terminal_paths.py",
        "oversight/test_monitor_scenarios.py",
        "oversight/test_names_redteam.py",
        "oversight/test_oversight_end_to_end.py",
        "oversight/test_protected_files_attacks.py",
        "oversight/test_protected_redteam.py",
        "oversight/test_recursive_secrets.py",
        "oversight/test_secrets_redteam.py",
        "oversight/test_signin_roles.py",
        "run/test_approval_attacks.py",
        "run/test_halt_races.py",
        "run/test_halts_in_process.py",
        "run/test_halts_in_tools.py",
        "run/test_halts_own_processes.py",
        "run/test_halts_redteam.py",
        "run/test_outcome_suite.py",
        "store/test_concurrent_writers.py",
        "telemetry/test_metrics_canary.py",
        "telemetry/test_metrics_otlp.py",
        "telemetry/test_metrics_worker.py",
        "telemetry/test_traces_logs.py",
        "telemetry/test_traces_phoenix.py",
        "tools/test_fs_guard.py",
        "tools/test_mcp_real_servers.py",
        "tools/test_mcp_runs.py",
        "tools/test_mcp_sandbox.py",
        "tools/test_mcp_tools.py",
        "tools/test_own_tools.py",
        "tools/test_sandbox_attacks.py",
        "tools/test_sandbox_isolation.py",
        "tools/test_sandbox_redteam.py",
        "tools/test_sandbox_runs.py",
        "worker/test_faults.py",
        "worker/test_machines.py",
        "worker/test_supervisor.py",
        "worker/test_upgrade_keeps_decisions.py",
        "worker/test_upgraded_stores.py",
        "worker/test_warmup.py",
        "worker/test_workers.py",
    }
)

# Single tests over ~2 s (measured with --durations) in modules that are otherwise quick.
SLOW_TESTS = frozenset(
    {
        "cli/test_insights_cli.py::test_a_yes_run_counts_as_approved_by_yes_not_as_a_person",
        "dashboard/test_workspace_field.py::test_work_on_a_copy_records_the_source_and_a_fresh_folder",
        "models/test_model_calls.py::test_a_halt_cuts_a_trickling_answer_and_only_its_own_run",
        "models/test_model_calls.py::test_the_process_watcher_map_does_not_keep_a_store_alive",
        "oversight/test_edit_surfaces.py::test_cli_refuses_a_denied_edit_in_one_line",
        "run/test_live_output.py::test_onloop_run_on_a_terminal_shows_the_turn_as_it_streams",
        "telemetry/test_trace_config.py::test_a_worker_without_an_endpoint_never_loads_opentelemetry",
        "tools/test_workspace_choice.py::test_cli_run_in_a_folder_and_show_names_it",
        "tools/test_workspace_choice.py::test_cli_seed_from_and_its_refusals",
    }
)

# The LangGraph and Agents SDK halves of the benchmark smoke tests: they guard the peers'
# side of a comparison, nothing of onloop (the onloop halves of the same scripts stay in).
PEERS = frozenset(
    {
        "benchmarks/test_benchmarks_smoke.py::test_peers_langgraph_and_agents_sdk",
        "benchmarks/test_benchmarks_smoke.py::test_throughput_peers_on_asyncio",
    }
)

POSTGRES_FIXTURES = frozenset({"postgres_url", "postgres_server"})


def _where(item: pytest.Item) -> str:
    return Path(str(item.path)).resolve().relative_to(TESTS).as_posix()


def _uses_postgres(item: pytest.Item) -> bool:
    if POSTGRES_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    params = getattr(getattr(item, "callspec", None), "params", {})
    return any(value in ("postgres", "postgresql") for value in params.values())


def _shares_a_module_fixture(item: pytest.Item) -> bool:
    """Whether the test uses a fixture built once per module (a server, a browser, a cluster)."""
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs.values() if info is not None else ()
    return any(d[-1].scope in ("module", "package", "class") for d in defs if d)


def mark_items(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every collected test by where it lives and what it uses; set peers aside unless the
    `-m` expression names them (`pytest -m peers`). Under pytest-xdist (`-n 2 --dist
    loadgroup`, .ci/run) a module whose tests share a module fixture runs on one worker, so
    that fixture is built once, not once per worker."""
    peers_asked = "peers" in (config.getoption("markexpr") or "")
    kept, peers = [], []
    for item in items:
        module = _where(item)
        if _shares_a_module_fixture(item):
            item.add_marker(pytest.mark.xdist_group(module))
        if module.startswith("browser/"):
            item.add_marker(pytest.mark.browser)
        test = f"{module}::{getattr(item, 'originalname', item.name)}"
        if module in SLOW_MODULES or test in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
        if _uses_postgres(item):
            item.add_marker(pytest.mark.postgres)
        if test in PEERS:
            item.add_marker(pytest.mark.peers)
            item.add_marker(pytest.mark.slow)
            if not peers_asked:
                peers.append(item)
                continue
        kept.append(item)
    if peers:
        config.hook.pytest_deselected(items=peers)
        items[:] = kept


def misplaced_test_files(root: Path = TESTS) -> list[str]:
    """Test files outside the feature folders: directly in tests/, or in a folder not listed."""
    wrong = [p.name for p in root.glob("test_*.py")]
    for folder in root.iterdir():
        if folder.is_dir() and folder.name not in FEATURE_FOLDERS and folder.name not in DATA:
            wrong += [p.relative_to(root).as_posix() for p in folder.rglob("test_*.py")]
    return sorted(wrong)
