"""A claim of success held against what the run's tools did, with no judge: actions rejected,
denied or failed and never done another way; a command that exited badly with no word about it;
a check (tests, a build) whose last run failed, or passed only narrowed or weakened; a file the
goal asks for that was never written, or written empty; a file the answer says it changed that
no call touched; fewer files gone through than the goal names; a "fix" that changed only
comments; an answer that only announces more work; "done" with no work at all. Each problem is
one plain sentence."""

from __future__ import annotations

import os
import posixpath
import re

from agent_core.oversight.code_changes import is_code, only_comments
from agent_core.oversight.weakened_tests import is_test_file, weakens
from agent_core.run.attempt_words import quoted
from agent_core.run.claim_words import (
    admits_failure,
    announces_work,
    claimed_files,
    says_tests_passed,
)
from agent_core.run.goal_asks import GoalAsks, read_goal
from agent_core.run.work_ledger import ORIGINAL_CAP, Attempt, WorkLedger
from agent_core.tools.errors import ToolError
from agent_core.tools.protected import OWN_FOLDERS, OWN_NAMES
from agent_core.tools.workspace import Workspace

LISTING_CAP = 2000  # files in the workspace a goal's "all files" is compared with
_SHOWN = 5  # files named in a reason
# A goal that itself asks to remove, skip or disable tests may rightly weaken them.
_TESTS_ASKED = re.compile(
    r"\b(remov|delet|drop|skip|disabl|xfail|quarantin|deselect)\w*\b.{0,60}\btests?\b|"
    r"\btests?\b.{0,60}\b(remov|delet|drop|skip|disabl|xfail|quarantin)\w*",
    re.I,
)
_FILE_TOOLS = frozenset({"read_file", "write_file", "delete_files", "list_files"})
_URL = re.compile(r"https?://[^\s'\"<>`]+")


def problems_with_claim(
    goal: str, ledger: WorkLedger, workspace: Workspace | None, answer: str = ""
) -> list[str]:
    """Why a claim that the goal was met does not match what happened (empty: nothing found)."""
    asks = read_goal(goal)
    problems = ledger.unresolved() + ledger.failed_checks()
    problems += weakened(goal, asks, ledger, workspace)
    problems += unwritten(asks, ledger, workspace)
    problems += partial(asks, ledger, workspace)
    problems += comment_only(asks, ledger, workspace)
    problems += unreached(goal, ledger)
    problems += not_done_as_said(answer, ledger, workspace)
    problems += tests_not_as_said(answer, ledger)
    if asks.action and (said := announces_work(answer)):
        problems.append(f"the final answer only says what comes next ({quoted(said, 120)!r})")
    if asks.action and not ledger.worked() and (not problems or not ledger.attempts):
        what = "no tool call did any work" if ledger.called else "no tool was used"
        return [f"{what}, though the goal asks for an action", *problems]
    failed = [a for a in ledger.attempts if a.outcome == "error" or a.exited_badly]
    all_failed = ledger.attempts and len(failed) == len(ledger.attempts)
    if not asks.action and all_failed and not admits_failure(answer):
        problems.append("every tool call failed, so nothing the tools returned backs the answer")
    return problems


def weakened(
    goal: str, asks: GoalAsks, ledger: WorkLedger, workspace: Workspace | None
) -> list[str]:
    """Test files, or scripts a check runs, that the run made weaker (a test skipped, deleted
    or emptied, `assert True`, `exit 0`), when the goal did not ask for that."""
    checks = [a.effects.command or "" for a in ledger.attempts if a.effects.check]
    if not (asks.code_fix or checks) or _TESTS_ASKED.search(goal):
        return []
    found = []
    for path in sorted(ledger.files("writes") | ledger.files("deletes")):
        old = ledger.originals.get(path)
        script = any(posixpath.basename(path) in command for command in checks)
        if old is None or not (script or is_test_file(path)):
            continue
        new = _content(workspace, path, ledger) if _exists(workspace, path) else ""
        why = weakens(path, old, new or "", check_script=script)
        if why is not None:
            found.append(f"its change {why}")
    return found


