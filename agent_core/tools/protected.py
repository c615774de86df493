"""onloop's own files: the policy, the sign-in file, the store and its siblings, and whatever else
onloop reads as configuration. A tool may read them; none may write, delete, rename or replace
them, nor create one where onloop would look for it.

Two kinds: files named explicitly for this worker (the policy file in force, $ONLOOP_AUTH, the
store...) and names onloop reads wherever it is started (`onloop.toml`, `onloop.db`,
`.streamlit/`), protected at any depth of a workspace.
"""

from __future__ import annotations

import errno
import importlib.machinery
import importlib.util
import os
import shutil
import site
import stat
import sys
import sysconfig
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

POLICY_NAME = "onloop.toml"
STORE_NAME = "onloop.db"
STORE_SIBLINGS = ("-wal", "-shm", "-journal")
# Names onloop (or the dashboard's Streamlit) reads from the folder it starts in.
OWN_NAMES = {
    POLICY_NAME: "a policy file (onloop reads ./onloop.toml by default)",
    **{STORE_NAME + s: "onloop's database (its default name)" for s in ("", *STORE_SIBLINGS)},
}
OWN_FOLDERS = {".streamlit": "the dashboard's Streamlit configuration and secrets"}
SIGN_IN = "the sign-in file"
# Never shown to a tool either: they hold the secret that signs dashboard sessions.
SECRET = frozenset({SIGN_IN, OWN_FOLDERS[".streamlit"]})
_BINDABLE = 4000  # bytes of a path a mount can name (PATH_MAX is 4096)
WALK_CAP = 100_000  # entries a workspace walk looks at; deeper names beyond it are not pinned
_extra: dict[Path, str] = {}  # files this process names at start (the sign-in file of `up`)


def register_own_file(path: str | os.PathLike, what: str) -> None:
    """A file this process reads as configuration (e.g. `onloop up --auth-config`)."""
    _extra[Path(os.path.abspath(path))] = what


@dataclass(frozen=True)
class OwnFile:
    path: Path  # absolute
    what: str


@dataclass(frozen=True)
class Protected:
    """The files no tool may write in one run (besides the names protected everywhere)."""

    files: tuple[OwnFile, ...] = ()
    # The import path's folders searched before the standard library (both spellings): what
    # would shadow a module the worker imported, in one of them, is onloop's own (SHADOW). Not
    # listed name by name (a thousand modules, a dozen spellings each, at every run's start):
    # asked of a path by `why`, listed only for a root that holds such a folder by `inside`.
    shadowing: frozenset[str] = frozenset()

    def why(self, path: str | os.PathLike) -> str | None:
        """What onloop file the absolute `path` is (by its spelling or where it really leads)."""
        given = Path(os.path.abspath(path))
        for candidate in dict.fromkeys((given, Path(os.path.realpath(given)))):
            found = self._explicit(candidate) or own_name(candidate) or self._shadow(candidate)
            if found:
                return found
        return None

    def _shadow(self, path: Path) -> str | None:
        """SHADOW when `path` is, or lies in, what `import` would load from a shadowing folder
        instead of a module the worker imported."""
        if not self.shadowing:
            return None
        modules = _top_modules()
        for candidate in (path, *path.parents):
            if str(candidate.parent) in self.shadowing and _stem(candidate.name) in modules:
                return SHADOW
        return None

    def _explicit(self, path: Path) -> str | None:
        index = self._index
        for candidate in (path, *path.parents):  # the file itself, or a protected folder of it
            what = index.get(candidate)
            if what is not None:
                return what
        return None

    @cached_property
    def _index(self) -> dict[Path, str]:
        """Each file's description by its path (the first named wins, as in `files`)."""
        index: dict[Path, str] = {}
        for own in self.files:
            index.setdefault(own.path, own.what)
        return index

    def inside(self, root: Path) -> list[OwnFile]:
        """The explicit files under `root` (existing or not). Compared as text: both sides are
        absolute and normalised, and thousands of names are looked at before every command."""
        prefix = os.path.join(str(root), "")
        found = [f for text, f in self._texts if text.startswith(prefix)]
        for folder in sorted(self.shadowing):
            if folder == str(root) or folder.startswith(prefix):
                names = _shadows_in(folder, _top_modules())
                found += [OwnFile(Path(name), SHADOW) for name in names]
        return found

    @cached_property
    def _texts(self) -> list[tuple[str, OwnFile]]:
        return [(str(f.path), f) for f in self.files]


