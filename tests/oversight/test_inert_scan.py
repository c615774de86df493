"""Every rendering call is fed only text that is ours or passed the inert-text helper.

The scan reads the source (ast) of the CLI and the dashboard and lists each call that draws text
(`st.markdown`, captions, alerts, toasts, labels, `typer.echo`, `print`, ...) whose text is not
a literal, not wrapped by `agent_core.oversight.inert` (`markdown` / `visible`), and not on the
allow-list of values that are ours (ids, counts, our own enums, format helpers).
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Streamlit calls whose first argument (or label/body keyword) is drawn. Markdown ones need
# `inert.markdown`; plain-text ones (text, code) need `inert.visible` or `inert.markdown`.
STREAMLIT_DRAWS = {
    "markdown",
    "write",
    "caption",
    "info",
    "warning",
    "error",
    "success",
    "toast",
    "expander",
    "tabs",
    "subheader",
    "header",
    "title",
    "link_button",
    "page_link",
    "text",
    "code",
    "metric",
    "badge",
    "button",
    "checkbox",
    "popover",
    "status",
    "download_button",
    "text_input",
    "text_area",
    "selectbox",
    "multiselect",
    "radio",
    "segmented_control",
    "pills",
    "number_input",
    "toggle",
}
TEXT_KEYWORDS = ("body", "label", "help", "caption", "captions", "placeholder", "value")
TERMINAL_DRAWS = {"echo", "secho", "print", "prompt", "confirm", "write"}  # typer, click, streams

# The helper, and functions that only ever return our own words or numbers.
WRAPPERS = {
    "inert.markdown",
    "inert.visible",
    "inert.person",  # inert.markdown, but an e-mail address reads as itself
    "shown",  # dashboard.components.events.shown: inert.visible, cut to what a page can show
    "format_cost",
    "format_tokens",
    "format_duration",
    "format_when",
    "len",
    "int",
    "float",
    "round",
    "json.dumps",  # ASCII-only unless ensure_ascii=False: every control becomes \\u escape
    "model_label",
    "badge",
    "run_summary",
    "workspace_line",
    "goal_line",  # agent_core.cli.render: inert.visible, further lines indented
    "render_event",  # agent_core.cli.render: the whole line passes inert.visible
    "live_line",  # agent_core.cli.live_line: the model's partial text through inert.visible
    "_age_and_expiry",
    "age_text",  # approval_card: a duration in our words
    "describe_limits",
    "needs_note",
    "_plural",
    "_one",  # agent_core.cli.render: inert.visible on one line
    "one_line",  # agent_core.cli.terminal_text: the same
    "version",
    "shown_url",  # the store's URL with any password masked: configured by the person
    "_model_line",
    "_signin_line",
    "_workers_line",
    "describe",  # run_shell_offer(...).describe(): onloop's own words about the sandbox
    "describe_rule",  # a rule from the operator's policy file
    "class_line",  # policy_check: a class name of ours and inert.visible(class_why)
    "_line",  # cli/rules.py: the whole line passes inert.visible
    "describe_model",
    "run_usage",
    "page_link",
    "min",
    "max",
    "STATUS_WORDS.get",
    "inert.json_text",
    "workspace_caption",  # dashboard/views/run.py: inert.markdown on every path
    "rule.label",
    "Path.cwd",
    "AUTONOMY_HELP.get",
    "change_summary",  # run_changes: counts and our own words for kinds of change
    "change_title",  # run_changes: our icon and word, the path through inert.markdown
    "next_line",  # run_state: the next step, from our own NEXT_STEPS
}
# Values that are ours: ids we mint, statuses and verdicts from fixed sets, counts, paths the
# person typed or configured. Matched on the expression's source text (last attribute name).
TRUSTED_NAMES = {
    "id",
    "run_id",
    "rule_key",  # a project rule's key: we mint it
    "version",
    "min_approvals",
    "number",
    "approval_id",
    "status",
    "steps",
    "tool_calls",
    "seq",
    "risk",
    "verdict",
    "autonomy",
    "mode",
    "source",
    "count",
    "shown",
    "pages",
    "done",
    "noun",
    "title",
    "icon",
    "bound",
    "host",
    "port",
    "url",
    "cost_usd",
    "tokens",
    "stamp",
    "created_at",
    "decided_at",
    "max_steps",
    "total",
    "first",
    "page",
    "more",
    "what",  # access.explain_missing: our words for an action
    "role",
    "kind",  # a command's kind, from a fixed set
    "action",
    "decision",
    "concurrency",
    "processes",
    "worker_id",
    "parent_run_id",
    "unnamed",
    "waiting",
    "every",
    "period",
    "empty",
    "EMPTY",
    "CACHE_SECONDS",
    "EXPORT_MAX_RUNS",
    "ANNOUNCED",
    "PAGE_SIZE",
    "CLEAR",
    "target",  # the policy file `onloop policy init` wrote: the person's path
    "where",
    "transport",
    "confinement",
    "risk_from",
    "gave_up",
    "address",
    "provider",  # cli/run.py: the --model the person chose, one of PROVIDERS (checked)
}
# Exact expressions that are ours although their names are generic, with why.
ALLOWED = {
    "missing",  # launch.py: providers.why_unavailable, our words naming the variables to set
    "question",  # cli/run.py _choice: "Allow {inert.visible(summary)}? [y]es..." built in _decide
    "text",  # allowances.py: joined from inert.markdown pieces and our words
    "origin",  # project_rules.py: our words and an approval id
    "line",  # cli.py/cli_live.py: a render_event / live_line result (inert.visible inside)
    "message",  # cli_run.py: `_err`/`write` forward lines built above from inert output
    "said",
    "problem",  # approval_card: built in _record_problem from inert.markdown(error)
    "notice['message']",  # approval_card: built in _decide/_record_problem with inert.markdown
    "view.notice",  # event_feed: our sentence naming a step number the person typed
    "label",  # run_link/approvals/approval_card: callers pass inert.markdown text or our words
    "used",  # cli_run: the model the person chose on the command line
    "policy.source",  # the policy file's path, chosen by the person
    "active.source",
    "rule.tool",  # the operator's own policy file
    "rule.action",
    "rule.reason",
    "verdict.rule",
    "verdict.verdict",
    "url",
    "s['name']",  # MCP server names come from the operator's config
    "goal.title",  # demo goals: onloop's own text
    "goal.shows",
    "run.goal",  # run_controls: the re-run form's editable goal (a text input, never Markdown)
    "settings.openai_model",
    "run.max_steps",
    "storage.AUTONOMY_LEVELS",
    "names",
    "edited",  # cli.py: our words
    "(a.approved_hash or a.args_hash)[:12]",
    "active.approval_timeout_s or 'none'",
    "active.on_budget",
    "index + 1",
    "summary",  # cli_run: the approval line, inert.visible just above
    "name",  # cli_tools: inert.visible just above
    "state",  # cli_tools: built from inert.visible(error)
    "t.source",  # built-in, a module path the person configured, or mcp:<configured name>
    "s['where']",
    "who",  # approval_card: built from inert.markdown(decided_by)
    "partial.step",
    "url_path",
    "query",
    "adds",
    "result.rule",
    "run.autonomy",
    "note",  # cli.py: built with _one_line
    "parent",  # run.py: built with inert.markdown
    "s['transport']",
    "s['tools']",  # cli/tools.py: a count
    "s['confinement']",  # onloop's words about how the server is confined
    "routes.APPROVALS_PAGE",  # a page of ours, not text
    "index",
    "policy_problem",  # policy.py: a PolicyError about the operator's own policy file
    "refusal",  # launch.py: a WorkspaceChoiceError about the folder the person typed
    "EDIT_LABEL",  # approval_edit: our words
    "KEY_HELP",  # inbox_list: our words naming the keys
    "LIST_LABEL",  # inbox_list: our words
    "SHOWN",  # approvals: a number of ours
    "times",  # snooze_controls: times of day formatted from the store's datetimes
    "more",  # snooze_controls: "…" or nothing
    "total",  # approvals: a count
    "EMPTY_PUT_OFF",  # approvals: our words
    "listed",  # approvals: our words and a count
    "color",  # approval_card: a RISK_COLORS value, a colour name of ours
    "labels.get",  # inbox_list: radio options built by _label, model words via inert.markdown
    "level.value",  # policy.py: the autonomy levels, our Autonomy enum
}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


PLAIN_TEXT_DRAWS = {"text", "code"}  # never Markdown: inert.visible is enough there
_markdown_context = [False]
# The plain assignments (`name = value`) of the function around the call being checked.
# Followed for the command line only (the pages' names are trusted by the lists above).
_assigned: list[dict[str, list[ast.AST]]] = [{}]
_visiting: set[str] = set()


def _assignments(function: ast.AST) -> dict[str, list[ast.AST]]:
    found: dict[str, list[ast.AST]] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                found.setdefault(target.id, []).append(node.value)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and node.value is not None:
            if isinstance(node.target, ast.Name):
                found.setdefault(node.target.id, []).append(node.value)
    return found


def _calls_by_function(tree: ast.AST) -> list[tuple[ast.Call, dict[str, list[ast.AST]]]]:
    """Every call with the assignments of the innermost function that holds it."""
    out: list[tuple[ast.Call, dict[str, list[ast.AST]]]] = []

    def visit(node: ast.AST, assigned: dict[str, list[ast.AST]]) -> None:
        for child in ast.iter_child_nodes(node):
            inner = assigned
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                inner = _assignments(child)
            if isinstance(child, ast.Call):
                out.append((child, inner))
            visit(child, inner)

    visit(tree, {})
    return out


def trusted(node: ast.AST | None) -> bool:
    """Whether an expression's text is ours or already passed the inert-text helper."""
    if (
        _markdown_context[0]
        and isinstance(node, ast.Call)
        and _dotted(node.func) in {"inert.visible", "shown"}
    ):
        return False  # shown, not obeyed, on a terminal; in Markdown it still links and loads
    if (
        isinstance(node, ast.Name)
        and node.id in _assigned[0]
        and node.id not in TRUSTED_NAMES
        and node.id not in _visiting
    ):
        # A local variable of a command: trusted when every value the function assigns to it
        # is, whatever its name (`line = protection_line(...)` drew a folder's names raw).
        _visiting.add(node.id)
        try:
            return all(trusted(value) for value in _assigned[0][node.id])
        finally:
            _visiting.discard(node.id)
    if node is None or isinstance(node, ast.Constant) or ast.unparse(node) in ALLOWED:
        return True
    if isinstance(node, ast.JoinedStr):
        return all(trusted(v) for v in node.values)
    if isinstance(node, ast.FormattedValue):
        return trusted(node.value)
    if isinstance(node, ast.BinOp):
        return trusted(node.left) and trusted(node.right)
    if isinstance(node, ast.IfExp):
        return trusted(node.body) and trusted(node.orelse)
    if isinstance(node, ast.BoolOp):
        return all(trusted(v) for v in node.values)
    if isinstance(node, ast.Compare | ast.UnaryOp):
        return True  # a boolean or a number
    if isinstance(node, ast.Call):
        name = _dotted(node.func)
        if name.endswith(".join") or name.endswith(".format"):
            target = node.func.value if isinstance(node.func, ast.Attribute) else None
            return trusted(target) and all(trusted(a) for a in node.args)
        if name == "json.dumps":
            return not any(k.arg == "ensure_ascii" for k in node.keywords)
        if name == "fit":  # terminal_text.fit: the text in rows, as trusted as the text itself
            return bool(node.args) and trusted(node.args[0])
        return name in WRAPPERS or name.split(".")[-1] in WRAPPERS - {"markdown", "visible"}
    if isinstance(node, ast.Name | ast.Attribute):
        name = _dotted(node)
        return name.split(".")[-1] in TRUSTED_NAMES or name.startswith("m.")  # monitor numbers
    if isinstance(node, ast.Subscript):
        return trusted(node.value) or _dotted(node.value).endswith(("WORDS", "HELP"))
    if isinstance(node, ast.List | ast.Tuple):
        return all(trusted(e) for e in node.elts)
    if isinstance(node, ast.ListComp | ast.GeneratorExp):
        return trusted(node.elt)
    return False


