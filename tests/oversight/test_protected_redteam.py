"""Red-team variants on onloop's own files (after issue 19): spellings, other programs, other
entry points, timing. Each attack runs through the real path; the ones that held are kept as
regression guards. See docs/security/protected-files.md."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from agent_core.run.tool_runner import run_tool
from agent_core.tools import ToolError, Workspace, builtin_tools
from agent_core.tools.context import ToolContext
from agent_core.tools.protected import own_files
from tests.oversight import test_protected_files_attacks as base
from tests.oversight.test_protected_files_attacks import COOKIE, own_state

_project = pytest.fixture(base.project.__wrapped__, name="project")  # the same folder

pytestmark = base.pytestmark


def _shell_alone(folder: Path, command: str, **protected) -> str:
    protected = protected or {"policy_file": str(folder / "onloop.toml")}
    return shell_in(Workspace(folder, own_files(**protected)), command)


def shell_in(workspace: Workspace, command: str) -> str:
    """One sandboxed shell command in `workspace`, called as a run calls it: its output, or the
    tool's error."""
    try:
        return run_tool(
            builtin_tools()["run_shell"], {"command": command}, workspace=workspace,
            context=ToolContext(),
        )  # fmt: skip
    except ToolError as failed:
        return str(failed)


# -- the shell, other programs that write a file -------------------------------------------------
SHELL_VARIANTS = {
    "dd of=": "dd if=evil of=onloop.toml",
    "dd conv=notrunc": "dd if=evil of=onloop.toml conv=notrunc",
    "tee": "tee onloop.toml < evil",
    "tee -a the sign-in file": "echo '[roles]' | tee -a signin.toml",
    "install": "install -m 644 evil onloop.toml",
    "cp --remove-destination": "cp --remove-destination evil onloop.toml",
    "cp -l (a hard link)": "cp -lf evil sub/onloop.toml",
    "mv -T over the folder": "mkdir x && mv -T x .streamlit",
    "rsync-like rename of a temp": "cp evil .t && mv -f .t sub/onloop.toml",
    "python os.replace": "python3 -c \"import os; os.replace('evil', 'onloop.toml')\"",
    "python os.rename of the folder": "python3 -c \"import os; os.rename('sub', 'sub2')\"",
    "python open r+": "python3 -c \"f=open('onloop.toml','r+'); f.write('#')\"",
    "python unlink the wal": "python3 -c \"import os; os.unlink('onloop.db-wal')\"",
    "tar x over": "mkdir t && cp evil t/onloop.toml && tar cf a.tar -C t onloop.toml && tar xf a.tar",
    "tar x --overwrite into sub": (
        "mkdir -p t/sub && cp evil t/sub/onloop.toml && tar cf a.tar -C t sub && "
        "tar xf a.tar --overwrite"
    ),
    "unzip -o": "mkdir z && cp evil z/onloop.toml && (cd z && zip -q ../a.zip onloop.toml) && "
    "unzip -o a.zip",
    "git checkout --": (
        "git init -q . && git add onloop.toml && git -c user.email=a@b -c user.name=a commit -qm x"
        " && cp evil n && git checkout -- onloop.toml; git stash -q; git stash pop -q; "
        "git show HEAD:onloop.toml > /dev/null; git rm -q --cached onloop.toml; "
        "git checkout HEAD -- sub 2>/dev/null; rm -rf sub/.git"
    ),
    "git rm": "git init -q . && git add -A && git rm -qf onloop.toml sub/onloop.toml",
    "chmod the folder above": "chmod 0 sub; chmod 777 sub",
    "touch -d (times)": "touch -d 2000-01-01 onloop.toml",
    "setfattr-like: xattr": "python3 -c \"import os; os.setxattr('onloop.toml','user.x',b'1')\"",
    "mount over it": "mount --bind evil onloop.toml",
    "a hard link into a new folder": "mkdir h && ln onloop.toml h/x && echo x >> h/x",
    "symlink the secrets folder and write": "ln -s .streamlit s && echo x > s/secrets.toml",
    "symlink the secrets folder and read": "ln -s .streamlit s && cat s/secrets.toml",
    "read the secrets through /proc": "cat /proc/self/root$(pwd)/signin.toml",
    "find -exec": "find . -name onloop.toml -exec cp evil {} \\;",
    "sed -i through a link": "ln -s onloop.toml l && sed -i --follow-symlinks 's/a/b/' l",
}


@pytest.mark.parametrize("name", SHELL_VARIANTS)
def test_other_programs_in_the_shell_never_change_onloops_files(project, name):
    before = own_state(project)
    output = _shell_alone(project, SHELL_VARIANTS[name])
    after = {k: v for k, v in own_state(project).items() if k in before}
    assert after == before, output
    assert COOKIE not in output
    assert not [k for k in own_state(project) if k not in before and not os.path.islink(project / k)
                and ("onloop.toml" in k or ".streamlit" in k)], output  # fmt: skip