def own_name(path: Path | str) -> str | None:
    """Whether a path's name is one onloop reads wherever it starts; case-folded, since some
    file systems (and readers) take `Onloop.TOML` for the same file."""
    parts = [p.casefold() for p in Path(path).parts]
    for name, what in OWN_FOLDERS.items():
        if name in parts:
            return what
    return OWN_NAMES.get(parts[-1]) if parts else None


STORE_WHAT = "onloop's database"
SANDBOX = "the sandbox program"
NETWORK_PROGRAM = "the sandbox's network program (pasta), run outside the sandbox"
STARTUP_HOOK = "a module Python runs at every start (sitecustomize)"
SHADOW = "what `import` would load instead of a module onloop runs"
SITE_FOLDER = "a site-packages folder of the worker's Python (its .pth files run at every start)"
OWN_PACKAGES = ("agent_core", "storage", "dashboard", "onloop")


def own_files(
    *,
    policy_file: str | None = None,
    store_file: Path | None = None,
    tool_modules: Iterable[str] = (),
    server_commands: Iterable[list[str]] = (),
) -> Protected:
    """Every file this worker reads as configuration, for one run: the run's policy file, the
    store, the files the environment names, the user's tool modules and MCP server scripts."""
    found: dict[str, str] = {}  # by absolute path; Path objects are made once, at the end

    def add(path: str | os.PathLike | None, what: str) -> None:
        if path:
            found.setdefault(os.path.abspath(os.path.expanduser(os.fspath(path))), what)

    add(policy_file, "the policy file in force")
    add(os.environ.get("ONLOOP_POLICY"), "the policy file ($ONLOOP_POLICY)")
    add(os.environ.get("ONLOOP_AUTH"), SIGN_IN)
    prices = os.environ.get("ONLOOP_PRICES", "").strip()
    if prices and not prices.startswith("{"):
        add(prices, "the price file ($ONLOOP_PRICES)")
    add(os.environ.get("ONLOOP_SMTP_CA_FILE"), "the mail trust file ($ONLOOP_SMTP_CA_FILE)")
    sandbox = os.environ.get("ONLOOP_BWRAP") or "bwrap"  # replaced, no command is confined
    add(sandbox if "/" in sandbox else _program(sandbox, os.environ.get("PATH")), SANDBOX)
    pasta = os.environ.get("ONLOOP_PASTA") or "pasta"  # runs outside the sandbox, as the worker
    add(pasta if "/" in pasta else _program(pasta, os.environ.get("PATH")), NETWORK_PROGRAM)
    for place, what in _python_itself():
        add(place, what)
    for path, what in _extra.items():
        add(path, what)
    for module in tool_modules:
        add(_module_file(module), f"the tool module {module}")
        for shadow in _module_shadows(module):
            add(shadow, f"what `import {module}` would load instead of the tool module")
    for command in server_commands:
        for index, arg in enumerate(command):
            # (a relative script is found from the worker's folder, as the server starts there)
            if not arg.startswith("-") and os.path.isfile(arg):
                add(arg, "an MCP server's program")
            if index and command[index - 1] == "-m":  # `python3 -m server`: the module's files
                for part in _spec_files(arg.split(".")[0]):
                    add(part, f"the MCP server's module {arg}")
    named = [*found.items()]
    if store_file is not None:
        named += [(f"{store_file}{s}", STORE_WHAT) for s in ("", *STORE_SIBLINGS)]
    # The real location too: a rule, a bind or a check may meet either spelling. Every text
    # here is normalised (abspath, realpath, a Path's str), so one spelling is one entry.
    merged = dict(named)
    for real, (_, what) in zip(real_texts([path for path, _ in named]), named, strict=True):
        merged[real] = what
    files = [OwnFile(Path(path), what) for path, what in merged.items()]
    # The import path's startup hooks, both spellings (the same for every run of a worker).
    hooks = _hook_files()
    files += [own for text, own in hooks.items() if text not in merged]
    return Protected(tuple(files), _shadowing())


