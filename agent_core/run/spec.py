"""What one session of a run is given: its goal, autonomy, budget, tools, workspace and policy,
and (on resume) what earlier sessions recorded and used."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent_core.oversight.monitors import Budget, Usage
from agent_core.oversight.policy import Policy
from agent_core.tools import Tool
from agent_core.tools.workspace import Workspace


@dataclass
class RunSpec:
    run_id: str
    goal: str
    autonomy: str
    budget: Budget
    tools: dict[str, Tool]
    workspace: Workspace
    policy: Policy
    usage: Usage = field(default_factory=Usage)  # what earlier sessions of this run used
    # Hosts the project names (oversight/known_hosts.py): a plain read from one is not egress.
    known_hosts: dict[str, str] = field(default_factory=dict)
    prior_events: list[Any] = field(default_factory=list)  # for resume
