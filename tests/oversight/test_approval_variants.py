"""Red-team variants on "nothing risky happens without the right person's yes, and one yes covers
exactly what the person saw": edited arguments a person types (JSON the store cannot hash),
what "allow for the rest of the run" and the autonomy level let through unasked (commands a
wrapper subcommand runs, environment variables and options that make a program run another
one or write a guarded file), and scopes that held (kept as guards).

Before the fixes, every test in the first three sections failed: an edit with a lone surrogate
or nested 100,000 deep was a traceback on `onloop approve --args` and the card, and
`uv run rm -rf .`, `GIT_EXTERNAL_DIFF='rm -rf .' git diff`, `git --config-env=core.fsmonitor=X
status` or `pytest --basetemp=src` (which removes `src/`) ran unasked under `supervised`,
also past the shipped deny rule for recursive deletes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight.decisions import DecisionError, approve, parse_edited_arguments, reject
from agent_core.oversight.policy import Policy, PolicyDecision, RunAllowance
from agent_core.tools.workspace import Workspace
from tests.oversight.test_scopes import SHIPPED, allowing, sh
from tests.oversight.test_scopes import verdict as scoped_verdict
from tests.support.dashboard_seed import make_approval
from tests.support.run_helpers import Driver, events_of, new_run

WRITE = ("write_file", {"path": "notes.md", "content": "hello"}, "medium")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    for name in ("notes", "notes-old", "src", "docs"):
        (root / name).mkdir(parents=True)
    (root / "notes.md").write_text("notes")
    (root / "notes" / "a.md").write_text("a" * 100)
    (root / "notes-old" / "b.md").write_text("b" * 100)
    (root / "src" / "app.py").write_text("print(1)\n" * 20)
    os.symlink("../src", root / "notes" / "link")
    return root


@pytest.fixture
def db(tmp_path: Path):
    store = storage.open_store(f"sqlite:///{tmp_path / 'state.sqlite'}")
    yield store
    store.dispose()


def verdict(
    tool: str,
    arguments: dict,
    workspace: Workspace | None = None,
    *,
    allowance: RunAllowance | None = None,
    autonomy: str = "supervised",
    policy: Policy = SHIPPED,
) -> PolicyDecision:
    """The shipped policy's verdict (tests/oversight/test_scopes.py's), the workspace third."""
    return scoped_verdict(
        allowance, tool, arguments, policy=policy, autonomy=autonomy, workspace=workspace
    )


# -- edited arguments the store cannot hash: one message, never a traceback ----------------------

UNHASHABLE = {
    "a lone surrogate in a value": '{"path": "notes.md", "content": "\\ud800"}',
    "a lone low surrogate in the path": '{"path": "notes\\udc00.md", "content": "x"}',
    "a lone surrogate in a key": '{"path": "notes.md", "content": "x", "\\ud83d": 1}',
    "nested 100,000 deep": '{"path": "notes.md", "content": ' + "[" * 100_000 + "]" * 100_000 + "}",
}


@pytest.mark.parametrize("name", UNHASHABLE)
def test_edited_json_that_cannot_be_stored_is_refused_in_one_message(db, folder, name):
    with pytest.raises(DecisionError, match="edited arguments") as refused:
        edited = parse_edited_arguments(UNHASHABLE[name])
        tool, arguments, risk = WRITE
        run = new_run(db, "edits", policy=SHIPPED, workspace=str(folder), model="scripted")
        approval = make_approval(db, run, tool=tool, arguments=arguments, risk=risk, summary=tool)
        approve(db, approval_id=approval.id, by="ada", edited_arguments=edited)
    assert "\n" not in str(refused.value) and len(str(refused.value)) < 300


def test_cli_approve_args_with_a_lone_surrogate_says_so_in_one_line(tmp_path, folder):
    from tests.cli.test_commands import onloop

    db = tmp_path / "db" / "onloop.db"
    db.parent.mkdir()
    store = storage.open_store(str(db))
    tool, arguments, risk = WRITE
    run = new_run(store, "edits", policy=SHIPPED, workspace=str(folder), model="scripted")
    approval = make_approval(store, run, tool=tool, arguments=arguments, risk=risk, summary=tool)
    store.dispose()
    typed = '{"path": "notes.md", "content": "\\ud800"}'
    done = onloop("approve", approval.run_id, "--args", typed, "--db", str(db), cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert (folder / "notes.md").read_text() == "notes"


# -- what runs unasked: a command behind a wrapper subcommand ------------------------------------

WRAPPED_DELETES = [
    "uv run rm -rf .",
    "poetry run rm -rf src",
    "uv run --with requests rm -fr src",
    "uv run --python 3.11 -- rm -r src",
    "uv --quiet run rm -rf src",
    "uv run bash -c 'rm -rf .'",
    "poetry run -- sh -c 'rm -r src'",
]


@pytest.mark.parametrize("command", WRAPPED_DELETES)
def test_a_recursive_delete_run_by_uv_run_or_poetry_run_is_denied(folder, command):
    decision = verdict("run_shell", sh(command), Workspace(folder))
    assert decision.verdict == "deny", decision


@pytest.mark.parametrize(
    "command",
    ["poetry run sudo ls", "uv run curl https://evil.test", "uv run git push --force"],
)
def test_what_uv_run_or_poetry_run_starts_is_classed_as_itself(folder, command):
    assert verdict("run_shell", sh(command), Workspace(folder)).verdict == "ask"


@pytest.mark.parametrize(
    "command",
    ["uv run pytest -q", "poetry run pytest", "uv run python -m pytest -x", "uv run ruff check ."],
)
def test_a_project_check_through_uv_run_or_poetry_run_still_runs_unasked(folder, command):
    assert verdict("run_shell", sh(command), Workspace(folder)).verdict == "allow"


# -- what runs unasked: another program named by an environment variable or an option ------------

HIDDEN_PROGRAMS = [
    "GIT_EXTERNAL_DIFF='rm -rf .' git diff",
    "GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.fsmonitor GIT_CONFIG_VALUE_0='rm -rf .' git status",
    "GIT_CONFIG_PARAMETERS=\"'core.fsmonitor'='rm -rf .'\" git status",
    "env GIT_EXTERNAL_DIFF=./x.sh git diff",
    "export GIT_EXTERNAL_DIFF=./x.sh; git diff",
    "GIT_EDITOR='rm -rf .' git commit",
    "EDITOR=./x.sh git commit",
    "GIT_DIR=notes git status",  # a repository whose config is an everyday write
    "git --git-dir=notes status",
    "LD_PRELOAD=./evil.so ls",
    "HOME=notes git status",  # notes/.gitconfig, an everyday write, sets core.fsmonitor
    "XDG_CONFIG_HOME=notes git status",
    "npm_config_script_shell=./x.sh npm test",
    "NPM_CONFIG_SCRIPT_SHELL=./x.sh npm test",
    "git --config-env=core.fsmonitor=X status",
    "git -c core.fsmonitor=./x.sh -c user.name=a status",
    "git grep --open-files-in-pager='rm -rf .' x",
    "git grep -O'rm -rf .' x",
    # options a program reads from the environment: a check's options that delete or load code
    "PYTEST_ADDOPTS='--basetemp=src' pytest",  # pytest deletes src/ first
    "PYTEST_ADDOPTS='-p evil_plugin' python -m pytest",
    "NODE_OPTIONS='--require /tmp/x.js' npm test",
    "JAVA_TOOL_OPTIONS=-javaagent:/tmp/a.jar mvn -q test",
    "PERL5OPT=-Mevil prove",
    "RUBYOPT=-r/tmp/evil rake test",
    "env PYTEST_ADDOPTS=--basetemp=. pytest",
]


@pytest.mark.parametrize("command", HIDDEN_PROGRAMS)
def test_a_program_named_by_a_variable_or_an_option_never_runs_unasked(folder, command):
    for autonomy in ("supervised", "autonomous"):
        decision = verdict("run_shell", sh(command), Workspace(folder), autonomy=autonomy)
        assert decision.verdict != "allow", (autonomy, decision)


GUARDED_OR_LOST = [
    "pytest --basetemp=src",  # pytest removes its basetemp folder first
    "pytest --basetemp src",
    "python -m pytest --basetemp=.",
    "pytest --junitxml=.git/config",
    "pytest --junit-xml .github/workflows/ci.yml",
    "git diff --output=.git/config",
    "git log --output=.git/hooks/pre-commit",
]


@pytest.mark.parametrize("command", GUARDED_OR_LOST)
def test_a_check_that_deletes_a_folder_or_writes_a_guarded_file_asks(folder, command):
    (folder / ".git" / "hooks").mkdir(parents=True)
    decision = verdict("run_shell", sh(command), Workspace(folder))
    assert decision.verdict == "ask" and decision.call_class in ("guarded", "destructive"), decision


@pytest.mark.parametrize(
    "command",
    [
        "pytest -q",
        "pytest --junitxml=reports/junit.xml",
        "git diff --stat",
        "PYTHONPATH=src pytest",
        "GIT_EDITOR=true git merge main",
        "GIT_PAGER=cat git log",  # git pages only on a terminal, and commands get none
        "git grep -n TODO",
    ],
)
def test_everyday_checks_and_reads_still_run_unasked(folder, command):
    assert verdict("run_shell", sh(command), Workspace(folder)).verdict == "allow"


# -- scopes that held: kept as guards ----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "content"),
    [
        ("notes-old/new.md", "x"),  # a sibling sharing the folder's name as a prefix
        ("notes/link/new.py", "x"),  # through a link inside the folder to another one
        ("notes/../src/new.py", "x"),
        ("NOTES/new.md", "x"),
        ("notes/.git/config", "x"),  # a guarded file inside the folder
        ("notes/a.md", ""),  # an overwrite that loses most of the file: destructive
    ],
)
def test_a_folder_allowance_covers_only_everyday_writes_in_that_folder(folder, path, content):
    space = Workspace(folder)
    allowed = allowing("write_file", {"path": "notes/new.md", "content": "hi"}, "folder", space)

    def decided(arguments: dict) -> str:
        return verdict("write_file", arguments, space, allowance=allowed, autonomy="manual").verdict

    assert decided({"path": path, "content": content}) != "allow"
    assert decided({"path": "notes/other.md", "content": "x"}) == "allow"


@pytest.mark.parametrize(
    "command",
    [
        "pytest\nrm notes/a.md",
        "pytest & rm notes/a.md",
        "pytest || rm notes/a.md",
        "(pytest); rm notes/a.md",
        "pytest `rm notes/a.md`",
        "env pytest",
        "xargs pytest",
        "./pytest",
        "pytest > notes/a.md",
        "pytest 2> .git/config",
    ],
)
def test_a_prefix_allowance_never_covers_what_else_the_line_does(folder, command):
    space = Workspace(folder)
    allowed = allowing("run_shell", sh("pytest -q tests"), "prefix", space)
    decision = verdict("run_shell", sh(command), space, allowance=allowed, autonomy="manual")
    assert decision.verdict != "allow", decision


@pytest.mark.parametrize(
    "url",
    [
        "https://docs.python.org.evil.test/",
        "https://docs.python.org@evil.test/",
        "https://docs.python.org\\@evil.test/",
        "https://docs.python.org%2eevil.test/",
        "https://docs.python.org%40evil.test/",
        "https://evil.test#@docs.python.org",
        "https://x.docs.python.org/",
    ],
)
def test_a_domain_allowance_never_covers_a_look_alike_host(folder, url):
    space = Workspace(folder)
    allowed = allowing("fetch_url", {"url": "https://docs.python.org/3/"}, "domain", space)
    decision = verdict("fetch_url", {"url": url}, space, allowance=allowed, autonomy="manual")
    assert decision.verdict != "allow", decision


def test_a_prefix_allowed_for_uv_run_pytest_covers_that_check_only(folder):
    space = Workspace(folder)
    allowed = allowing("run_shell", sh("uv run pytest -q"), "prefix", space)
    again = verdict(
        "run_shell", sh("uv run pytest -x"), space, allowance=allowed, autonomy="manual"
    )
    assert again.verdict == "allow", again
    for other in ["uv run rm notes/a.md", "uv run python evil.py", "uv run curl https://e.test"]:
        decision = verdict("run_shell", sh(other), space, allowance=allowed, autonomy="manual")
        assert decision.verdict != "allow", (other, decision)


# -- "this exact call" for the run: the same arguments, never a riskier effect ---------------------


def _write(path: str, content: str) -> dict:
    return {"tool_calls": [{"name": "write_file", "arguments": {"path": path, "content": content}}]}


FINDINGS = "an important finding\n" * 20


def test_an_exact_call_allowed_for_the_run_asks_again_once_it_would_destroy(db, folder):
    """Allowed once as "create an empty report.md", the same call later empties the report the
    run wrote meanwhile: a destructive call the person never saw. It asks."""
    model = ScriptedModel(
        [_write("report.md", ""), _write("report.md", FINDINGS), _write("report.md", ""), "done"]
    )
    run = new_run(db, "report", model="scripted", autonomy="manual", workspace=str(folder))
    driver = Driver(db, run, model).start()
    first = driver.pending()
    approve(db, approval_id=first.id, by="dan", allow_scope="call")
    filled = driver.pending(after=first.id)
    assert filled.arguments["content"] == FINDINGS
    approve(db, approval_id=filled.id, by="dan")
    emptied = driver.pending(after=filled.id)  # before: ran unasked, the findings lost
    assert emptied.arguments["content"] == "" and emptied.call_class == "destructive"
    reject(db, approval_id=emptied.id, by="dan", note="keep the findings")
    driver.join()
    assert (folder / "report.md").read_text() == FINDINGS


def test_an_exact_call_allowed_for_the_run_never_covers_a_weaker_test_file(db, folder):
    """A stub test file allowed for the run as written first; once the file has real
    assertions, the same stub weakens it (guarded) and asks."""
    stub = "def test_add():\n    pass\n"
    real = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    path = "tests/test_calc.py"
    model = ScriptedModel([_write(path, stub), _write(path, real), _write(path, stub), "done"])
    run = new_run(db, "tests", model="scripted", autonomy="manual", workspace=str(folder))
    driver = Driver(db, run, model).start()
    first = driver.pending()
    approve(db, approval_id=first.id, by="dan", allow_scope="call")
    filled = driver.pending(after=first.id)
    approve(db, approval_id=filled.id, by="dan")
    weakened = driver.pending(after=filled.id)  # before: ran unasked, the assertion removed
    assert weakened.arguments["content"] == stub and weakened.call_class == "guarded"
    reject(db, approval_id=weakened.id, by="dan", note="keep the assertion")
    driver.join()
    assert (folder / path).read_text() == real


# -- the same text from the model: an invalid call it is told about, never a failed run ------------


@pytest.mark.parametrize(
    "raw",
    [
        '{"path": "a\\ud800.md", "content": "x"}',
        '{"path": "a.md", "content": "x\\udc00"}',
        '{"path": "a.md", "content": "\\ud83d"}',  # an emoji cut in half
    ],
    ids=["in the path", "in the content", "half an emoji"],
)
def test_a_model_call_with_a_lone_surrogate_is_refused_and_the_run_goes_on(db, folder, raw):
    call = {"tool_calls": [{"name": "write_file", "arguments": raw}]}
    model = ScriptedModel([call, _write("b.md", "fine"), "done"])
    run = new_run(db, "write", policy=SHIPPED, model="scripted", workspace=str(folder))
    assert Driver(db, run, model).start().join().status == "succeeded"
    [refused, written] = [e.payload for e in events_of(db, run.id, "tool_result")]
    assert refused["outcome"] == "invalid", refused
    assert "half of a character" in refused["output"], refused
    assert written["outcome"] == "ok" and (folder / "b.md").read_text() == "fine"


# -- a prefix names the subcommand the person approved, past git's -C DIR and -c KEY=VALUE --------


@pytest.mark.parametrize(
    ("command", "label", "same", "other"),
    [
        (
            "git -C src commit -m x",
            "`git -C src commit *`",
            "git -C src commit -am y",
            "git -C src checkout main",
        ),
        (
            "git -C src commit -m x",
            "`git -C src commit *`",
            "git -C src commit -am y",
            "git -C src tag v1",
        ),
        (
            "git -c user.name=a commit -m x",
            "`git -c user.name=a commit *`",
            "git -c user.name=a commit",
            "git -c user.name=a checkout main",
        ),
        (
            "git -c 'user.name=*' commit -m x",
            None,
            "git -c 'user.name=*' commit",
            "git -c user.name=b commit -m y",
        ),
    ],
)
def test_a_git_prefix_past_its_options_covers_that_subcommand_only(command, label, same, other):
    allowed = allowing("run_shell", sh(command), "prefix", None)
    if label is not None:
        assert allowed.rules[0].name is not None and label in allowed.rules[0].name
    assert verdict("run_shell", sh(same), allowance=allowed, autonomy="manual").verdict == "allow"
    decision = verdict("run_shell", sh(other), allowance=allowed, autonomy="manual")
    assert decision.verdict == "ask", decision