def _python_itself() -> list[tuple[str, str]]:
    """The Python this worker runs on, where the next worker (or `onloop` command) started from
    it reads code before any policy: its site-packages folders (a new `.pth` there runs at every
    start; onloop and its dependencies live there), the user's site-packages, a virtual
    environment's `pyvenv.cfg` (which Python it is) and its `onloop` command, and onloop's own
    packages wherever they are imported from (an editable install keeps them in a checkout).
    A project's `.venv` the worker runs from is otherwise an ordinary folder of the workspace."""
    prefixes = [sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix]
    found = [
        (folder, SITE_FOLDER) for folder in site.getsitepackages(list(dict.fromkeys(prefixes)))
    ]
    if site.ENABLE_USER_SITE and (user := site.getusersitepackages()):
        found.append((user, SITE_FOLDER))
    if sys.prefix != sys.base_prefix:
        found.append((os.path.join(sys.prefix, "pyvenv.cfg"), "the worker's Python (pyvenv.cfg)"))
    command = _program("onloop", os.environ.get("PATH"))
    for path in dict.fromkeys(p for p in (os.path.join(sys.prefix, "bin", "onloop"), command) if p):
        found.append((path, "the onloop command"))
    for name in OWN_PACKAGES:
        found += [(folder, "onloop's own code") for folder in _package_folders(name)]
    return found


def _package_folders(name: str) -> list[str]:
    """Where a top-level package is imported from (nothing is imported to find out)."""
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    if spec is None:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            return []
    return list(spec.submodule_search_locations or []) if spec is not None else []


_hooks_made: dict[tuple, dict[str, OwnFile]] = {}


def _hook_files() -> dict[str, OwnFile]:
    """The startup hooks' OwnFiles by each name and where it really leads, made once and kept
    while the import path, the working folder and each of the path's folders stay as they were
    (a folder's inode and mtime: a name made, removed, replaced or relinked in it changes its
    mtime; a folder swapped for a link changes its inode)."""
    search = tuple(p for p in sys.path if isinstance(p, str))
    cwd = os.getcwd()
    key = (search, cwd, *map(_folder_stamp, _entries(search, cwd)))
    made = _hooks_made.get(key)
    if made is None:
        named = dict.fromkeys(_startup_hooks(search, cwd), STARTUP_HOOK)
        both = dict(named)
        for real, what in zip(real_texts(list(named)), named.values(), strict=True):
            both.setdefault(real, what)
        made = {text: OwnFile(Path(text), what) for text, what in both.items()}
        _hooks_made.clear()  # one import path per process at a time
        _hooks_made[key] = made
    return made


@lru_cache(maxsize=8)
def _entries(search: tuple[str, ...], cwd: str) -> tuple[str, ...]:
    """The import path's folders as absolute paths (its empty entry is `cwd`), each once."""
    return tuple(dict.fromkeys(os.path.normpath(os.path.join(cwd, e)) for e in search))


def _folder_stamp(folder: str) -> tuple[int, int] | None:
    try:
        info = os.stat(folder)
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns


def real_texts(paths: list[str] | list[Path]) -> list[str]:
    """Each path's os.path.realpath, with each folder resolved once: the store and its siblings
    share theirs (a run's start resolved every component of every one before). A name that is
    itself a link is resolved in full."""
    folders: dict[str, str] = {}
    found = []
    for path in paths:
        head, name = os.path.split(os.fspath(path))
        if not name or name in (".", "..") or os.path.islink(path):
            found.append(os.path.realpath(path))
            continue
        real = folders.get(head)
        if real is None:
            real = folders[head] = os.path.realpath(head)
        found.append(os.path.join(real, name))
    return found


