"""The class of one `git` invocation, by its subcommand and flags in any spelling."""

from __future__ import annotations

from agent_core.oversight.shell_commands import Invocation
from agent_core.oversight.shell_flags import read_flags
from storage.vocabulary import CallClass

Found = tuple[CallClass, str] | None
READ, WRITE, NETWORK = CallClass.READ, CallClass.WRITE, CallClass.NETWORK
GUARDED, DESTRUCTIVE, ESCALATION = CallClass.GUARDED, CallClass.DESTRUCTIVE, CallClass.ESCALATION

_READS = frozenset(
    """status log diff show blame rev-parse ls-files ls-tree cat-file shortlog describe
    grep whatchanged reflog name-rev merge-base rev-list show-ref for-each-ref count-objects
    cherry var help version check-ignore check-attr verify-commit verify-tag range-diff
    annotate show-branch""".split()
)
_WRITES = frozenset(
    """add commit checkout switch restore stash merge cherry-pick revert mv rm init apply am
    notes worktree tag branch sparse-checkout submodule bisect format-patch archive""".split()
)
_NETWORK = frozenset({"fetch", "pull", "clone", "ls-remote", "push", "remote-update", "send-email",
                      "request-pull", "svn", "p4"})  # fmt: skip
# Configuration that makes git run a program of the caller's choosing.
_CODE_CONFIG = ("core.hookspath", "core.sshcommand", "core.pager", "core.editor", "core.fsmonitor",
                "alias.", "diff.external", "filter.", "credential.helper", "sequence.editor",
                "gpg.program", "protocol.ext", "uploadpack.packobjectshook", "core.gitproxy",
                "include.path", "includeif.", "core.askpass", "pager.",
                "interactive.difffilter")  # fmt: skip
# ... and keys named per remote, driver or submodule (`remote.origin.uploadpack`,
# `merge.ours.driver`, `diff.png.textconv`, `submodule.lib.update = !sh`).
_CODE_KEY_ENDS = (".uploadpack", ".receivepack", ".driver", ".textconv", ".command", ".cmd",
                  ".askpass", ".proxycommand")  # fmt: skip
# Options of the remote subcommands that name a program git runs (`--upload-pack` runs it on
# this side for a local remote) or a folder whose hooks it installs (`clone --template`).
_REMOTE_PROGRAMS = frozenset({"--upload-pack", "--receive-pack", "--exec", "--template"})


def git_class(invocation: Invocation) -> Found:
    flags, operands = invocation.flags, list(invocation.operands)
    words = [*operands, *(w.text for w in invocation.paths)]  # --config-env=K=V is a value
    values = [o for o in words if "=" in o and "." in o.split("=", 1)[0]]
    if flags & {"-c", "--config", "--config-env", "--exec-path"}:  # clone's --config is its -c
        if any(_runs_code(v) for v in values) or "--exec-path" in flags:
            return ESCALATION, "`git -c` sets configuration that makes git run another program"
    if "--git-dir" in flags:  # its config (core.fsmonitor, hooks) is then an everyday file
        return ESCALATION, "`git --git-dir` uses the settings and hooks of another folder"
    sub, rest = _subcommand(invocation)
    if sub is None:
        return (READ, "`git` with no subcommand only prints its help") if not operands else None
    if sub in ("commit", "push", "merge", "am", "rebase") and (
        "--no-verify" in flags or (sub == "commit" and "-n" in flags)
    ):
        return ESCALATION, f"`git {sub} --no-verify` skips the project's hooks"
    if sub in _NETWORK and _runs_a_program(sub, flags, rest):
        return ESCALATION, f"`git {sub}` is given a program to run or hooks to install"
    if sub == "push":
        return _push(flags, rest)
    if sub in ("config", "remote"):
        return _settings(sub, flags, rest)
    if sub == "grep" and any(f.startswith(("-O", "--open-files-in-pager")) for f in flags):
        return ESCALATION, "`git grep -O` runs the program it is given on the files it finds"
    found = _destructive(sub, flags, rest) or _discarding(sub, flags, rest, *_own_flags(invocation))
    if found is not None:
        return found
    if sub in _READS:
        return READ, f"`git {sub}` only reads"
    if sub == "stash" and rest[:1] in (["list"], ["show"]):
        return READ, f"`git stash {rest[0]}` only reads"
    if sub == "branch" and not rest:
        return READ, "`git branch` lists branches"
    if sub == "tag" and (not rest or "-l" in flags or "--list" in flags):
        return READ, "`git tag` lists tags"
    if sub in _WRITES:
        return WRITE, f"`git {sub}` changes the local repository (recoverable from its history)"
    if sub in _NETWORK:
        return NETWORK, f"`git {sub}` talks to a remote repository"
    if sub in ("gc", "prune", "repack", "maintenance", "fsck"):
        return WRITE, f"`git {sub}` tidies the repository's own storage"
    if sub in ("filter-branch", "filter-repo", "replace"):
        return DESTRUCTIVE, f"`git {sub}` rewrites the repository's history"
    return None