# -- hiding an entry from the walk, then writing or planting it ----------------------------------
HIDE_THEN_WRITE = {
    "an unreadable folder above the policy": ["chmod 311 sub", "cp evil sub/onloop.toml"],
    "a folder with no permission at all": ["chmod 0 sub", "chmod 755 sub; cp evil sub/onloop.toml"],
    "the workspace itself unreadable": ["chmod 311 .", "chmod 755 .; cp evil onloop.toml"],
    "the secrets folder unreadable": ["chmod 0 .streamlit", "chmod 755 .streamlit"],
}
HIDE_THEN_PLANT = {
    "plant, then hide its folder": ["mkdir p && cp evil p/onloop.toml && chmod 0 p", "chmod 755 p"],
    "plant in an x-only folder": ["mkdir p && cp evil p/onloop.toml && chmod 111 p", "true"],
    "plant a secrets folder, then hide": ["mkdir -p q/.streamlit && chmod 0 q", "chmod 755 q"],
    "hide the root with a plant": ["mkdir p && cp evil p/onloop.toml && chmod 311 .", "true"],
}


@pytest.fixture(params=["as root", "as the folder's owner"])
def listing(request, monkeypatch):
    """How the worker lists folders: as root (these tests' machine: permissions do not stop it),
    or as an ordinary user, who may not list a folder without read and search permission."""
    if request.param == "as the folder's owner":
        real = os.scandir

        def owner_scandir(path="."):
            if os.stat(path).st_mode & 0o500 != 0o500:
                raise PermissionError(13, "Permission denied", str(path))
            return real(path)

        monkeypatch.setattr("agent_core.tools.protected.os.scandir", owner_scandir)
    return request.param


@pytest.mark.parametrize("name", HIDE_THEN_WRITE)
def test_a_folder_made_unreadable_does_not_unpin_what_is_inside(project, name, listing):
    before = own_state(project)
    outputs = [_shell_alone(project, command) for command in HIDE_THEN_WRITE[name]]
    _readable(project)
    assert own_state(project) == before, outputs
    assert all(COOKIE not in o for o in outputs)


@pytest.mark.parametrize("name", HIDE_THEN_PLANT)
def test_a_plant_in_a_folder_made_unreadable_is_still_removed(project, name, listing):
    before = own_state(project)
    outputs = [_shell_alone(project, command) for command in HIDE_THEN_PLANT[name]]
    _readable(project)
    new = [k for k in own_state(project) if k not in before]
    assert not new, outputs


def _readable(folder: Path) -> None:
    """Let the test itself look (a permission left by an attack must not hide its result)."""
    for here, folders, _files in os.walk(folder):
        for name in folders:
            os.chmod(os.path.join(here, name), 0o755)
    os.chmod(folder, 0o755)
    for here, folders, _files in os.walk(folder):
        for name in folders:
            os.chmod(os.path.join(here, name), 0o755)


# -- a folder flooded past the walk's cap --------------------------------------------------------
FLOOD = "python3 -c \"import os; os.makedirs('{0}', exist_ok=True); [open('{0}/f%06d' % i, 'w').close() for i in range(100010)]\""  # noqa: E501
FLOOD_THEN_PLANT = {
    "flood a folder, plant in another": FLOOD.format("a")
    + " && mkdir zz && cp evil zz/onloop.toml",
    "flood the root, plant there": FLOOD.format(".") + " && rm onloop.toml 2>/dev/null; "
    "mkdir -p q/.streamlit && ln -s evil zz.toml && mv zz.toml q/onloop.toml",
}


@pytest.mark.parametrize("name", FLOOD_THEN_PLANT)
def test_a_plant_hidden_behind_a_flood_of_entries_is_still_removed(tmp_path, name):
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "evil").write_text(base.EVIL)
    output = _shell_alone(bare, FLOOD_THEN_PLANT[name])
    planted = [p for p in ("zz/onloop.toml", "q/onloop.toml", "q/.streamlit") if
               os.path.lexists(bare / p)]  # fmt: skip
    assert not planted, output


def test_a_workspace_past_the_cap_keeps_the_persons_own_deep_files_and_works(tmp_path):
    """Ordinary work in a huge folder: a policy file of the person's own, deep past the walk's
    cap, is not taken for a plant; the command runs and its output is kept."""
    big = tmp_path / "big"
    (big / "a").mkdir(parents=True)
    for i in range(100_010):
        (big / "a" / f"f{i:06d}").touch()
    (big / "zz" / "deep").mkdir(parents=True)
    (big / "zz" / "deep" / "onloop.toml").write_text(base.PERMISSIVE)
    time.sleep(1.5)  # its ctime is now older than the command (ctime cannot be set back)
    output = _shell_alone(big, "echo done > out.txt && cat zz/deep/onloop.toml")
    assert (big / "out.txt").read_text() == "done\n"
    assert (big / "zz" / "deep" / "onloop.toml").read_text() == base.PERMISSIVE, output