_programs: dict[tuple[str, str | None], str] = {}


def _program(name: str, search: str | None) -> str | None:
    """shutil.which(name), kept per PATH once found: a worker's runs all start the same sandbox
    program (a walk of PATH's folders each time before)."""
    found = _programs.get((name, search))
    if found is None:
        found = shutil.which(name)
        if found is not None:
            _programs[(name, search)] = found
    return found


def _module_file(name: str) -> str | None:
    module = sys.modules.get(name)
    file = getattr(module, "__file__", None)
    if not file:
        return None
    # A package: its whole folder is code the worker imports.
    return os.path.dirname(file) if os.path.basename(file) == "__init__.py" else file


# What Python loads for `import NAME` from a folder, besides NAME.py: a package folder (preferred),
# a compiled extension (preferred to the source), sourceless bytecode; and the folder's
# __pycache__, whose NAME.<tag>.pyc runs instead of the source when its header names the source's
# size and time (which anyone who can read the source can copy).
_IMPORTED_AS = (*importlib.machinery.EXTENSION_SUFFIXES, ".abi3.so", ".so", ".py", ".pyc")


def _importable(folder: str, stem: str) -> list[str]:
    """Every name in `folder` that `import stem` would load (the package folder first)."""
    return [os.path.join(folder, stem), *(os.path.join(folder, stem + s) for s in _IMPORTED_AS)]


def _spec_files(top: str) -> list[str]:
    """A top-level module as the import path finds it now (nothing is imported): its file or
    its package's folder, and what would shadow it."""
    try:
        spec = importlib.machinery.PathFinder.find_spec(top)
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.origin or not os.path.isabs(spec.origin):
        return []
    own = list(spec.submodule_search_locations or [spec.origin])
    return [*own, *_module_shadows(top, spec.origin)]


def _module_shadows(name: str, file: str | None = None) -> list[str]:
    """What would make the next `import name` run other code than the tool module the person
    wrote: a package, an extension or bytecode by its name next to it or in a folder searched
    before it, the bytecode caches of its folder and of its parent packages, their __init__s."""
    file = file or getattr(sys.modules.get(name), "__file__", None)
    if not file:
        return []
    parts = name.split(".")
    path = os.path.abspath(file)
    here = os.path.dirname(path)
    found: list[str] = []
    if os.path.basename(path).startswith("__init__."):
        here = os.path.dirname(here)  # a package: its own folder is protected whole
    else:
        found += [*_importable(here, parts[-1]), os.path.join(here, "__pycache__")]
    for _parent in parts[:-1]:  # each parent package runs its __init__ first
        found += [os.path.join(here, "__init__" + s) for s in _IMPORTED_AS]
        found.append(os.path.join(here, "__pycache__"))
        here = os.path.dirname(here)
    for entry in _search_path():  # a folder searched before the one that holds it shadows it
        if os.path.realpath(entry) == os.path.realpath(here):
            break
        found += _importable(entry, parts[0])
    return found


@lru_cache(maxsize=8)
def _startup_hooks(search: tuple[str, ...], cwd: str) -> tuple[str, ...]:
    """sitecustomize and usercustomize in every folder of the import path `search` (its empty
    entry is `cwd`): the next Python started with this path (a worker, the dashboard) runs them
    before anything else. Named in every entry, a folder or not (one made later is covered too),
    so the names depend on the path alone and are kept per path."""
    return tuple(
        path
        for entry in _entries(search, cwd)
        for stem in ("sitecustomize", "usercustomize")
        for path in _importable(entry, stem)
    )


_modules_seen: list = [-1, frozenset()]  # how many modules were imported, and their top names


def _top_modules() -> frozenset[str]:
    """The top-level modules this process has imported (onloop's own packages always), read
    again when more were imported; built-in ones are left out: no file stands in for them."""
    count = len(sys.modules)
    if count != _modules_seen[0]:
        names = {name.partition(".")[0] for name in list(sys.modules)}  # (threads import too)
        names.update(OWN_PACKAGES)
        names.difference_update(sys.builtin_module_names, ("__main__", "__mp_main__"))
        _modules_seen[:] = [count, frozenset(n for n in names if n.isidentifier())]
    return _modules_seen[1]