# Widgets that draw each option as Markdown (a selectbox's or a multiselect's options are plain).
MARKDOWN_OPTIONS = {"radio", "segmented_control", "pills"}
_OUR_TABLE = re.compile(r"^[A-Z][A-Z0-9_]*\.(__getitem__|get)$")  # VIEWS.__getitem__: our words
_OUR_CONSTANT = re.compile(r"^(list\()?[A-Z][A-Z0-9_]*\)?$")  # PERIODS, list(PERIODS): ours


def _drawn_options(call: ast.Call) -> list[ast.AST]:
    """What a Markdown-option widget draws for its options: the format_func's result (a lambda's
    body; a named function by its name), else the options themselves."""
    keywords = {k.arg: k.value for k in call.keywords}
    formatter = keywords.get("format_func")
    if formatter is None:
        options = keywords.get("options", call.args[1] if len(call.args) > 1 else None)
        if options is None or _OUR_CONSTANT.match(ast.unparse(options)):
            return []
        return [options]
    if isinstance(formatter, ast.Lambda):
        return [formatter.body]
    if _OUR_TABLE.match(_dotted(formatter)):
        return []
    return [formatter]


def _drawn_arguments(call: ast.Call) -> list[ast.AST]:
    shown = list(call.args[:1])
    shown += [k.value for k in call.keywords if k.arg in TEXT_KEYWORDS]
    if isinstance(call.func, ast.Attribute) and call.func.attr in MARKDOWN_OPTIONS:
        shown += _drawn_options(call)
    return shown


