"""Red-team variants on onloop's own files (hard-appr): the code the next worker or dashboard
imports, and the files the environment names besides the policy.

A person keeps their own tool module in their project (`tools = ["mytools"]`, the project on
PYTHONPATH) and runs onloop there. The module's own file is protected; an agent that cannot
change it may still change what `import mytools` loads next time: a package folder of the same
name (Python prefers it to the .py), a compiled extension of the same name (preferred too), or
the module's cached bytecode in __pycache__ (loaded instead of the source when its header names
the source's size and time, which the agent can read). Each would run the agent's code, outside
the sandbox, in the next worker, with no policy at all.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import marshal
import os
import sys
from pathlib import Path

import pytest

from agent_core.oversight.policy import Policy, decide_call
from agent_core.tools import Workspace, builtin_tools
from agent_core.tools.protected import own_files
from tests.oversight import test_protected_files_attacks as base
from tests.oversight.test_protected_redteam import shell_in

pytestmark = base.pytestmark

MODULE = '''from onloop import tool


@tool("low")
def shout(text: str) -> str:
    """Say it loudly.

    Args:
        text: What.
    """
    return text.upper()
'''


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    """A project with the person's own tool module, imported from it (as a worker would)."""
    folder = tmp_path / "proj"
    folder.mkdir()
    name = f"mytools_{os.getpid()}_{abs(hash(str(tmp_path))) % 10**8}"
    (folder / f"{name}.py").write_text(MODULE)
    (folder / "notes.md").write_text("notes\n")
    monkeypatch.syspath_prepend(str(folder))
    importlib.invalidate_caches()
    importlib.import_module(name)
    yield folder
    sys.modules.pop(name, None)


def _module(folder: Path) -> str:
    return next(p.stem for p in folder.glob("mytools_*.py"))


def _cache(folder: Path) -> Path:
    return Path(importlib.util.cache_from_source(str(folder / f"{_module(folder)}.py")))


def _protected(folder: Path):
    return own_files(tool_modules=[_module(folder)])


def _run(folder: Path, command: str) -> str:
    return _run_in(Workspace(folder, _protected(folder)), command)


def _pyc_writer(folder: Path) -> str:
    """A python3 line that writes valid bytecode for the module, header copied from the source."""
    source = folder / f"{_module(folder)}.py"
    cache = _cache(folder).relative_to(folder).as_posix()
    code = marshal.dumps(compile("open('pwned', 'w').write('x')", str(source), "exec"))
    magic = importlib.util.MAGIC_NUMBER
    return (
        'python3 -c "import os,struct,binascii; '
        f"s=os.stat('{source.name}'); os.makedirs('__pycache__', exist_ok=True); "
        f"open('{cache}','wb').write(binascii.unhexlify('{magic.hex()}')+struct.pack('<III',0,"
        f"int(s.st_mtime)&0xFFFFFFFF,s.st_size&0xFFFFFFFF)+binascii.unhexlify('{code.hex()}'))\""
    )


def _next_import_runs_the_module(folder: Path) -> bool:
    """What `import mytools` in the next process loads: the module's own source, unchanged."""
    name = _module(folder)
    sys.modules.pop(name, None)
    importlib.invalidate_caches()
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin is not None
    if Path(spec.origin) != folder / f"{name}.py":
        return False
    cache = _cache(folder)
    if not cache.exists():
        return True
    loader = importlib.machinery.SourceFileLoader(name, spec.origin)
    code = loader.get_code(name)  # uses the cached bytecode when its header matches the source
    return "pwned" not in code.co_names and "pwned" not in str(code.co_consts)


HIJACKS = {
    "a package folder by the module's name": lambda m, f: (
        f"mkdir {m} && printf \"open('pwned','w')\\n\" > {m}/__init__.py"
    ),
    "a package folder made elsewhere and renamed in": lambda m, f: (
        f"mkdir x && printf \"open('pwned','w')\\n\" > x/__init__.py && mv x {m}"
    ),
    "an extension module by the module's name": lambda m, f: (
        f"cp notes.md {m}{importlib.machinery.EXTENSION_SUFFIXES[0]}"
    ),
    "bytecode in __pycache__ with the source's header": lambda m, f: _pyc_writer(f),
}


@pytest.mark.parametrize("name", HIJACKS)
def test_the_shell_cannot_change_what_the_next_import_of_a_tool_module_loads(project, name):
    module = _module(project)
    output = _run(project, HIJACKS[name](module, project))
    assert _next_import_runs_the_module(project), output
    assert not (project / "pwned").exists()