def _shadowing() -> frozenset[str]:
    """The folders of this process's import path that come before the standard library, each as
    given and where it really leads: the running script's own folder (a venv's `bin/`, for its
    `onloop` command), the current folder under `python -m`, $PYTHONPATH's. The next worker or
    dashboard started the same way imports from there first, before any policy."""
    return _early_folders(tuple(p for p in sys.path if isinstance(p, str)), os.getcwd())


@lru_cache(maxsize=8)
def _early_folders(search: tuple[str, ...], cwd: str) -> frozenset[str]:
    stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
    early: list[str] = []
    for entry in _entries(search, cwd):
        if entry.endswith(".zip") or os.path.realpath(entry) == stdlib:
            break  # (pythonXY.zip comes right before the standard library)
        early.append(entry)
    else:
        return frozenset()  # no standard library on the path: nothing is known to come before
    return frozenset([*early, *real_texts(early)])


@lru_cache(maxsize=64)
def _shadows_in(folder: str, modules: frozenset[str]) -> tuple[str, ...]:
    """Every name in `folder` that `import` would load instead of one of `modules`."""
    return tuple(path for name in sorted(modules) for path in _importable(folder, name))


_STEM_SUFFIXES = sorted(set(_IMPORTED_AS), key=len, reverse=True)


def _stem(name: str) -> str:
    """The module a file or folder name would be imported as (`json.py`, `json/`: json)."""
    return next((name[: -len(s)] for s in _STEM_SUFFIXES if name.endswith(s)), name)


def _search_path() -> list[str]:
    """The folders of the import path (not its zip files)."""
    entries = [os.path.abspath(e or os.curdir) for e in sys.path if isinstance(e, str)]
    return [e for e in dict.fromkeys(entries) if os.path.isdir(e)]


@dataclass
class Guard:
    """What a process's sandbox must pin in one writable folder: the protected entries that
    exist (bound read-only) and the folders above them (bound onto themselves, so they cannot be
    renamed away and replaced); what was absent is removed again if a command creates it."""

    root: Path
    protected: Protected
    existing: list[Path] = field(default_factory=list)
    absent: list[Path] = field(default_factory=list)  # explicit files not there yet
    links: dict[Path, str] = field(default_factory=dict)  # links by a protected name -> target
    complete: bool = True  # False when the walk stopped at WALK_CAP
    sealed: list[Path] = field(default_factory=list)  # folders it could not list: bound read-only
    aliases: dict[Path, Path] = field(default_factory=dict)  # another name (a hard link) -> own
    started: float = field(default_factory=time.time)  # when it was taken (before the command)
    targets: set[Path] = field(default_factory=set)  # what links by a protected name lead to

    @property
    def pinned_folders(self) -> list[Path]:
        held = [*self.existing, *self.sealed, *self.links]  # (a link's folder: not renamed away)
        folders = {p for f in held for p in f.parents if p.is_relative_to(self.root)}
        folders.discard(self.root)
        return sorted(folders, key=lambda p: len(p.parts))

    def bind_args(self) -> list[str]:
        argv: list[str] = []
        for folder in self.pinned_folders:
            if len(str(folder)) < _BINDABLE:
                argv += ["--bind", str(folder), str(folder)]
        for path in self.existing:
            if len(str(path)) >= _BINDABLE:  # past the path limit: the sweep still looks there
                continue
            if not _hidden(self.protected.why(self.aliases.get(path, path))):
                argv += ["--ro-bind", str(path), str(path)]
            elif path.is_dir():  # hidden: an empty read-only folder in its place
                argv += ["--tmpfs", str(path), "--remount-ro", str(path)]
            else:
                argv += ["--ro-bind", "/dev/null", str(path)]
        for folder in self.sealed:  # what is inside is unknown: nothing in it may change
            if folder != self.root:
                argv += ["--ro-bind", str(folder), str(folder)]
        return argv


