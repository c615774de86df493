"""Red-team variants on edited approvals (hard-appr): spellings of a path or a command that the
earlier lists do not name, decided through `approve` (what the dashboard card and
`onloop approve --args` call) and, for the forged ones, in the worker.

Two classes were open: a shell pattern in a redirection (`> r*.toml`: bash expands it when it
names one file) and a process's own view of the file system (`/proc/self/cwd/x` is the sandboxed
command's folder, not the deciding process's). Both were decided as harmless writes elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import storage
from agent_core.oversight.decisions import DecisionError, approve
from agent_core.oversight.policy import Policy
from agent_core.oversight.policy_file import default_policy_text, load_policy, parse_policy
from tests.oversight import test_edit_redteam as base
from tests.support.dashboard_seed import make_approval
from tests.support.run_helpers import new_run

_folder = pytest.fixture(base.folder.__wrapped__, name="folder")
_db = pytest.fixture(base.db.__wrapped__, name="db")

SHELL = ("run_shell", {"command": "ls"}, "high")
WRITE = base.WRITE
DELETE = base.DELETE


def _links(folder: Path) -> None:
    os.symlink("rules.toml", folder / "readme.md")  # an innocent name for the policy
    os.symlink(".", folder / "here")  # a folder link back to the workspace
    (folder / "sub").mkdir()


def _refused(db, folder: Path, call, edited: dict, policy: Policy | None = None) -> str:
    approval = base.asked(db, folder, call, policy)
    with pytest.raises(DecisionError) as refused:
        approve(db, approval_id=approval.id, by="mallory", edited_arguments=edited)
    row = storage.get_approval(db, approval_id=approval.id)
    assert row.status == "pending" and row.edited_arguments is None
    return str(refused.value)


# -- were open: decided as an allowed write elsewhere ---------------------------------------------
PATTERNS_AND_VIEWS = {
    "redirect into a pattern naming the policy": "echo x > r*.toml",
    "append into a pattern with ?": "echo x >> ./rules.tom?",
    "redirect into a bracket pattern": "echo '[sandbox]' > [r]ules.toml",
    "read the sign-in file by a redirected pattern": "cat < login.t*",
    "a pattern redirect inside bash -c": "bash -c 'echo x > r*.toml'",
    "a pattern on a compound statement": "{ echo x; } > rules.t?ml",
    "write through /proc/self/cwd": "echo x > /proc/self/cwd/rules.toml",
    "delete through /proc/self/cwd": "rm /proc/self/cwd/rules.toml",
    "copy over the sign-in file through /proc/thread-self/cwd": (
        "cp notes.md /proc/thread-self/cwd/login.toml"
    ),
    "read the sign-in file through /proc/self/cwd": "cat /proc/self/cwd/login.toml",
    "after cd, through /proc/self/cwd": "cd sub && echo x > /proc/self/cwd/../rules.toml",
    "through /proc/self/cwd and a pattern": "echo x > /proc/self/cwd/r*.toml",
    "up and back into /proc/self/cwd": "echo x > /dev/fd/../../proc/self/cwd/rules.toml",
}


@pytest.mark.parametrize("name", PATTERNS_AND_VIEWS)
def test_an_edit_into_a_pattern_or_a_proc_view_of_onloops_files_is_refused(db, folder, name):
    _links(folder)
    message = _refused(db, folder, SHELL, {"command": PATTERNS_AND_VIEWS[name]})
    assert "onloop's own files" in message, message


def test_an_edit_through_the_proc_root_view_is_refused(db, folder):
    command = f"echo x > /proc/self/root{folder}/rules.toml"
    assert "onloop's own files" in _refused(db, folder, SHELL, {"command": command})


def test_an_edit_through_an_open_folders_descriptor_is_not_allowed_unasked(db, folder):
    from agent_core.oversight.decisions import review_of

    run = new_run(db, "e", policy=load_policy(folder / "rules.toml"), workspace=str(folder),
                  model="scripted", autonomy="autonomous")  # fmt: skip
    approval = make_approval(db, run, tool="run_shell", arguments={"command": "ls"}, risk="high",
                             summary="ls")  # fmt: skip
    review = review_of(db, approval, {"command": "exec 3<.; echo x > /dev/fd/3/rules.toml"})
    assert review.decision.verdict != "allow", review.decision


def test_patterns_and_views_of_other_files_stay_allowed(db, folder):
    """The everyday forms still pass: a pattern naming the person's own files, /proc reads."""
    for command in (
        "echo x > n*.md",
        "cat /proc/self/cwd/notes.md",
        "echo x > /proc/self/cwd/new.md",
    ):
        approval = base.asked(db, folder, SHELL)
        done = approve(db, approval_id=approval.id, by="ada", edited_arguments={"command": command})
        assert done.status == "approved", command


