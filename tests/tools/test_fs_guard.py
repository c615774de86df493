"""File tools against a symlink swapped between their check and their open, and other odd files.

A racing thread swaps links (atomically, by renaming a new link over the old) while a tool is
called thousands of times; not one call may touch the file outside the workspace.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from typer.testing import CliRunner

import storage
from agent_core.cli.app import app
from agent_core.run.tool_runner import run_tool
from agent_core.tools import Workspace, builtin_tools
from agent_core.tools.errors import ToolError
from agent_core.tools.sandbox import server_argv
from agent_core.worker.session_start import prepare_workspace
from storage.engine import writing
from storage.models import Run
from storage.private_files import NotOwnFolder

SECRET = "HOST-SECRET-0123456789"
ROUNDS = 3_000


def _call(ws: Workspace, name: str, **arguments: object) -> str:
    try:
        return run_tool(builtin_tools()[name], arguments, workspace=ws)
    except ToolError as exc:
        return f"error: {exc}"


@pytest.fixture
def host(tmp_path: Path) -> Path:
    """A folder outside the workspace standing for the host's files."""
    outside = tmp_path / "host"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    (outside / "keep.txt").write_text(SECRET)
    return outside


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    (root / "real").mkdir(parents=True)
    (root / "real" / "secret.txt").write_text("inside")
    (root / "real" / "keep.txt").write_text("inside")
    (root / "inside.txt").write_text("inside")
    return Workspace(root)


def _swap(link: Path, targets: tuple[str, str], stop: threading.Event) -> None:
    """Point `link` at each target in turn, atomically, until stopped."""
    spare = link.with_name(link.name + ".next")
    i = 0
    while not stop.is_set():
        try:
            os.symlink(targets[i % 2], spare)
            os.rename(spare, link)
        except FileNotFoundError:
            pass
        i += 1


def _swap_folder(folder: Path, outside: Path, stop: threading.Event) -> None:
    """Replace a real folder with a link to `outside` and back, until stopped."""
    parked = folder.with_name(folder.name + ".parked")
    while not stop.is_set():
        try:
            os.rename(folder, parked)
            os.symlink(outside, folder)
            os.unlink(folder)
            os.rename(parked, folder)
        except OSError:  # a tool made a folder of that name meanwhile: start again from it
            if os.path.islink(folder):
                os.unlink(folder)
            if os.path.isdir(parked) and not os.path.lexists(folder):
                os.rename(parked, folder)
            elif os.path.isdir(parked):
                shutil.rmtree(parked)


