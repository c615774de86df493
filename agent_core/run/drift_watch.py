"""The drift monitors one session of a run is watched by, set up from what the run is given."""

from __future__ import annotations

from agent_core.oversight.monitors import RepetitionMonitor
from agent_core.oversight.workspace_state import workspace_reader
from agent_core.run.spec import RunSpec


def monitor_for(spec: RunSpec) -> RepetitionMonitor:
    """The drift monitors of one session: polls the policy's patterns recognise plus the tools
    declared polling (and the deprecated `polling_tools`), actions are the side-effecting tools
    that run no command, and shell writes are digested from the workspace. A resumed session
    remembers what the earlier ones observed, so the judge's account covers the whole run."""
    polling = frozenset(spec.policy.polling_tools) | {
        t.name for t in spec.tools.values() if t.polling
    }
    actions = frozenset(
        t.name for t in spec.tools.values() if t.risk != "low" and not t.argument_kinds.commands
    )
    monitor = RepetitionMonitor(
        spec.policy.monitors, polling, actions=actions, reader=workspace_reader(spec.workspace)
    )
    monitor.recall(spec.prior_events)  # a resumed run: its earlier sessions, counts afresh
    return monitor
