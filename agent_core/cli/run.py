"""`onloop run`: create a run, drive it in this process, print its steps, ask approvals here."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import typer

import storage
from agent_core.cli.errors import fail
from agent_core.cli.live_line import LiveLine
from agent_core.cli.options import MOST_MINUTES, MOST_STEPS, within
from agent_core.cli.output import OutputLost, check_open
from agent_core.cli.render import render_event, run_as_dict, run_summary, workspace_line
from agent_core.cli.terminal_text import fit, one_line, terminal_width
from agent_core.models.providers import PROVIDERS, describe_limits
from agent_core.models.settings import Settings, load_settings
from agent_core.oversight import inert
from agent_core.oversight.confinement import protection_line, run_shell_offer
from agent_core.oversight.control import ControlError, halt
from agent_core.oversight.decisions import (
    DecisionError,
    approve,
    current_user,
    parse_edited_arguments,
    reject,
    scopes_of,
)
from agent_core.oversight.policy_file import load_policy
from agent_core.oversight.scopes import Scope
from agent_core.tools.mcp_config import PREFIX
from agent_core.tools.registry import ToolLoadError, known_tools
from agent_core.tools.workspace_choice import (
    WorkspaceChoiceError,
    check_workspace_root,
    copy_from,
    work_in,
)
from agent_core.worker.claim_loop import Worker
from storage.engine import sqlite_path, workspace_root_for
from storage.record import ModelCall, parse_as
from storage.vocabulary import AUTONOMY_LEVELS, RESUMABLE_STATUSES, YES_SUFFIX, EventKind, RunStatus

FOLLOW_POLL_S = 0.15
STOP_WAIT_S = 30.0  # a step in flight when the output closed ends first (a tool is cut off)


def run_in_terminal(
    *,
    goal,
    model,
    model_name,
    autonomy,
    max_steps,
    max_minutes,
    tools,
    yes,
    policy_path,
    json_out,
    db,
    workspace=None,
    seed_from=None,
    settings: Settings | None = None,
) -> int:
    check_open()  # nothing is recorded for a terminal that cannot show it
    settings = settings or load_settings()
    provider = model or settings.default_provider
    _check_arguments(goal, provider, autonomy, max_steps, max_minutes, settings)
    policy = load_policy(policy_path)
    names = [t.strip() for t in tools.split(",") if t.strip()] if tools is not None else None
    if names == []:  # `--tools ,` or `--tools ""`: a run without tools, surely not what was meant
        raise fail(
            "--tools names no tool; give names separated by commas (`onloop tools` lists "
            "them), or leave it out for all"
        )
    _check_tools(names, policy)
    url = storage.database_url(db)
    workspace, seed_from = _check_folders(workspace, seed_from, url)
    store = storage.open_store(url)
    # Claimed by this process as it is created: a worker on the same store (`onloop up`) never
    # takes it, and the run uses this shell's model settings (which never enter the store).
    worker = Worker(store, concurrency=1, settings=settings)
    run = storage.create_run(
        store,
        goal=goal,
        model=provider,
        model_name=model_name or (settings.openai_model if provider == "openai" else "demo"),
        autonomy=autonomy,
        tools=names,
        max_steps=max_steps,
        max_seconds=max_minutes * 60,
        policy=policy.model_dump(mode="json"),
        created_by=current_user(),
        workspace=workspace,
        seed_from=seed_from,
        claimed_by=worker.worker_id,
        lease_seconds=worker.lease_seconds,
    )
    out = _err if json_out else typer.echo
    used = settings.describe_model(run.model_name) if provider == "openai" else provider
    if provider == "openai":
        used += f" ({describe_limits(settings, policy.model)})"
    if provider == settings.default_provider == "demo":
        used = settings.describe_model()
    try:
        out(f"run {run.id} · {used} · policy: {policy.source}")
        if run.own_workspace or run.seed_from:
            out(workspace_line(run))
        if run.own_workspace:  # which of onloop's own files the folder holds: the agent may not
            line = protection_line(Path(str(run.workspace)), policy, sqlite_path(url))
            if line:  # its paths were named by whoever wrote in the folder: one line, inert
                out(one_line(line))
        if names is None or "run_shell" in names:  # how the shell runs, or why it is missing
            out(run_shell_offer(policy).describe())
    except OutputLost:  # created and claimed here, not started: it must not stay "running"
        _halt_unwatched(store, run, worker, None)
        raise
    return drive_in_terminal(store, run, worker, yes=yes, json_out=json_out)


def _check_arguments(goal, provider, autonomy, max_steps, max_minutes, settings) -> None:
    if not goal.strip():
        raise fail('the goal is empty; say what the agent should achieve, e.g. onloop run "..."')
    if provider not in PROVIDERS or provider == "scripted":
        raise fail(f"unknown model {provider!r}; use --model demo or --model openai")
    if provider == "openai" and not settings.openai_configured:
        raise fail(
            "--model openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local "
            "OpenAI-compatible server); set one, or use --model demo"
        )
    if autonomy not in AUTONOMY_LEVELS:
        raise fail(f"unknown autonomy {autonomy!r}; choose one of: {', '.join(AUTONOMY_LEVELS)}")
    if max_steps < 1 or max_minutes <= 0:
        raise fail("budgets must be positive: --max-steps 1 or more, --max-minutes above 0")
    within("--max-steps", max_steps, 1, MOST_STEPS)
    within("--max-minutes", max_minutes, 0, MOST_MINUTES, above=True)


def _check_tools(names: list[str] | None, policy) -> None:
    try:
        known = known_tools(policy.tools, policy.mcp_servers)
    except ToolLoadError as exc:
        raise fail(str(exc)) from exc
    servers = {f"{PREFIX}{s.name}__" for s in policy.mcp_servers}
    # A tool of a configured server that is down now is left to the worker (it tells the model).
    unknown = sorted(
        n for n in set(names or []) - set(known) if not any(n.startswith(p) for p in servers)
    )
    if unknown:
        raise fail(f"unknown tools: {', '.join(unknown)}; available: {', '.join(sorted(known))}")


def _check_folders(workspace, seed_from, url) -> tuple[str | None, str | None]:
    """create_run's folder arguments, made absolute, or a one-line refusal naming the fix."""
    store_file = sqlite_path(url)
    if workspace and seed_from:
        raise fail(
            "pass either --workspace (work in the folder) or --seed-from (work on a copy of it), "
            "not both"
        )
    try:
        if workspace is not None:
            return str(work_in(workspace, store_file=store_file)), None
        if seed_from is not None:
            seed_from = str(copy_from(seed_from, store_file=store_file))
        check_workspace_root(workspace_root_for(url))
    except WorkspaceChoiceError as exc:
        raise fail(str(exc)) from None
    return None, seed_from