def _is_render_call(call: ast.Call, *, dashboard: bool) -> bool:
    func = call.func
    if isinstance(func, ast.IfExp):  # (st.warning if problems else st.success)(text)
        return any(
            _is_render_call(ast.Call(func=f, args=call.args, keywords=[]), dashboard=dashboard)
            for f in (func.body, func.orelse)
        )
    if isinstance(func, ast.Name):
        return func.id == "print" or (func.id in {"out", "say"} and not dashboard)
    if not isinstance(func, ast.Attribute):
        return False
    receiver = _dotted(func.value)
    if dashboard:
        return func.attr in STREAMLIT_DRAWS and receiver not in {"", "inert", "logging", "re"}
    return func.attr in TERMINAL_DRAWS and receiver in {
        "typer",
        "click",
        "console",
        "self.stream",
        "sys.stdout",
        "sys.stderr",
        "stream",
    }


def findings(source: str, where: str, *, dashboard: bool) -> list[str]:
    found = []
    for node, assigned in _calls_by_function(ast.parse(source)):
        if not _is_render_call(node, dashboard=dashboard):
            continue
        _assigned[0] = {} if dashboard else assigned
        func = node.func
        plain = isinstance(func, ast.Attribute) and func.attr in PLAIN_TEXT_DRAWS
        _markdown_context[0] = dashboard and not plain
        for arg in _drawn_arguments(node):
            if not trusted(arg):
                found.append(f"{where}:{node.lineno}: {ast.unparse(node)[:160]}")
                break
    return found


