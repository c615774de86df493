"""Fast start: `--help` and the commands that never touch the store import nothing heavy.

Asserted on the modules a real `python -m agent_core ...` process imported, never on time."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = (
    "sqlalchemy",
    "sqlmodel",
    "storage",
    "openai",
    "streamlit",
    "mcp",
    "tree_sitter",
    "httpx",
    "markdownify",
    "plotly",
)

# Runs the CLI in this process, then prints which modules it imported.
PROBE = """
import json, runpy, sys
sys.argv = ["onloop", *sys.argv[1:]]
try:
    runpy.run_module("agent_core", run_name="__main__")
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def imported_by(*args: str, cwd) -> tuple[set[str], str]:
    env = {**os.environ}
    env.pop("ONLOOP_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    modules = json.loads(done.stderr.strip().splitlines()[-1])
    return set(modules), done.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["worker", "--help"],
        ["up", "--help"],
        ["run", "--help"],
        ["runs", "--help"],
        ["tools", "--help"],
        ["insights", "--help"],
        ["policy", "--help"],
        ["policy", "check", "--help"],
        ["--version"],
    ],
    ids=" ".join,
)
def test_help_imports_nothing_heavy(args, tmp_path):
    modules, shown = imported_by(*args, cwd=tmp_path)
    assert ("onloop " if args == ["--version"] else "Usage") in shown
    assert modules.isdisjoint(HEAVY), sorted(modules & set(HEAVY))


def test_policy_init_writes_the_file_without_the_store_or_the_model_sdks(tmp_path):
    modules, shown = imported_by("policy", "init", cwd=tmp_path)
    assert "wrote onloop.toml" in shown and (tmp_path / "onloop.toml").exists()
    assert modules.isdisjoint({"sqlalchemy", "sqlmodel", "openai", "streamlit"})
    # The store's vocabulary (risk, autonomy) only: not the store.
    assert {m for m in modules if m.split(".")[0] == "storage"} == {"storage", "storage.vocabulary"}


def test_policy_init_default_path_is_the_policy_files_default():
    from agent_core.cli.policy import DEFAULT_FILE
    from agent_core.oversight.policy_file import DEFAULT_FILE as POLICY_DEFAULT

    assert DEFAULT_FILE == POLICY_DEFAULT


def test_a_store_command_still_gives_a_one_line_error(tmp_path):
    # The user-error list is imported lazily now: a store error still prints one line, code 2.
    env = {k: v for k, v in os.environ.items() if k != "ONLOOP_DATABASE_URL"}
    (tmp_path / "onloop.db").write_bytes(b"")
    from agent_core.cli.errors import user_errors

    assert len(user_errors()) == 5
    done = subprocess.run(
        [sys.executable, "-m", "agent_core", "show", "nosuchrun"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