def choices(default: str) -> str:
    """The answers, the one Enter gives in capitals: `[y]es / [N]o / [e]dit / [a]lways ...`."""
    words = {"y": "[y]es", "n": "[n]o", "e": "[e]dit", "a": "[a]lways for this run"}
    words[default] = f"[{default.upper()}]{words[default][3:]}"
    return " / ".join(words.values())


def drive_in_terminal(
    store: storage.Store, run, worker: Worker, *, yes: bool, json_out: bool
) -> int:
    """Drive the run `worker` claimed when it was created or resumed (so no other worker took
    it), follow its events until it stops, and answer approvals on the terminal."""
    out = _err if json_out else typer.echo
    width = terminal_width(sys.stderr if json_out else sys.stdout)
    follower = _Follower(store, run.id, yes=yes, out=out, width=width)
    if run.worker_id == worker.worker_id:  # not when a pending halt ended it instead
        thread = worker.start(run)
        worker.start_heartbeat()
        try:
            follower.follow(thread.is_alive)
        except KeyboardInterrupt:
            _err(f"\nhalting run {run.id} (Ctrl-C; nothing further runs) ...")
            with contextlib.suppress(ControlError):  # it ended by itself meanwhile
                halt(store, run_id=run.id, by=current_user())
            thread.join(10)
            follower.drain()
        except OutputLost:
            _halt_unwatched(store, run, worker, thread)
            raise
        finally:
            worker.stop.set()
    else:
        follower.drain()
    final = storage.get_run(store, run_id=run.id)
    if json_out:
        events = storage.events_after(store, run_id=run.id)
        typer.echo(json.dumps(run_as_dict(final, events), indent=2))
    else:
        typer.echo(run_summary(final))
        if final.status in RESUMABLE_STATUSES:
            typer.echo(f"resume it with: onloop resume {final.id}")
    return 0 if final.status == RunStatus.SUCCEEDED else 1


def _halt_unwatched(store: storage.Store, run, worker: Worker, thread) -> None:
    """The output closed (`| head`, a full disk): nobody sees the run's steps or its approval
    prompts any more. It is halted as Ctrl-C halts it (resumable), not left "running" with no
    one driving it; what is said goes to stderr."""
    _err(f"the output closed; halting run {run.id} (nothing further runs) ...")
    with contextlib.suppress(ControlError):  # it ended by itself meanwhile
        halt(store, run_id=run.id, by=current_user())
    if thread is None and run.worker_id == worker.worker_id:  # claimed, never started: the
        thread = worker.start(run)  # session starts, meets the halt, and ends the run halted
    if thread is not None:
        thread.join(STOP_WAIT_S)
    worker.stop.set()
    final = storage.get_run(store, run_id=run.id)
    resume = (
        f"; resume it with: onloop resume {final.id}" if final.status in RESUMABLE_STATUSES else ""
    )
    _err(f"run {final.id} is {final.status}{resume}")


def _err(message: str) -> None:
    typer.echo(message, err=True)