def sources() -> list[tuple[Path, bool]]:
    cli = sorted(ROOT.glob("agent_core/cli*.py")) + sorted(ROOT.glob("agent_core/cli/**/*.py"))
    pages = sorted(ROOT.glob("dashboard/**/*.py"))
    return [(p, False) for p in cli] + [(p, True) for p in pages]


def test_every_rendering_call_is_fed_inert_or_trusted_text():
    problems = []
    for path, dashboard in sources():
        where = str(path.relative_to(ROOT))
        problems += findings(path.read_text(encoding="utf-8"), where, dashboard=dashboard)
    assert not problems, (
        "These calls draw text that may come from a model, a tool, a server or a web page "
        "without passing agent_core.oversight.inert (inert.markdown for Markdown elements, "
        "inert.visible for terminals and st.text/st.code). Wrap the value, or, if it is "
        "really ours, add it to the allow-list in tests/oversight/test_inert_scan.py:\n"
        + "\n".join(problems)
    )


def test_the_scan_catches_an_unwrapped_payload():
    bad = textwrap.dedent(
        """
        st.markdown(event.payload["text"])
        st.caption(f"from {server.error}")
        st.toast(message_from_model)
        st.expander(approval.summary)
        typer.echo(f"approved: {done.summary}")
        st.warning("MCP server " + server.stderr)
        head.text(approval.tool)
        st.json(x)
        st.caption(f"New file {inert.visible(path)}: its text")
        """
    )
    dash = findings(bad, "x.py", dashboard=True)
    assert [line.split(":")[1] for line in dash] == ["2", "3", "4", "5", "7", "8", "10"]
    assert findings("typer.echo(f'approved: {done.summary}')", "c.py", dashboard=False)
    assert findings("print(row.goal)", "c.py", dashboard=False)
    assert findings("typer.echo(fit(row.goal, width))", "c.py", dashboard=False)
    assert not findings("typer.echo(fit(one_line(row.goal), width))", "c.py", dashboard=False)
    assert findings("typer.echo(json.dumps(x, ensure_ascii=False))", "c.py", dashboard=False)
    # A command's local variable is followed to what was assigned to it, whatever its name: the
    # protected files a folder holds were drawn raw as `out(line)` (onloop run --workspace).
    command = textwrap.dedent(
        """
        def run(folder):
            line = protection_line(folder, policy, store)
            if line:
                out(line)
            message = "ok" if folder else inert.visible(folder)
            typer.echo(message)
        """
    )
    assert [f.split(":")[1] for f in findings(command, "c.py", dashboard=False)] == ["5"]


def test_the_scan_passes_wrapped_and_literal_text():
    good = textwrap.dedent(
        """
        st.markdown(inert.markdown(event.payload["text"]))
        st.caption(f"run {run.id} · {inert.markdown(run.goal)} · {format_cost(run.cost_usd)}")
        st.text(inert.visible(output))
        st.info("No runs yet", icon=":material/info:")
        """
    )
    assert findings(good, "x.py", dashboard=True) == []
    assert findings("typer.echo(inert.visible(line))", "c.py", dashboard=False) == []