# git's own options (before the subcommand) whose value is the next word.
_GLOBAL_VALUES = frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--config-env",
                            "--super-prefix", "--attr-source"})  # fmt: skip


def _global_options(words: tuple[str, ...]) -> tuple[int, int]:
    """Where git's own options end in its words (the subcommand's index), and how many of
    them were values given as words of their own (`git -C src -c k=v commit`: 4, 2)."""
    index, values = 0, 0
    while index < len(words) and words[index].startswith("-") and words[index] != "--":
        if words[index] in _GLOBAL_VALUES and index + 1 < len(words):
            index += 1
            values += not words[index].startswith("-")
        index += 1
    return index, values


def subcommand_at(invocation: Invocation) -> int:
    """How many operands come before the subcommand: the values of git's own options (`git -C
    src commit`: 1). Read from the words in order, so a subcommand's `-c`/`-C` (`git switch -c
    log`, `git commit -C HEAD`) is never taken for git's, nor its value for the subcommand."""
    if not invocation.words:  # an invocation built without its words: git's -C and -c
        return len(invocation.flags & {"-C", "-c"})
    return _global_options(invocation.words)[1]


def lead_options(invocation: Invocation) -> list[str]:
    """git's own `-C` and `-c` before the subcommand, in order (each with one value)."""
    if not invocation.words:
        return sorted(invocation.flags & {"-C", "-c"})
    start, _values = _global_options(invocation.words)
    return [w for w in invocation.words[:start] if w in ("-C", "-c")]


def _subcommand(invocation: Invocation) -> tuple[str | None, list[str]]:
    """The subcommand and the operands after it (a word that is no subcommand leaves the call
    unclassified)."""
    operands = list(invocation.operands)
    skip = subcommand_at(invocation)
    if len(operands) <= skip:
        return None, []
    return operands[skip], operands[skip + 1 :]


def _own_flags(invocation: Invocation) -> tuple[frozenset[str], bool]:
    """The subcommand's own flags (never git's `-C DIR`), and whether a `--` comes among its
    words (paths follow it)."""
    if not invocation.words:
        return invocation.flags, False
    start, _values = _global_options(invocation.words)
    rest = list(invocation.words[start + 1 :])
    return read_flags("git", rest).flags, "--" in rest


def writes_operands(invocation: Invocation) -> bool:
    """Whether this git command writes the working-tree files it names (`git checkout --
    package.json` puts back the index's copy, which `git apply --cached` may have changed;
    `git mv`, `git rm`; `git apply` the files its patch names): other git commands only stage
    or read the files they name."""
    sub, _rest = _subcommand(invocation)
    return sub in ("checkout", "restore", "mv", "rm", "apply", "am")


def puts_back(invocation: Invocation) -> bool:
    """Whether this git command overwrites the work-tree files it names with another version
    (`git checkout FILE`, `git restore FILE`), rather than naming a branch or the index only."""
    sub, _rest = _subcommand(invocation)
    own, _paths_follow = _own_flags(invocation)
    if sub == "restore":
        return not (own & {"-S", "--staged"}) or bool(own & {"-W", "--worktree"})
    return sub == "checkout" and not own & (_NEW_BRANCH | _FORCE_CREATE)


def _runs_code(setting: str) -> bool:
    """Whether a setting (`KEY` or `KEY=VALUE`) makes git run a program it names."""
    key = setting.split("=", 1)[0].lower()
    if key.startswith("submodule.") and key.endswith(".update"):
        return True  # `!command` runs the command instead of a checkout
    return key.startswith(_CODE_CONFIG) or key.endswith(_CODE_KEY_ENDS)


def talks_to_remote(invocation: Invocation) -> bool:
    """Whether this git command talks to a remote, which any of its words may name (a URL, a
    configured remote, an option's value before them): `git push`, `fetch`, `pull`, `clone`."""
    sub, _rest = _subcommand(invocation)
    return sub in _NETWORK


def _runs_a_program(sub: str, flags: frozenset[str], rest: list[str]) -> bool:
    """`--upload-pack=CMD`, `--receive-pack`, `--exec`, `clone -u CMD`, `clone --template=DIR`
    or an `ext::CMD` remote: git runs what it is given, not only talks to a remote."""
    if flags & _REMOTE_PROGRAMS or (sub == "clone" and "-u" in flags):
        return True
    return any(r.lower().startswith(("ext::", "fd::")) for r in rest)