class _Follower:
    def __init__(
        self,
        store: storage.Store,
        run_id: str,
        *,
        yes: bool,
        out,
        live: LiveLine | None = None,
        width: int | None = None,
    ) -> None:
        self.store, self.run_id, self.yes = store, run_id, yes
        self.live = live or LiveLine()
        self.width = width  # the terminal's columns (None: a pipe or a file, lines whole)
        self.out = self._above_live(out)
        self.seq = 0
        self.step = 0  # the newest step recorded (model_call) that this follower has printed
        self.prompted: set[int] = set()
        self.interactive = sys.stdin is not None and sys.stdin.isatty()

    def _above_live(self, out):
        def write(message: str) -> None:
            self.live.clear()  # the live line is erased first, so lines never mix with it
            out(fit(message, self.width))

        return write

    def follow(self, going: Callable[[], bool]) -> None:
        while going():
            self.drain()
            self.show_partial()
            time.sleep(FOLLOW_POLL_S)
        self.drain()
        self.live.clear()

    def show_partial(self) -> None:
        """The streaming turn's output so far, on the live line (only on a terminal)."""
        if not self.live.enabled:
            return
        partial = storage.live_output(self.store, run_id=self.run_id)
        if partial is not None and partial.step > self.step:
            self.live.show(partial.text)
        else:
            self.live.clear()

    def drain(self) -> None:
        for event in storage.events_after(self.store, run_id=self.run_id, after_seq=self.seq):
            self.seq = event.seq
            if event.kind == EventKind.MODEL_CALL:
                self.step = max(self.step, int(parse_as(ModelCall, event.payload).step or 0))
            line = render_event(event.kind, event.payload, event.seq)
            if line:
                self.out(line)
            if event.kind == EventKind.APPROVAL_REQUESTED:
                self._answer()

    def _answer(self) -> None:
        for approval in storage.pending_approvals(self.store, run_id=self.run_id):
            if approval.id is None or approval.id in self.prompted:
                continue
            self.prompted.add(approval.id)
            try:
                self._decide(approval)
            except DecisionError as exc:  # decided elsewhere (dashboard, another terminal)
                self.out(f"  ({inert.visible(exc, newlines=False)})")

    def _scope(self, approval) -> Scope:
        """The scope a person picks for "always", narrowest first (1: this exact call)."""
        offered = scopes_of(self.store, approval)
        for number, scope in enumerate(offered, 1):
            self.out(f"    {number}. {inert.visible(scope.label, newlines=False)}")
        picked = typer.prompt("  Allow for the rest of the run", default="1").strip()
        index = int(picked) - 1 if picked.isdigit() else 0
        return offered[index if 0 <= index < len(offered) else 0]

    def _decide(self, approval) -> None:
        by = current_user()
        if self.yes:
            approve(self.store, approval_id=approval.id, by=f"{by}{YES_SUFFIX}")
            return
        if not self.interactive:
            self.out(
                f"  waiting for a decision: onloop approve {self.run_id} | onloop reject "
                f"{self.run_id} --note '...' (or use the dashboard)"
            )
            return
        # One line, every control shown: the text cannot clear the screen or draw a fake request.
        summary = inert.visible(approval.summary or approval.tool, newlines=False, tabs=False)
        default = "y" if approval.risk == "low" else "n"  # Enter never approves a risky call
        try:
            question = fit(f"  Allow {summary}? {choices(default)}", self.width)
            answer = self._choice(question, default)
            if answer == "a":
                scope = self._scope(approval)
                approve(
                    self.store,
                    approval_id=approval.id,
                    by=by,
                    allow_scope=scope.kind,
                    shown_scope=scope.label,
                )
            elif answer == "y":
                approve(self.store, approval_id=approval.id, by=by)
            elif answer == "e":
                self._edit(approval, by)
            else:
                note = typer.prompt("  Note for the agent (why, or what to do instead)", default="")
                reject(self.store, approval_id=approval.id, by=by, note=note or None)
        except (typer.Abort, EOFError):  # Ctrl-C or Ctrl-D at the prompt: as Ctrl-C anywhere
            raise KeyboardInterrupt from None

    def _choice(self, question: str, default: str) -> str:
        """y, n, e or a; Enter alone is `default` (n unless the call is low risk); anything
        else asks again."""
        while True:
            typed = str(typer.prompt(question, default="", show_default=False)).strip().lower()
            answer = typed[:1] or default
            if answer in ("y", "n", "e", "a"):
                return answer
            self.out("  type y (approve), n (reject), e (edit the arguments) or a (always)")

    def _edit(self, approval, by: str) -> None:
        """Approve edited arguments typed as JSON; a mistake says why and asks again."""
        self.out(
            f"  arguments now: {inert.visible(inert.json_text(approval.arguments), newlines=False)}"
        )
        while True:
            typed = typer.prompt("  Edited arguments as JSON (empty: keep them)", default="")
            try:
                edited = parse_edited_arguments(typed) if typed.strip() else None
                approve(self.store, approval_id=approval.id, by=by, edited_arguments=edited)
                return
            except DecisionError as exc:
                if "already" in str(exc):
                    raise
                self.out(f"  ({inert.visible(exc, newlines=False)})")