def _hidden(what: str | None) -> bool:
    """Whether a protected entry is out of a sandbox's sight: the secret ones, and a store with
    its siblings (read-only, it could still be locked: a read lock on its `-shm` keeps every
    writer of that store, a halt included, waiting out its busy timeout)."""
    return what in SECRET or (what or "").startswith(STORE_WHAT)


def guard(root: Path, protected: Protected, cap: int | None = WALK_CAP) -> Guard:
    """The protected entries in `root` right now (a walk that never follows a link, of at most
    `cap` entries; None: the whole folder)."""
    root = Path(os.path.realpath(root))
    plan = Guard(root, protected)
    _let_owner_list(root)  # the person's (or onloop's) folder: never left unlistable to us
    inside = protected.inside(root)
    present = _present([own.path for own in inside])
    for own in inside:
        is_link = present.get(str(own.path))
        if is_link is None:
            plan.absent.append(own.path)
        elif is_link:  # the person's link to it (a policy kept elsewhere)
            plan.links[own.path] = os.readlink(own.path)
        else:
            plan.existing.append(own.path)
    plan.complete = _walk_names(root, plan.existing, plan.links, cap, plan.sealed)
    for link in plan.links:  # onloop would read through it: what it leads to is pinned too
        target = Path(os.path.realpath(link))
        if target.is_relative_to(root) and target != root and _status(root, target):
            plan.existing.append(target)
            plan.targets.add(target)
    _hard_links(plan, cap)
    plan.existing = sorted(set(plan.existing), key=lambda p: len(p.parts))
    return plan


def _present(paths: list[Path]) -> dict[str, bool]:
    """Which of `paths` exist, by their text (for each, whether it is a link), from one listing
    per folder: a venv's `bin/` on the import path names a thousand modules' shadows, looked for
    before and after every command (as Paths, one by one, that took 10 ms)."""
    names: dict[str, set[str]] = {}
    for path in paths:
        folder, _, name = str(path).rpartition(os.sep)  # (absolute and normalised)
        names.setdefault(folder or os.sep, set()).add(name)
    found: dict[str, bool] = {}
    for folder, wanted in names.items():
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name in wanted:
                        found[entry.path] = entry.is_symlink()
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError:  # searchable, not listable: each name looked for alone
            for name in wanted:
                text = os.path.join(folder, name)
                if os.path.lexists(text):
                    found[text] = os.path.islink(text)
    return found


def _files_of(root: Path, entries: list[Path]) -> Iterable[tuple[Path, os.stat_result]]:
    """The entries, and the files inside those that are folders (`.streamlit/`, a site-packages
    folder: tens of thousands of files, each looked at once from its folder's listing)."""
    for entry in entries:
        info = _status(root, entry)
        if info is None:
            continue
        yield entry, info
        pending = [str(entry)] if stat.S_ISDIR(info.st_mode) else []
        while pending:
            try:
                with os.scandir(pending.pop()) as listing:
                    for item in listing:
                        if item.is_dir(follow_symlinks=False):
                            pending.append(item.path)
                        elif item.is_file(follow_symlinks=False):
                            yield Path(item.path), item.stat(follow_symlinks=False)
            except OSError:
                continue


def _covered(path: Path, entries: list[Path]) -> bool:
    return any(path == entry or path.is_relative_to(entry) for entry in entries)


def _hard_links(plan: Guard, cap: int | None) -> None:
    """Other names of a protected file (a hard link the person made, `cp -l`): writing through
    one changes the file itself, so each is pinned as the file is (hidden when it is secret)."""
    shared: dict[tuple[int, int], Path] = {}
    for path, info in _files_of(plan.root, plan.existing):
        if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
            shared[(info.st_dev, info.st_ino)] = path
    if not shared:
        return
    pending, seen = deque([str(plan.root)]), 0
    while pending:
        folder = pending.popleft()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    seen += 1
                    if cap is not None and seen > cap:
                        return
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        info = entry.stat(follow_symlinks=False)
                        own = shared.get((info.st_dev, info.st_ino))
                        if own is not None and not _covered(Path(entry.path), plan.existing):
                            plan.existing.append(Path(entry.path))
                            plan.aliases[Path(entry.path)] = own
        except OSError:
            continue