def unreached(goal: str, ledger: WorkLedger) -> list[str]:
    """Addresses the goal names that every call aimed at them failed to reach."""
    found = []
    for url in dict.fromkeys(u.rstrip(".,;:!?)") for u in _URL.findall(goal)):
        where = url.split("://", 1)[-1].rstrip("/")  # http or https, with a slash or without
        tried = [a for a in ledger.attempts if where in (a.effects.url or a.effects.command or "")]
        if tried and not any(a.done for a in tried):
            found.append(f"{url}, which the goal names, was never reached: {tried[-1].failure()}")
    return found


def tests_not_as_said(answer: str, ledger: WorkLedger) -> list[str]:
    """An answer that says tests passed when no test ran, or gives a count of passed tests the
    last check did not report."""
    said, count = says_tests_passed(answer)
    if not said:
        return []
    ran = [a for a in ledger.attempts if a.outcome in ("ok", "error") and _ran_tests(a)]
    if not ran:
        return ["the final answer says tests passed, but no test was run"]
    last = ran[-1]
    if count is not None and last.passed is not None and count != last.passed:
        return [
            f"the final answer says {count} tests passed; {last.shown()} reported {last.passed}"
        ]
    return []


def _ran_tests(attempt: Attempt) -> bool:
    """A check, or any call but a file tool's that names tests (`python run_tests.py`, a tool
    that runs a scratch test file): the answer's "tests passed" may rest on it."""
    if attempt.effects.check:
        return True
    return attempt.tool not in _FILE_TOOLS and "test" in f"{attempt.tool} {attempt.key}".lower()


def not_done_as_said(answer: str, ledger: WorkLedger, workspace: Workspace | None) -> list[str]:
    """Files the final answer says were created, changed or deleted that no call did so."""
    changed, deleted = claimed_files(answer)
    written = {p.lower() for p in ledger.files("writes") | ledger.redirected()}
    names = {posixpath.basename(p) for p in written}
    commands = any(a.done and a.effects.command and not a.effects.check for a in ledger.attempts)
    if any(a.done and a.risky and _targets_unknown(a) for a in ledger.attempts):
        changed = set()  # a tool that may write did work (your own, an MCP server's): its files
        # are not known here (an argument named `filename`), so no "written" claim is doubted
    found = []
    for path in sorted(posixpath.normpath(p) for p in changed):
        if path.lower() in written or posixpath.basename(path.lower()) in names:
            continue  # "readme.md" for README.md: the same file in a person's words
        if commands and _exists(workspace, path, folder=True):
            continue  # perhaps written by a command (`python -m venv .venv`): onloop cannot tell
        found.append(f"the final answer says {path} was written or changed, but no call did that")
    for path in sorted(posixpath.normpath(p) for p in deleted):
        if _exists(workspace, path):
            found.append(f"the final answer says {path} was deleted, but it is still there")
    return found


def _targets_unknown(attempt: Attempt) -> bool:
    """Whether a call's effects name nothing: what it wrote, if anything, is not known."""
    effects = attempt.effects
    return not (
        effects.reads or effects.writes or effects.deletes or effects.url or effects.command
    )


def unwritten(asks: GoalAsks, ledger: WorkLedger, workspace: Workspace | None) -> list[str]:
    """Files the goal asks to write ("into report.md") that no call wrote."""
    written = ledger.files("writes") | ledger.redirected()
    names = {posixpath.basename(p) for p in written}
    ran_commands = any(a.done and a.effects.command for a in ledger.attempts)
    found = []
    for output in asks.outputs:
        path = posixpath.normpath(output)
        if path in written or ("/" not in path and path in names):
            continue
        if ran_commands and _exists(workspace, path):
            continue  # perhaps written by a script a command ran: onloop cannot tell
        found.append(f"{path}, which the goal asks for, was never written")
    for path in sorted(written & {posixpath.normpath(o) for o in asks.outputs}):
        content = _content(workspace, path, ledger) if _exists(workspace, path) else None
        if content is not None and not content.strip():
            found.append(f"{path}, which the goal asks for, was written empty")
    return found