def _push(flags: frozenset[str], rest: list[str]) -> Found:
    forced = {"-f", "--force", "--force-with-lease", "--force-if-includes", "--mirror", "--prune",
              "--delete", "-d"}  # fmt: skip
    if flags & forced or any(r.startswith("+") or r.startswith(":") for r in rest):
        return DESTRUCTIVE, "`git push` with force, delete or mirror rewrites what others have"
    return NETWORK, "`git push` publishes to a remote (visible to others)"


def _settings(sub: str, flags: frozenset[str], rest: list[str]) -> Found:
    if sub == "remote":
        if not rest or rest[0] in ("-v", "show", "get-url"):
            return READ, "`git remote` lists the remotes"
        return GUARDED, "`git remote` changes where the repository fetches and pushes"
    reading = {"--get", "--get-all", "--list", "-l", "--get-regexp", "--show-origin"}
    if flags & reading or (len(rest) == 1 and "=" not in rest[0]):
        return READ, "`git config` reads a setting"
    if any(_runs_code(r) for r in rest):
        return ESCALATION, "`git config` sets a value that makes git run another program"
    return GUARDED, "`git config` changes the repository's settings"


def _destructive(sub: str, flags: frozenset[str], rest: list[str]) -> Found:
    if sub == "reset" and (flags & {"--hard", "--merge", "--keep"}):
        return DESTRUCTIVE, "`git reset --hard` discards uncommitted work for good"
    if sub == "reset":
        return WRITE, "`git reset` unstages changes (the files keep them)"
    if sub == "clean":
        return DESTRUCTIVE, "`git clean` deletes untracked files for good"
    if sub == "branch" and flags & {"-D", "--delete", "-d", "-f", "--force", "-M"}:
        return DESTRUCTIVE, "`git branch -D` drops a branch that may hold unmerged work"
    if sub == "tag" and flags & {"-d", "--delete", "-f", "--force"}:
        return DESTRUCTIVE, "`git tag -d` deletes or moves a tag"
    if sub == "stash" and rest[:1] in (["drop"], ["clear"]):
        return DESTRUCTIVE, f"`git stash {rest[0]}` throws stashed work away"
    if sub == "commit" and "--amend" in flags:
        return DESTRUCTIVE, "`git commit --amend` rewrites the last commit"
    if sub == "rebase":
        return DESTRUCTIVE, "`git rebase` rewrites commits"
    if sub == "gc" and any(f.startswith("--prune") for f in flags) or sub == "prune":
        return DESTRUCTIVE, "`git gc --prune` deletes unreachable commits for good"
    if sub == "reflog" and rest[:1] in (["expire"], ["delete"]):
        return DESTRUCTIVE, "`git reflog expire` forgets where commits were"
    if sub == "update-ref" and "-d" in flags:
        return DESTRUCTIVE, "`git update-ref -d` deletes a ref"
    if sub == "rm" and flags & {"-f", "--force"}:
        return DESTRUCTIVE, "`git rm -f` deletes files with their uncommitted changes"
    if (
        sub in ("worktree", "submodule")
        and rest[:1] in (["remove"], ["deinit"])
        and (flags & {"-f", "--force"})
    ):
        return DESTRUCTIVE, f"`git {sub} {rest[0]} --force` drops a work tree's uncommitted changes"
    return None


_NEW_BRANCH = frozenset({"-b", "--orphan"})
_FORCE_CREATE = frozenset({"-B", "-C", "--force-create"})


def _discarding(
    sub: str, flags: frozenset[str], rest: list[str], own: frozenset[str], paths_follow: bool
) -> Found:
    """`git checkout`, `switch` and `restore` calls that put files back or move a branch,
    discarding uncommitted changes or commits: over files (`.`, after `--`, from another commit),
    with force, or a branch created by force (`-B`, as `git branch -f`). `own`: the subcommand's
    flags, without git's own `-C DIR`."""
    if sub not in ("checkout", "switch", "restore"):
        return None
    if sub in ("switch", "checkout") and flags & {"-f", "--force", "--discard-changes"}:
        return DESTRUCTIVE, f"`git {sub} -f` discards local changes"
    if sub in ("switch", "checkout") and own & _FORCE_CREATE:
        return DESTRUCTIVE, f"`git {sub} -B` moves an existing branch, dropping its commits"
    if sub == "restore":
        if own & {"-S", "--staged"} and not own & {"-W", "--worktree"}:
            return None  # the index only: the files keep their changes
        return DESTRUCTIVE, "`git restore` puts files back, discarding their uncommitted changes"
    if (
        sub == "checkout"
        and not own & _NEW_BRANCH
        and ("." in rest or (paths_follow and rest) or len(rest) > 1)
    ):
        return DESTRUCTIVE, "`git checkout` over files discards their uncommitted changes"
    return None