def _walk_names(
    root: Path, into: list[Path], links: dict[Path, str], cap: int | None, sealed: list[Path]
) -> bool:
    """Breadth first: the shallow names (where onloop is most often started) are seen first.
    A folder it may not list goes to `sealed`: what it holds cannot be known, so it is pinned
    whole (a command that hides a folder with chmod cannot unpin what is inside)."""
    names = {n.casefold() for n in (*OWN_NAMES, *OWN_FOLDERS)}
    pending, seen = deque([str(root)]), 0
    while pending:
        folder = pending.popleft()
        try:
            with _folder(root, Path(folder)) as (fd, entries):
                for entry in entries:
                    seen += 1
                    if cap is not None and seen > cap:
                        return False
                    path = os.path.join(folder, entry.name)
                    if entry.name.casefold() in names:  # a folder of them is pinned whole
                        if entry.is_symlink():
                            links[Path(path)] = os.readlink(entry.name, dir_fd=fd)
                        else:
                            into.append(Path(path))
                    elif entry.is_dir(follow_symlinks=False):
                        pending.append(path)
        except PermissionError:
            sealed.append(Path(folder))
        except OSError:
            continue
    return True


@contextmanager
def _folder(root: Path, folder: Path) -> Iterator[tuple[int, Iterator[os.DirEntry]]]:
    """A folder of the walk, open, and its entries. Opened one name at a time from the root
    when its path is longer than the system allows (a command can nest folders past it)."""
    try:
        fd = os.open(folder, _DIR)
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            raise
        fd = _open_deep(root, folder)
    try:
        with os.scandir(fd) as entries:
            yield fd, entries
    finally:
        os.close(fd)


_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _open_deep(root: Path, folder: Path, *, make: bool = False) -> int:
    """`folder` under the root, opened without following a link on the way; with `make`, the
    missing folders are made (owner-only)."""
    fd = os.open(root, _DIR)
    try:
        for name in folder.relative_to(root).parts:
            try:
                inner = os.open(name, _DIR, dir_fd=fd)
            except FileNotFoundError:
                if not make:
                    raise
                os.mkdir(name, 0o700, dir_fd=fd)
                inner = os.open(name, _DIR, dir_fd=fd)
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def _status(root: Path, path: Path) -> os.stat_result | None:
    """lstat, however deep the path; None when it is gone."""
    try:
        with _folder(root, path.parent) as (fd, _entries):
            return os.stat(path.name, dir_fd=fd, follow_symlinks=False)
    except (OSError, ValueError):  # gone, or (deep) not under the root
        return None