def partial(asks: GoalAsks, ledger: WorkLedger, workspace: Workspace | None) -> list[str]:
    """Fewer files read (or changed, or deleted) than the goal names or implies."""
    if not (asks.count or asks.every):
        return []
    if asks.deletes_each:
        touched, verb = ledger.files("deletes"), "deleted"
    elif asks.changes_each:
        touched, verb = ledger.files("writes") | ledger.files("deletes"), "changed"
    else:
        touched = ledger.files("reads") | ledger.files("writes") | ledger.files("deletes")
        verb = "read"
    made = {p for p, old in ledger.originals.items() if old is None} | set(asks.outputs)
    done = {p for p in touched if _fits(asks, p) and p not in made}
    where = f" in {asks.folder}/" if asks.folder else ""
    listed = _listing(workspace) if workspace is not None else None
    gone = ledger.files("deletes")
    expected = {p for p in (listed or set()) | gone if _fits(asks, p) and p not in made}
    missing = expected - done
    if asks.count:  # the number is the scope: "each of the 5 chapter files"
        if len(done) >= asks.count:
            return []
        which = f"; not {verb}: {_names(missing)}" if missing else ""
        return [
            f"only {len(done)} of the {asks.count} files the goal names{where} were {verb}{which}"
        ]
    if listed is None:
        return []
    if not missing:
        return []
    return [
        f"only {len(expected) - len(missing)} of the {len(expected)} files{where} the goal asks "
        f"for were {verb}; not {verb}: {_names(missing)}"
    ]


def comment_only(asks: GoalAsks, ledger: WorkLedger, workspace: Workspace | None) -> list[str]:
    """A fix whose only change to code is to comments or whitespace, or no change at all."""
    if not asks.code_fix:
        return []
    changed, cosmetic = [], []
    for path in sorted(p for p in ledger.files("writes") if is_code(p)):
        old = ledger.originals.get(path, "")
        new = _content(workspace, path, ledger)
        if path not in ledger.originals or old is None or new is None:
            changed.append(path)  # new, or not known: a real change as far as onloop can tell
        elif only_comments(path, old, new):
            cosmetic.append(path)
        elif old != new:
            changed.append(path)
    if changed:
        return []
    if cosmetic:
        return [f"the only change to code ({_names(cosmetic)}) was to comments or whitespace"]
    named = [n for n in asks.named if is_code(n)]
    if named:
        return [f"{_names(named)}, which the goal asks to change, was not changed"]
    return []


def _fits(asks: GoalAsks, path: str) -> bool:
    if asks.folder and not (path + "/").startswith(asks.folder.rstrip("/") + "/"):
        return False
    return not asks.suffixes or path.lower().endswith(asks.suffixes)


def _listing(workspace: Workspace) -> set[str] | None:
    """The workspace's files (hidden ones and onloop's own left out), or None past the cap."""
    root = workspace.real_root
    found: set[str] = set()
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in OWN_FOLDERS]
        for name in files:
            if name.startswith(".") or name in OWN_NAMES:
                continue
            found.add(os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/"))
            if len(found) > LISTING_CAP:
                return None
    return found


def _exists(workspace: Workspace | None, path: str, *, folder: bool = False) -> bool:
    """Whether `path` is a file in the workspace (`folder`: or a folder)."""
    try:
        if workspace is None:
            return False
        target = workspace.resolve(path)
        return target.is_file() or (folder and target.is_dir())
    except (OSError, ToolError):
        return False


def _content(workspace: Workspace | None, path: str, ledger: WorkLedger) -> str | None:
    """The file as it is now (None: too big or unreadable, so not compared)."""
    try:
        if workspace is not None:
            target = workspace.resolve(path)
            if target.stat().st_size > ORIGINAL_CAP:
                return None
            return target.read_text("utf-8")
    except (OSError, UnicodeDecodeError, ToolError):
        pass
    return ledger.written.get(path)


def _names(paths: object) -> str:
    items = sorted(str(p) for p in paths)  # type: ignore[attr-defined]
    shown = ", ".join(quoted(p, 80) for p in items[:_SHOWN])
    return shown + (f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")