# -- held before (kept as guards of variants no list named) ---------------------------------------
DEFAULT = parse_policy(default_policy_text(), source="defaults")

OBFUSCATED_DELETES = [
    "r''m -rf sub",
    "\\rm -rf sub",
    "$'rm' -rf sub",
    'rm -r""f sub',
    "command rm -rf sub",
    "command -p rm -rf sub",
    "builtin command rm -rf sub",
    "busybox rm -rf sub",
    "env rm -rf sub",
    "exec rm -rf sub",
    "nice rm -rf sub",
    "timeout 5 rm -rf sub",
    "ls\nrm -rf sub",
    "eval 'rm -rf sub'",
    "xargs rm -rf <<< sub",
    "bash -s <<< 'rm -rf sub'",
    "busybox sh -c 'rm -rf sub'",
    "sh <<EOF\nrm -rf sub\nEOF",
    "find sub -exec rm -rf {} +",
]


@pytest.mark.parametrize("command", OBFUSCATED_DELETES)
def test_an_edit_into_an_obfuscated_recursive_delete_is_refused(db, folder, command):
    (folder / "sub").mkdir()
    policy = DEFAULT.model_copy(update={"origin": load_policy(folder / "rules.toml").origin})
    message = _refused(db, folder, SHELL, {"command": command}, policy)
    assert "recursive" in message.lower(), message


COMPUTED = ["X=rm; $X -rf sub", "$(echo rm) -rf sub", "`echo rm` -rf sub", "echo x > $PWD/rules.toml",
            "F=rules.toml; echo x > $F", "echo 'rm -rf sub' | sh"]  # fmt: skip


@pytest.mark.parametrize("command", COMPUTED)
def test_an_edit_into_a_computed_command_is_never_allowed_unasked(db, folder, command):
    """What cannot be read asks: under a policy that allows every call, it is still not allowed."""
    from agent_core.oversight.decisions import review_of

    run = new_run(db, "e", policy=load_policy(folder / "rules.toml"), workspace=str(folder),
                  model="scripted", autonomy="autonomous")  # fmt: skip
    approval = make_approval(db, run, tool="run_shell", arguments={"command": "ls"}, risk="high",
                             summary="ls")  # fmt: skip
    assert review_of(db, approval, {"command": command}).decision.verdict == "ask"


PATH_SPELLINGS = {
    "a link in the workspace to the policy": "readme.md",
    "a folder link back to the workspace": "here/rules.toml",
    "a folder link twice": "here/here/login.toml",
    "a doubled slash": ".//rules.toml",
    "a trailing slash": "rules.toml/",
    "another case": "RULES.toml",
    "a one-dot leader for the dot": "rules\u2024toml",
    "the store's journal": "state.sqlite-journal",
    "the store's shm by another case": "STATE.sqlite-shm",
    "a streamlit folder by another case": ".Streamlit/config.toml",
}


@pytest.mark.parametrize("name", PATH_SPELLINGS)
@pytest.mark.parametrize("call", [WRITE, DELETE], ids=["write_file", "delete_files"])
def test_an_edit_into_another_spelling_of_onloops_files_is_refused(db, folder, name, call):
    _links(folder)
    path = PATH_SPELLINGS[name]
    edited = {"path": path, "content": "x"} if call is WRITE else {"paths": [path]}
    assert "onloop's own files" in _refused(db, folder, call, edited)


# -- in the worker: the same edits in a decision row written by any client ------------------------
_elsewhere = pytest.fixture(base.elsewhere.__wrapped__, name="elsewhere")


@pytest.mark.parametrize(
    "command", ["echo x > r*.toml", "echo x > /proc/self/cwd/rules.toml", "cat < login.t*"]
)
def test_a_forged_edit_into_a_pattern_or_a_proc_view_never_runs(elsewhere, folder, command):
    from tests.support.run_helpers import events_of

    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    run, driver, pending = base._driven(elsewhere, folder, SHELL)
    base._forge(elsewhere, pending, {"command": command})
    driver.join()
    result = events_of(elsewhere, run.id, "tool_result")[0].payload
    assert result["outcome"] == "denied" and "onloop's own files" in result["output"], result
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