def _racing(swapper: Callable[[threading.Event], None]) -> Iterator[None]:
    stop = threading.Event()
    thread = threading.Thread(target=swapper, args=(stop,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


def test_a_link_swapped_between_check_and_open_never_reads_a_host_file(ws, host):
    link = ws.root / "x"
    os.symlink("inside.txt", link)
    race = _racing(lambda stop: _swap(link, ("inside.txt", str(host / "secret.txt")), stop))
    next(race)
    outputs = [_call(ws, "read_file", path="x") for _ in range(ROUNDS)]
    next(race, None)
    escapes = sum(SECRET in out for out in outputs)
    assert escapes == 0, f"{escapes} of {ROUNDS} reads returned the host file"
    assert any(out == "inside" for out in outputs)  # the link inside still works


def test_a_parent_folder_swapped_for_a_link_never_reads_a_host_file(ws, host):
    race = _racing(lambda stop: _swap_folder(ws.root / "real", host, stop))
    next(race)
    outputs = [_call(ws, "read_file", path="real/secret.txt") for _ in range(ROUNDS)]
    next(race, None)
    assert sum(SECRET in out for out in outputs) == 0


def test_a_write_through_a_swapped_link_never_writes_the_host_file(ws, host):
    link = ws.root / "x"
    os.symlink("inside.txt", link)
    race = _racing(lambda stop: _swap(link, ("inside.txt", str(host / "keep.txt")), stop))
    next(race)
    for _ in range(ROUNDS // 3):
        _call(ws, "write_file", path="x", content="overwritten")
    next(race, None)
    assert (host / "keep.txt").read_text() == SECRET
    assert (ws.root / "inside.txt").read_text() == "overwritten"


def test_a_write_into_a_swapped_folder_never_creates_or_changes_host_files(ws, host):
    race = _racing(lambda stop: _swap_folder(ws.root / "real", host, stop))
    next(race)
    for i in range(ROUNDS // 3):
        _call(ws, "write_file", path="real/keep.txt", content="overwritten")
        _call(ws, "write_file", path=f"real/new{i % 7}.txt", content="new")
    next(race, None)
    assert (host / "keep.txt").read_text() == SECRET
    assert sorted(p.name for p in host.iterdir()) == ["keep.txt", "secret.txt"]


def test_a_delete_through_a_swapped_folder_never_deletes_a_host_file(ws, host):
    race = _racing(lambda stop: _swap_folder(ws.root / "real", host, stop))
    next(race)
    for _ in range(ROUNDS // 3):
        _call(ws, "delete_files", paths=["real/keep.txt"])
        (ws.root / "real.parked" / "keep.txt").exists()  # give the swapper a turn
        if not (host / "keep.txt").exists():
            break
        _refill_without_following(ws.root / "real", "keep.txt")
    next(race, None)
    assert (host / "keep.txt").read_text() == SECRET


def _refill_without_following(folder: Path, name: str) -> None:
    """Put the file back inside the real folder; never through the swapped-in link (the test's
    own write must not race the swapper either)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return  # the link is in place right now
    try:
        file = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, dir_fd=fd)
        os.write(file, b"inside")
        os.close(file)
    except OSError:
        pass
    finally:
        os.close(fd)


def test_a_listing_of_a_swapped_folder_never_shows_host_files(ws, host):
    (host / "host-only-name.txt").write_text(SECRET)
    race = _racing(lambda stop: _swap_folder(ws.root / "real", host, stop))
    next(race)
    outputs = [_call(ws, "list_files", path="real") for _ in range(ROUNDS // 3)]
    next(race, None)
    assert not any("host-only-name" in out for out in outputs)


def _bounded(call: Callable[[], str], unblock: Callable[[], None]) -> str:
    """Run `call` in a thread; if it hangs, unblock it so the test ends, and fail."""
    result: list[str] = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    thread.join(timeout=10)
    if thread.is_alive():
        unblock()
        thread.join(timeout=10)
        pytest.fail("the tool blocked on a FIFO")
    return result[0]


def _open_fifo_other_end(path: Path, flags: int) -> None:
    try:
        os.close(os.open(path, flags | os.O_NONBLOCK))
    except OSError:
        pass


def test_writing_a_fifo_does_not_hang_and_is_refused(ws):
    fifo = ws.root / "pipe"
    os.mkfifo(fifo)
    out = _bounded(
        lambda: _call(ws, "write_file", path="pipe", content="x"),
        lambda: _open_fifo_other_end(fifo, os.O_RDONLY),
    )
    assert out.startswith("error:") and "not a regular file" in out


def test_reading_a_fifo_reached_through_a_link_does_not_hang(ws):
    os.mkfifo(ws.root / "pipe")
    os.symlink("pipe", ws.root / "notes.txt")
    out = _bounded(
        lambda: _call(ws, "read_file", path="notes.txt"),
        lambda: _open_fifo_other_end(ws.root / "pipe", os.O_WRONLY),
    )
    assert out.startswith("error:") and "not a regular file" in out


def test_a_hard_link_to_a_host_file_is_neither_read_nor_written_through(ws, host):
    os.link(host / "secret.txt", ws.root / "linked.txt")
    assert SECRET not in _call(ws, "read_file", path="linked.txt")
    assert "hard link" in _call(ws, "read_file", path="linked.txt")
    _call(ws, "write_file", path="linked.txt", content="overwritten")
    assert (host / "secret.txt").read_text() == SECRET  # the name was replaced, not the inode
    assert (ws.root / "linked.txt").read_text() == "overwritten"


@pytest.mark.parametrize(
    "target",
    [
        "/proc/self/root/{host}/secret.txt",  # the process's own root, then the host path
        "/proc/self/cwd",
        "/proc/thread-self/root/etc/hostname",
        "/dev/zero",  # a device node outside
        "../host/secret.txt",  # a relative link climbing out
        "real/../../host/secret.txt",  # climbing out after a folder inside
        "/{ws}/../host/secret.txt",  # an absolute link naming the workspace, then leaving it
    ],
)
@pytest.mark.parametrize("tool", ["read_file", "write_file", "list_files"])
def test_links_that_lead_out_are_refused_by_every_file_tool(ws, host, target, tool):
    os.symlink(target.format(host=host, ws=str(ws.real_root).lstrip("/")), ws.root / "x")
    arguments: dict[str, object] = {"path": "x"}
    if tool == "write_file":
        arguments["content"] = "overwritten"
    out = _call(ws, tool, **arguments)
    assert out.startswith("error:") and "outside the run's workspace" in out, out
    assert (host / "secret.txt").read_text() == SECRET


def test_links_that_stay_inside_still_work(ws):
    os.symlink("real", ws.root / "alias")  # a folder link
    os.symlink(str(ws.real_root / "inside.txt"), ws.root / "absolute")  # absolute, inside
    os.symlink("alias/../inside.txt", ws.root / "dotted")  # '..' after a link: its parent
    assert _call(ws, "read_file", path="alias/secret.txt") == "inside"
    assert _call(ws, "read_file", path="absolute") == "inside"
    assert _call(ws, "read_file", path="dotted") == "inside"
    _call(ws, "write_file", path="alias/new.txt", content="via link")
    assert (ws.root / "real" / "new.txt").read_text() == "via link"
    assert os.path.islink(ws.root / "alias")


def test_a_link_loop_is_a_clear_error_not_a_hang(ws):
    os.symlink("b", ws.root / "a")
    os.symlink("a", ws.root / "b")
    out = _call(ws, "read_file", path="a")
    assert out.startswith("error:") and "too many symlinks" in out


def test_deleting_through_a_link_to_a_host_folder_is_refused(ws, host):
    os.symlink(host, ws.root / "real" / "x")
    out = _call(ws, "delete_files", paths=["real/x/secret.txt"])
    assert out.startswith("error:") and "outside the run's workspace" in out
    assert (host / "secret.txt").read_text() == SECRET


# -- owner-only files and folders, whatever the umask -------------------------------------------


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The loosest umask a user could have: anything not set explicitly comes out world-readable."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _run(**fields: object) -> Run:
    defaults: dict[str, object] = {
        "id": "r-perm",
        "own_workspace": False,
        "workspace": None,
        "seed_from": None,
        "model": "scripted",
    }
    return cast(Run, SimpleNamespace(**{**defaults, **fields}))


def test_a_new_store_and_its_wal_and_shm_are_owner_only(tmp_path, open_umask):
    db = tmp_path / "fresh" / "onloop.db"
    with storage.open_store(str(db)) as store:
        with writing(store) as conn:
            conn.exec_driver_sql("CREATE TABLE probe (a)")
        files = [db, Path(f"{db}-wal"), Path(f"{db}-shm")]
        assert all(f.exists() for f in files)
        assert {f.name: _mode(f) for f in files} == {f.name: 0o600 for f in files}
    assert _mode(db.parent) == 0o700  # a folder onloop made for its store


def test_an_existing_loose_store_is_tightened_on_open_and_said_once(tmp_path, caplog):
    db = tmp_path / "old.db"
    storage.open_store(str(db)).dispose()
    for f in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        f.touch()
        os.chmod(f, 0o644)
    caplog.set_level(logging.INFO, logger="storage.private_files")
    with storage.open_store(str(db)):
        siblings = [f for f in (Path(f"{db}-wal"), Path(f"{db}-shm")) if f.exists()]
        assert siblings and {_mode(f) for f in [db, *siblings]} == {0o600}
    storage.open_store(str(db)).dispose()
    about_db = [r for r in caplog.records if r.getMessage().startswith(f"{db} was readable")]
    assert len(about_db) == 1 and "0644" in about_db[0].getMessage()


def test_workspaces_and_their_parent_are_owner_only(tmp_path, open_umask):
    root = tmp_path / "onloop-workspaces"
    plain = prepare_workspace(_run(id="r-plain"), root)
    demo = prepare_workspace(_run(id="r-demo", model="demo"), root)
    source = tmp_path / "source"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "a.txt").write_text("a")
    seeded = prepare_workspace(_run(id="r-seed", seed_from=str(source)), root)
    assert _mode(root) == 0o700
    assert [_mode(w.root) for w in (plain, demo, seeded)] == [0o700] * 3
    assert (seeded.root / "sub" / "a.txt").read_text() == "a"


def test_a_runs_new_folder_costs_one_mkdir(tmp_path, open_umask, monkeypatch):
    """A worker makes a folder for every run it starts: one mkdir, of the folder itself, once
    the root is there (owner-only whatever the umask; missing parents are made too)."""
    root = tmp_path / "onloop-workspaces"
    prepare_workspace(_run(id="r-first"), root)
    made: list[str] = []
    real_mkdir = os.mkdir

    def counted(path, *args, **kwargs):
        made.append(str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", counted)
    second = prepare_workspace(_run(id="r-second"), root)
    assert made == [str(root / "r-second")]
    assert _mode(second.root) == 0o700
    deep = prepare_workspace(_run(id="r-deep"), tmp_path / "a" / "b" / "c")
    assert _mode(deep.root) == _mode(tmp_path / "a" / "b" / "c") == 0o700


@pytest.mark.parametrize("seeded", ["plain", "demo", "seed_from"])
@pytest.mark.parametrize("squat", ["link to a host folder", "dangling link"])
def test_a_runs_folder_squatted_by_a_link_is_refused_and_nothing_lands_outside(
    tmp_path, seeded, squat
):
    """Someone plants a link where the worker will make a run's folder (now one mkdir, no
    exists() before it): the run is refused, and no file of the run lands where the link leads."""
    root = tmp_path / "onloop-workspaces"
    prepare_workspace(_run(id="r-first"), root)
    host = tmp_path / "host"
    if squat == "link to a host folder":
        host.mkdir(mode=0o755)
        os.chmod(host, 0o755)
        (host / "keep.txt").write_text("mine")
    (root / "r-squat").symlink_to(host)
    source = tmp_path / "source"
    source.mkdir()
    (source / "a.txt").write_text("a")
    fields = {"plain": {}, "demo": {"model": "demo"}, "seed_from": {"seed_from": str(source)}}
    with pytest.raises((NotOwnFolder, OSError)):
        prepare_workspace(_run(id="r-squat", **fields[seeded]), root)
    if squat == "link to a host folder":
        assert sorted(p.name for p in host.iterdir()) == ["keep.txt"]
        assert _mode(host) == 0o755  # not tightened through the link either
    else:
        assert not host.exists()


def test_existing_loose_workspaces_are_tightened(tmp_path):
    root = tmp_path / "onloop-workspaces"
    (root / "r-old").mkdir(parents=True)
    os.chmod(root, 0o755)
    os.chmod(root / "r-old", 0o775)
    prepare_workspace(_run(id="r-old"), root)
    assert _mode(root) == _mode(root / "r-old") == 0o700


def test_a_persons_own_workspace_folder_keeps_its_mode(tmp_path):
    own = tmp_path / "project"
    own.mkdir()
    os.chmod(own, 0o755)
    workspace = prepare_workspace(_run(own_workspace=True, workspace=str(own)), tmp_path / "w")
    assert workspace.root == own and _mode(own) == 0o755


def test_the_sandboxed_servers_scratch_and_etc_files_are_owner_only(tmp_path, open_umask):
    scratch = tmp_path / "mcp" / "server"
    server_argv(["cat"], scratch=scratch, paths=[], network=False, binary="bwrap")
    etc = scratch.with_name("server.etc")
    assert _mode(scratch.parent) == _mode(scratch) == _mode(etc) == 0o700
    assert _mode(etc / "passwd") == _mode(etc / "group") == 0o600


def test_a_scratch_root_squatted_by_a_link_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, tmp_path / "mcp")
    with pytest.raises(NotOwnFolder, match="a symlink"):
        server_argv(["cat"], scratch=tmp_path / "mcp" / "s", paths=[], network=False)
    assert list(elsewhere.iterdir()) == []


@pytest.mark.skipif(os.getuid() != 0, reason="making a folder another user owns needs root")
def test_a_scratch_root_owned_by_another_user_is_refused(tmp_path):
    squatted = tmp_path / "mcp"
    squatted.mkdir(mode=0o777)
    os.chown(squatted, 4242, 4242)
    with pytest.raises(NotOwnFolder, match="owned by uid 4242"):
        server_argv(["cat"], scratch=squatted / "s", paths=[], network=False)


def test_policy_init_writes_an_owner_only_file(tmp_path, open_umask):
    target = tmp_path / "onloop.toml"
    result = CliRunner().invoke(app, ["policy", "init", str(target)])
    assert result.exit_code == 0, result.output
    assert _mode(target) == 0o600


def test_a_link_on_the_way_to_the_workspace_repointed_mid_run_moves_no_tool(tmp_path, host):
    """The workspace reached through a link (a person's own folder often is): the run's tools
    keep working in the folder it began in when the link is pointed elsewhere afterwards."""
    real = tmp_path / "project"
    real.mkdir()
    (real / "secret.txt").write_text("inside")
    (real / "keep.txt").write_text("inside")
    via = tmp_path / "via"
    via.symlink_to(real)
    ws = Workspace(via)
    assert _call(ws, "read_file", path="secret.txt") == "inside"  # the run's first call
    spare = tmp_path / "via.next"
    spare.symlink_to(host)
    os.rename(spare, via)  # now leads to the host's folder
    assert SECRET not in _call(ws, "read_file", path="secret.txt")
    _call(ws, "write_file", path="keep.txt", content="overwritten")
    _call(ws, "write_file", path="new.txt", content="new")
    _call(ws, "delete_files", paths=["secret.txt"])
    listing = _call(ws, "list_files", path=".")
    assert (host / "keep.txt").read_text() == SECRET
    assert (host / "secret.txt").read_text() == SECRET
    assert sorted(p.name for p in host.iterdir()) == ["keep.txt", "secret.txt"]
    assert (real / "keep.txt").read_text() == "overwritten"
    assert "new.txt" in listing or (real / "new.txt").exists()
