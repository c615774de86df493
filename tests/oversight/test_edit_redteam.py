"""Red-team variants on edited approvals (after issue 19): an edit into one of onloop's own files
by a name only this run knows (its policy file, the sign-in file, the store), spellings of a
path, JSON quirks (duplicate keys, numbers as strings, key order, nested values), and roles.
Each is decided through `approve` (what the dashboard card and `onloop approve --args` call)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import storage
from agent_core.oversight.decisions import DecisionError, approve, parse_edited_arguments
from agent_core.oversight.policy import Policy, Rule
from agent_core.oversight.policy_file import load_policy
from agent_core.oversight.signin_roles import Person
from tests.support.dashboard_seed import make_approval
from tests.support.run_helpers import new_run

WRITE = ("write_file", {"path": "notes.md", "content": "hello"}, "medium")
DELETE = ("delete_files", {"paths": ["scratch.tmp"]}, "high")
READ = ("read_file", {"path": "notes.md"}, "low")
ALLOW_ALL = '[[rules]]\ntool = "*"\naction = "allow"\nreason = "mine"\n'


@pytest.fixture
def folder(tmp_path: Path, monkeypatch) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "rules.toml").write_text(ALLOW_ALL)  # the run's policy, by another name than onloop's
    (root / "login.toml").write_text('[auth]\ncookie_secret = "c"\n')  # the sign-in file
    (root / "notes.md").write_text("notes")
    (root / "scratch.tmp").write_text("x")
    monkeypatch.setenv("ONLOOP_AUTH", str(root / "login.toml"))
    return root


@pytest.fixture
def db(tmp_path: Path, folder: Path):
    store = storage.open_store(f"sqlite:///{folder / 'state.sqlite'}")  # the store, in the folder
    yield store
    store.dispose()


def asked(store, folder: Path, call, policy: Policy | None = None):
    tool, arguments, risk = call
    policy = policy or load_policy(folder / "rules.toml")
    run = new_run(store, "edits", policy=policy, workspace=str(folder), model="scripted")
    return make_approval(store, run, tool=tool, arguments=arguments, risk=risk, summary=tool)


OWN_FILE_EDITS = {
    "the run's policy file by its own name": (WRITE, {"path": "rules.toml", "content": "x"}),
    "the policy, spelled ./": (WRITE, {"path": "./rules.toml", "content": "x"}),
    "the policy with a trailing space": (WRITE, {"path": "rules.toml ", "content": "x"}),
    "the policy with a trailing slash-dot": (WRITE, {"path": "rules.toml/.", "content": "x"}),
    "the sign-in file": (WRITE, {"path": "login.toml", "content": "[roles]"}),
    "the store under another name": (WRITE, {"path": "state.sqlite", "content": "x"}),
    "the store's wal": (WRITE, {"path": "state.sqlite-wal", "content": "x"}),
    "delete the policy among others": (DELETE, {"paths": ["scratch.tmp", "rules.toml"]}),
    "read the sign-in file": (READ, {"path": "login.toml"}),
    "onloop.toml by name": (WRITE, {"path": "sub/ONLOOP.toml", "content": "x"}),
    "a streamlit secret": (WRITE, {"path": ".streamlit/secrets.toml", "content": "x"}),
}


@pytest.mark.parametrize("name", OWN_FILE_EDITS)
def test_an_edit_into_onloops_own_files_is_refused_when_decided(db, folder, name):
    call, edited = OWN_FILE_EDITS[name]
    approval = asked(db, folder, call)
    with pytest.raises(DecisionError, match="onloop's own files"):
        approve(db, approval_id=approval.id, by="ada", edited_arguments=edited)
    assert storage.get_approval(db, approval_id=approval.id).status == "pending"


def test_an_everyday_edit_in_the_same_folder_is_approved(db, folder):
    approval = asked(db, folder, WRITE)
    done = approve(
        db,
        approval_id=approval.id,
        by="ada",
        edited_arguments={"path": "notes2.md", "content": "y"},
    )
    assert done.status == "approved" and done.edited_arguments["path"] == "notes2.md"


# -- JSON quirks ----------------------------------------------------------------------------------
def test_duplicate_keys_decide_and_run_the_value_shown(db, folder):
    """JSON with "path" twice: the last one is what is decided, shown and stored, never the other."""
    edited = parse_edited_arguments('{"path": "notes2.md", "path": "rules.toml", "content": "x"}')
    approval = asked(db, folder, WRITE)
    with pytest.raises(DecisionError, match="onloop's own files"):
        approve(db, approval_id=approval.id, by="ada", edited_arguments=edited)
    edited = parse_edited_arguments('{"path": "rules.toml", "path": "notes2.md", "content": "x"}')
    done = approve(db, approval_id=approval.id, by="ada", edited_arguments=edited)
    assert done.edited_arguments == {"path": "notes2.md", "content": "x"}


@pytest.mark.parametrize(
    "edited",
    [
        {"path": ["rules.toml"], "content": "x"},  # a list where a string is declared
        {"path": {"p": "rules.toml"}, "content": "x"},  # a nested object
        {"path": 7, "content": "x"},  # a number
        {"path": "notes.md", "content": {"a": 1}},
        {"path": "notes.md", "content": "x", "mode": "a"},  # an argument the tool never declared
    ],
)
def test_values_of_the_wrong_type_are_refused(db, folder, edited):
    approval = asked(db, folder, WRITE)
    with pytest.raises(DecisionError, match="do not fit"):
        approve(db, approval_id=approval.id, by="ada", edited_arguments=edited)


def test_key_order_alone_is_no_edit(db, folder):
    approval = asked(db, folder, WRITE)
    reordered = json.loads('{"content": "hello", "path": "notes.md"}')
    done = approve(db, approval_id=approval.id, by="ada", edited_arguments=reordered)
    assert done.edited_arguments is None  # the agent's own call, approved as it asked


def test_an_approver_cannot_edit_a_call_into_one_an_admin_must_approve(db, folder):
    """A rule asks an admin about `deploy/`; an approver edits a harmless write there."""
    rules = [
        Rule(tool="write_file", paths=["deploy/**"], action="ask", approve_role="admin"),
        Rule(tool="*", action="allow"),
    ]
    approval = asked(db, folder, WRITE, Policy(rules=rules))
    approver = Person("ap@x.org", "approver", "oidc", subject="s")
    for path in ("deploy/x", "./deploy/x", "deploy//x", "deploy/./x", "deploy/sub/../x"):
        with pytest.raises(DecisionError, match="admin|outside the run"):
            approve(
                db, approval_id=approval.id, by=approver,
                edited_arguments={"path": path, "content": "x"},
            )  # fmt: skip
    admin = Person("ad@x.org", "admin", "oidc", subject="t")
    done = approve(
        db, approval_id=approval.id, by=admin, edited_arguments={"path": "deploy/x", "content": "x"}
    )
    assert done.status == "approved"


# -- in the worker: a decision row written by any client ------------------------------------------
@pytest.fixture
def elsewhere(tmp_path: Path):
    """A store outside the folder (a worker refuses a workspace that holds its store)."""
    store = storage.open_store(f"sqlite:///{tmp_path / 'db' / 'onloop.db'}")
    yield store
    store.dispose()


def _driven(store, folder: Path, call):
    from agent_core.models.scripted import ScriptedModel
    from tests.support.run_helpers import Driver

    tool, arguments, _risk = call
    model = ScriptedModel([{"tool_calls": [{"name": tool, "arguments": arguments}]}, "done"])
    policy = Policy(rules=[Rule(tool="*", action="ask", reason="every call asks")])
    policy = policy.model_copy(update={"origin": load_policy(folder / "rules.toml").origin})
    run = new_run(store, "edits", policy=policy, workspace=str(folder), model="scripted")
    driver = Driver(store, run, model).start()
    return run, driver, driver.pending()


def _forge(store, approval, edited: dict, digest: str | None = None) -> None:
    from agent_core.tools import args_hash, builtin_tools

    edited = builtin_tools()[approval.tool].validate(edited)
    storage.decide_approval(
        store, approval_id=approval.id, decision="approved", decided_by="raw-writer",
        edited_arguments=edited, approved_hash=digest or args_hash(edited),
    )  # fmt: skip


FORGED = {
    "the run's policy by its own name": {"path": "rules.toml", "content": "x"},
    "the sign-in file": {"path": "./login.toml", "content": "x"},
    "a streamlit config": {"path": ".streamlit/config.toml", "content": "x"},
    "a planted onloop.toml": {"path": "deep/onloop.toml", "content": "x"},
}


@pytest.mark.parametrize("name", FORGED)
def test_a_forged_edit_into_onloops_own_files_never_runs(elsewhere, folder, name):
    db = elsewhere
    from tests.support.run_helpers import events_of

    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    run, driver, pending = _driven(db, folder, WRITE)
    _forge(db, pending, FORGED[name])
    driver.join()
    result = events_of(db, run.id, "tool_result")[0].payload
    assert result["outcome"] == "denied" and "onloop's own files" in result["output"], result
    for file in ("rules.toml", "login.toml"):
        assert (folder / file).read_bytes() == before[file]
    assert not (folder / "deep").exists() and not (folder / ".streamlit").exists()


def test_a_forged_edit_with_a_wrong_hash_never_runs(elsewhere, folder):
    db = elsewhere
    from tests.support.run_helpers import events_of

    run, driver, pending = _driven(db, folder, WRITE)
    _forge(db, pending, {"path": "other.md", "content": "x"}, digest="0" * 64)
    driver.join()
    result = events_of(db, run.id, "tool_result")[0].payload
    assert result["outcome"] == "denied" and not (folder / "other.md").exists(), result


def test_cli_approve_args_refuses_an_edit_into_the_runs_own_policy_in_one_line(tmp_path, folder):
    from tests.cli.test_commands import onloop

    db = tmp_path / "db" / "onloop.db"
    db.parent.mkdir()
    store = storage.open_store(str(db))
    approval = asked(store, folder, WRITE)
    store.dispose()
    for path in ("rules.toml", "login.toml", "./rules.toml "):
        args = json.dumps({"path": path, "content": "x"})
        done = onloop("approve", approval.run_id, "--args", args, "--db", str(db), cwd=tmp_path)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "onloop's own files" in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    assert (folder / "rules.toml").read_text() == ALLOW_ALL


SHELL_NAMING_THE_POLICY = [
    "echo x > rules.toml",
    "sed -i s/a/b/ rules.t[o]ml",
    "cd sub 2>/dev/null; cp notes.md ../rules.toml",
    "echo x | tee -a ./login.toml",
    'python3 -c \'open("rules.toml","w")\'',
    "dd if=notes.md of=rules.toml",
    "install notes.md rules.toml",
]


@pytest.mark.parametrize("command", SHELL_NAMING_THE_POLICY)
def test_an_edit_into_a_shell_command_naming_the_runs_policy_is_refused(db, folder, command):
    approval = asked(db, folder, ("run_shell", {"command": "ls"}, "high"))
    with pytest.raises(DecisionError, match="onloop's own files"):
        approve(db, approval_id=approval.id, by="ada", edited_arguments={"command": command})


def test_the_dashboard_card_refuses_an_edit_into_the_runs_own_policy(tmp_path, monkeypatch):
    from tests.oversight.test_edit_surfaces import inbox, key
    from tests.support import dashboard_seed as seed

    store = next(seed.open_test_store(tmp_path, monkeypatch))
    folder = tmp_path / "ws"
    folder.mkdir()
    (folder / "my-rules.toml").write_text(ALLOW_ALL)
    policy = load_policy(folder / "my-rules.toml")
    run = new_run(store, "edit", policy=policy, workspace=str(folder), model="scripted")
    storage.update_run(store, run_id=run.id, status="waiting")
    approval = make_approval(store, run, tool="write_file", arguments=WRITE[1], risk="medium",
                             summary="write notes.md")  # fmt: skip
    at = inbox()
    at.text_area(key=key(approval, "edited")).input(
        '{"path": "my-rules.toml", "content": "[sandbox]"}'
    ).run()
    assert any("Cannot be approved" in e.value for e in at.error)  # before pressing
    at.button(key=key(approval, "approve-edited")).click().run()
    assert storage.get_approval(store, approval_id=approval.id).status == "pending"
    assert (folder / "my-rules.toml").read_text() == ALLOW_ALL


@pytest.mark.parametrize("value", ["500", 500.5, True, None, [500]])
def test_a_number_given_as_another_type_is_refused_or_run_as_shown(db, folder, value):
    """fetch_url's max_chars as a string, a float, a boolean, null, a list: refused, or (null:
    the default) stored exactly as it will run, so the hash pins what the person saw."""
    from agent_core.tools import args_hash

    call = ("fetch_url", {"url": "http://127.0.0.1:9/a"}, "medium")
    approval = asked(db, folder, call)
    edited = {"url": "http://127.0.0.1:9/b", "max_chars": value}
    try:
        done = approve(db, approval_id=approval.id, by="ada", edited_arguments=edited)
    except DecisionError as refused:
        assert "do not fit" in str(refused)
        return
    assert done.approved_hash == args_hash(done.edited_arguments)
    assert isinstance(done.edited_arguments["max_chars"], int)
    assert not isinstance(done.edited_arguments["max_chars"], bool)