# -- a person's own tool, given the Workspace ----------------------------------------------------
def _own_tools():
    from agent_core.tools import tool

    @tool("medium", paths=("target",))
    def save_note(workspace: Workspace, target: str, text: str) -> str:
        """Save a note.

        Args:
            target: Where, relative to the workspace.
            text: What.
        """
        workspace.resolve(target).write_text(text)
        return "saved"

    @tool("medium")
    def store_note(workspace: Workspace, filename: str, text: str) -> str:
        """Save a note (its path argument not declared).

        Args:
            filename: Where, relative to the workspace.
            text: What.
        """
        workspace.writable(filename).write_text(text)
        return "saved"

    return save_note, store_note


@pytest.mark.parametrize(
    "target", ["onloop.toml", "sub/ONLOOP.toml", "./onloop.toml/", ".streamlit/x", "signin.toml"]
)
def test_a_persons_own_tool_cannot_be_led_to_onloops_files(project, target):
    from agent_core.oversight.policy import decide
    from agent_core.oversight.policy_file import load_policy

    declared, undeclared = _own_tools()
    workspace = Workspace(project, own_files(policy_file=str(project / "onloop.toml")))
    policy = load_policy(project / "onloop.toml")  # allows every call
    before = own_state(project)
    verdict = decide(
        policy, tool=declared.name, risk=declared.risk, arguments={"target": target, "text": "x"},
        autonomy="autonomous", kinds=declared.argument_kinds, workspace=workspace,
    )  # fmt: skip
    assert verdict.verdict == "deny" and verdict.rule == "onloop's own files"
    with pytest.raises(ToolError, match="onloop's own files"):  # the Workspace's write path
        run_tool(undeclared, {"filename": target, "text": "x"}, workspace=workspace)
    assert own_state(project) == before
    assert run_tool(undeclared, {"filename": "note.md", "text": "x"}, workspace=workspace)
    assert (project / "note.md").read_text() == "x"  # everyday use still works


# -- another name of a protected file: a hard link the person made --------------------------------
HARD_LINKED = {
    "append to the policy's other name": ("onloop.toml", "echo evil >> keep/copy.toml"),
    "truncate the policy's other name": ("sub/onloop.toml", "truncate -s0 keep/copy.toml"),
    "python r+ on the other name": (
        "onloop.toml",
        "python3 -c \"open('keep/copy.toml','r+').write('[sandbox]')\"",
    ),  # fmt: skip
    "read the sign-in file's other name": ("signin.toml", "cat keep/copy.toml"),
    "read the streamlit secret's other name": (".streamlit/secrets.toml", "cat keep/copy.toml"),
    "write the sign-in file's other name": ("signin.toml", "echo '[roles]' >> keep/copy.toml"),
}


@pytest.mark.parametrize("name", HARD_LINKED)
def test_a_hard_link_to_a_protected_file_is_pinned_as_the_file(project, name):
    original, command = HARD_LINKED[name]
    (project / "keep").mkdir()
    os.link(project / original, project / "keep" / "copy.toml")
    before = own_state(project)
    output = _shell_alone(project, command)
    assert own_state(project) == before, output
    assert COOKIE not in output
    assert _shell_alone(project, "echo fine > keep/other.md").startswith("exit code 0")


# -- plants outside the walk's reach: the parent folder, a link to the host ----------------------
ELSEWHERE = {
    "a policy in the folder above": "cp evil ../onloop.toml; cp evil ../../onloop.toml",
    "a secrets folder that is a link to the host's /tmp": "ln -s /tmp .streamlit",
    "a policy that is a link to a host file": "ln -s /etc/hostname onloop.toml",
    "a relative link up and out": "mkdir d && ln -s ../../../evil d/onloop.toml",
    "a policy folder (a directory by that name)": "mkdir -p onloop.toml/x",
}


@pytest.mark.parametrize("name", ELSEWHERE)
def test_a_plant_outside_or_through_a_link_does_not_stay(tmp_path, name):
    bare = tmp_path / "up" / "bare"
    bare.mkdir(parents=True)
    (bare / "evil").write_text(base.EVIL)
    output = _shell_alone(bare, ELSEWHERE[name])
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert not any(p.endswith("onloop.toml") or ".streamlit" in p for p in left), (output, left)


DEEP = """python3 -c "
import os
for i in range(120):
    os.mkdir('a' * 60)
    os.chdir('a' * 60)
open('onloop.toml', 'w').write(open('/dev/null').read() + 'evil')
os.mkdir('.streamlit')
os.symlink('/tmp', 'x')
os.rename('x', 'ONLOOP.TOML')
" """


def test_a_plant_deeper_than_the_path_limit_is_still_removed(tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    output = _shell_alone(bare, DEEP)
    left = []
    for _here, folders, files in os.walk(bare):
        left += [n for n in (*folders, *files) if n.casefold() in ("onloop.toml", ".streamlit")]
    assert not left, output
    assert "onloop removed" in output
    assert _shell_alone(bare, "echo ok > fine.md").startswith("exit code 0")  # still works