def _remove(root: Path, path: Path) -> bool:
    """Remove a file, a link or a whole folder (never through a link), however deep."""
    try:
        with _folder(root, path.parent) as (fd, _entries):
            info = os.stat(path.name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                shutil.rmtree(path.name, dir_fd=fd, ignore_errors=True)
            else:
                os.unlink(path.name, dir_fd=fd)
            return True
    except (OSError, ValueError):
        return False


def _let_owner_list(folder: Path) -> bool:
    """Give the owner back read and search on a folder of theirs they cannot list (as a
    command may leave one with chmod); whether it changed."""
    try:
        info = os.lstat(folder)
        if info.st_uid != os.geteuid() or info.st_mode & 0o500 == 0o500:
            return False
        os.chmod(folder, stat.S_IMODE(info.st_mode) | 0o700, follow_symlinks=False)
        return True
    except (OSError, NotImplementedError):
        return False


def sweep(before: Guard) -> list[str]:
    """Remove the protected entries a command created (they were not there before it): a policy
    file, a store, a `.streamlit` folder, a link by such a name. What was removed, relative.

    This walk has no cap: a command that floods the folder with entries must not hide a plant
    behind them. Where the walk before the command stopped at its cap, an entry it did not see
    counts as the command's only when its status changed since the command started (its ctime,
    which no program can set back): creating, renaming or linking a name sets it.
    """
    after = guard(before.root, before.protected, cap=None)
    # A folder the command made unlistable (chmod 0 after planting in it): its owner may list
    # it again, and the walk looks again, until nothing new is hidden.
    for _ in range(1000):
        hidden = [f for f in after.sealed if f not in before.sealed and _let_owner_list(f)]
        if not hidden:
            break
        after = guard(before.root, before.protected, cap=None)

    root = before.root

    def made(path: Path) -> bool:
        info = _status(root, path)  # the kernel's ctime clock is coarse: a second of slack
        return before.complete or (info is not None and info.st_ctime >= before.started - 1.0)

    def planted(path: Path) -> bool:
        """A link's target is pinned, never removed for being new, unless it is itself onloop's:
        a link by onloop's name planted at the person's folder must not make onloop delete it."""
        return path not in after.targets or _by_name(path, before.protected)

    new = [p for p in after.existing if p not in before.existing and made(p) and planted(p)]
    made_now = _present(before.absent)
    new += [p for p in before.absent if str(p) in made_now]
    new += [p for p, target in after.links.items() if before.links.get(p) != target and made(p)]
    removed = []
    for path in sorted(set(new), key=lambda p: len(p.parts)):
        if _remove(root, path):  # (False: inside a folder removed just before)
            removed.append(_shown(path.relative_to(root).as_posix()))
    # A link by onloop's name that was there before (the person's policy kept elsewhere, linked
    # in) and is gone or changed: put back as it was, whatever the command left in its place.
    for path, target in sorted(before.links.items(), key=lambda item: len(item[0].parts)):
        if _link_text(root, path) != target and _put_link(root, path, target):
            removed.append(_shown(f"{path.relative_to(root).as_posix()} (its link put back)"))
    return removed


def _by_name(path: Path, protected: Protected) -> bool:
    """Whether `path` itself (not what leads to it) is one of onloop's own files."""
    return bool(own_name(path) or protected._explicit(path))


def _shown(text: str) -> str:
    return text if len(text) <= 200 else f"{text[:80]}…{text[-80:]}"


def _link_text(root: Path, path: Path) -> str | None:
    """What the link at `path` says, its folders opened without following a link; else None."""
    try:
        fd = _open_deep(root, path.parent)
    except (OSError, ValueError):
        return None
    try:
        return os.readlink(path.name, dir_fd=fd)
    except OSError:
        return None
    finally:
        os.close(fd)


def _put_link(root: Path, path: Path, target: str) -> bool:
    """The link `path -> target` again, in its folder as reached from the root without following
    a link (a folder swapped for a link out is not followed: the link is not put there)."""
    try:
        fd = _open_deep(root, path.parent)
    except OSError:
        try:  # its folder was renamed away or removed: made again, one name at a time
            fd = _make_deep(root, path.parent)
        except (OSError, ValueError):
            return False
    except ValueError:
        return False
    try:
        try:
            info = os.stat(path.name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                shutil.rmtree(path.name, dir_fd=fd)
            else:
                os.unlink(path.name, dir_fd=fd)
        except FileNotFoundError:
            pass
        os.symlink(target, path.name, dir_fd=fd)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _make_deep(root: Path, folder: Path) -> int:
    """`folder` under the root, opened; missing folders made, no link on the way followed."""
    return _open_deep(root, folder, make=True)


def describe(plan: Guard) -> str | None:
    """One line: which of onloop's own files a folder holds, which the agent may read only."""
    shown = [p.relative_to(plan.root).as_posix() for p in plan.existing]
    if not shown:
        return None
    more = f" and {len(shown) - 8} more" if len(shown) > 8 else ""
    return (
        f"protected (the agent may read, never write, delete or replace): "
        f"{', '.join(shown[:8])}{more}"
    )