@pytest.mark.parametrize(
    "path",
    [
        "{m}/__init__.py",
        "{m}/deeper/x.py",
        "{m}" + importlib.machinery.EXTENSION_SUFFIXES[0],
        "{cache}",
    ],
)
def test_the_file_tools_and_the_policy_refuse_what_would_shadow_a_tool_module(project, path):
    module = _module(project)
    cache = _cache(project).relative_to(project).as_posix()
    target = path.format(m=module, cache=cache)
    workspace = Workspace(project, _protected(project))
    verdict = decide_call(
        Policy(), builtin_tools()["write_file"], {"path": target, "content": "x"},
        autonomy="autonomous", workspace=workspace,
    )  # fmt: skip
    assert verdict.verdict == "deny" and verdict.rule == "onloop's own files", verdict
    with pytest.raises(Exception, match="onloop's own files"):
        workspace.writable(target)


def test_the_persons_other_modules_and_caches_stay_writable(project):
    output = _run(
        project, "mkdir other && echo 'x = 1' > other/__init__.py && python3 -c 'import other'"
    )
    assert output.startswith("exit code 0"), output
    assert (project / "other" / "__init__.py").exists()


def test_the_shell_cannot_plant_a_startup_hook_in_a_folder_of_the_import_path(project):
    """sitecustomize.py in a folder on the import path runs in every next Python (the worker)."""
    output = _run(
        project,
        "echo \"open('pwned','w')\" > sitecustomize.py; mkdir usercustomize; "
        "echo \"open('pwned','w')\" > usercustomize/__init__.py",
    )
    assert not (project / "sitecustomize.py").exists(), output
    assert not (project / "usercustomize").exists(), output
    workspace = Workspace(project, _protected(project))
    with pytest.raises(Exception, match="onloop's own files"):
        workspace.writable("sitecustomize.py")


def test_a_folder_searched_before_the_tool_module_cannot_get_its_name(
    project, tmp_path, monkeypatch
):
    """The workspace comes first on the import path, the module lives in a later folder: a file
    of the module's name planted in the workspace would be imported instead."""
    module = _module(project)
    first = tmp_path / "first"
    first.mkdir()
    monkeypatch.syspath_prepend(str(first))
    workspace = Workspace(first, _protected(project))
    output = _run_in(workspace, f"echo \"open('pwned','w')\" > {module}.py; mkdir {module}x")
    assert not (first / f"{module}.py").exists(), output
    assert (first / f"{module}x").is_dir()  # another name is the person's to use


def _run_in(workspace: Workspace, command: str) -> str:
    return shell_in(workspace, command)


# -- files the environment names besides the policy: the sandbox program, the mail trust store --
ENV_FILES = {
    "ONLOOP_BWRAP": "tools/bwrap",  # the sandbox program itself: replaced, nothing is confined
    "ONLOOP_SMTP_CA_FILE": "certs/ca.pem",  # whom notification mail trusts
}


@pytest.mark.parametrize("variable", ENV_FILES)
def test_a_file_the_environment_names_cannot_be_replaced_by_the_tools(
    tmp_path, monkeypatch, variable
):
    folder = tmp_path / "proj"
    target = folder / ENV_FILES[variable]
    target.parent.mkdir(parents=True)
    target.write_text("original")
    monkeypatch.setenv(variable, str(target))
    workspace = Workspace(folder, own_files())
    verdict = decide_call(
        Policy(), builtin_tools()["write_file"], {"path": ENV_FILES[variable], "content": "x"},
        autonomy="autonomous", workspace=workspace,
    )  # fmt: skip
    assert verdict.verdict == "deny" and verdict.rule == "onloop's own files", verdict
    if variable != "ONLOOP_BWRAP":  # (a missing sandbox program: the shell cannot run at all)
        output = _run_in(workspace, f"echo evil > {ENV_FILES[variable]}")
        assert target.read_text() == "original", output


# -- an MCP server started from the person's folder: its script or module by a relative name ---
@pytest.mark.parametrize(
    "command",
    [
        ["python3", "server.py"],
        ["python3", "./server.py", "--flag"],
        ["python3", "-m", "mcpserver"],
    ],
    ids=["a relative script", "a ./ script", "a module run with -m"],
)
def test_an_mcp_servers_program_named_relative_to_the_worker_is_protected(
    tmp_path, monkeypatch, command
):
    folder = tmp_path / "proj"
    (folder / "mcpserver").mkdir(parents=True)
    (folder / "server.py").write_text("print('server')\n")
    (folder / "mcpserver" / "__init__.py").write_text("")
    (folder / "mcpserver" / "__main__.py").write_text("print('server')\n")
    monkeypatch.chdir(folder)  # the worker runs in the person's project (`--workspace .`)
    monkeypatch.syspath_prepend(str(folder))
    workspace = Workspace(folder, own_files(server_commands=[command]))
    target = "mcpserver/__main__.py" if "-m" in command else "server.py"
    with pytest.raises(Exception, match="onloop's own files"):
        workspace.writable(target)
    output = _run_in(workspace, f"echo evil > {target}")
    assert (folder / target).read_text() == "print('server')\n", output
    workspace.writable("notes.md")  # the person's other files stay theirs
