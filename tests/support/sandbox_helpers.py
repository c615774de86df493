"""What the sandbox tests share: a shell call through the real tool, and pasta as a requirement
(.ci/run installs Debian's passt; a granted network without it must fail, never be skipped)."""

from __future__ import annotations

import pytest

from agent_core.run.tool_runner import run_tool
from agent_core.tools import ToolError, Workspace, builtin_tools
from agent_core.tools.context import ToolContext
from agent_core.tools.sandbox import sandbox_status
from agent_core.tools.user_net import pasta_binary

MB = 1 << 20


def need_sandbox() -> None:
    """A test of the sandboxed shell fails, never skips, where the sandbox is missing: .ci/run
    installs Debian's bubblewrap, and a guard test that quietly vanishes proves nothing."""
    status = sandbox_status()
    assert status.available, f"this test needs the shell's sandbox: {status.reason}"


def shell_output(ws: Workspace, command: str, **context) -> str:
    """What run_shell gives the model for `command` (a ToolError's text too), unredacted."""
    context.setdefault("redact", lambda text: text)
    try:
        return run_tool(
            builtin_tools()["run_shell"],
            {"command": command, "timeout_s": 60},
            workspace=ws,
            context=ToolContext(**context),
        )
    except ToolError as exc:
        return f"ToolError: {exc}"


@pytest.fixture
def pasta_required() -> str:
    found = pasta_binary()
    assert found is not None, "pasta is not installed: run .ci/run, which installs Debian's passt"
    return found


needs_pasta = pytest.mark.usefixtures("pasta_required")
