"""A worker warms up before it claims: its first run starts as fast as its later ones.

What a run loads on first use (the model's SDK, the demo planner, the user's tool modules and
MCP servers, the shell parser, the policy's schema) is loaded here once, while no run waits.
"""

from __future__ import annotations

import gc
import logging
import os
import time

from agent_core.models.providers import make_model
from agent_core.models.settings import Settings
from agent_core.oversight.confinement import run_shell_offer
from agent_core.oversight.policy import Policy
from agent_core.oversight.shell_syntax import read_shell
from agent_core.tools.builtins import offered_tools
from agent_core.tools.registry import known_tools

log = logging.getLogger("onloop.worker")
OFF_ENV = "ONLOOP_WARM_UP"  # "0" skips the warm-up: benchmarks/start.py measures the difference


def warm_up(policy: Policy, settings: Settings) -> float:
    """Load what this worker's runs will need; returns the seconds it took. Never fails: a part
    that cannot load here fails in the run that needs it, with the run's own error message."""
    started = time.perf_counter()
    if os.environ.get(OFF_ENV, "").strip() == "0":
        return 0.0
    for part in (_models, _policy_schema, _shell_parser, _demo):
        try:
            part(policy, settings)
        except Exception as error:  # the run that needs it reports it properly
            log.debug("warm-up: %s skipped (%s)", part.__name__, error)
    try:
        _tools(policy, settings)
    except Exception as error:
        log.warning("warm-up: the policy's tools did not load (%s); runs will say why", error)
    # What was loaded stays for the process's life: collect once now, then keep those objects
    # out of later collections, so the first runs do not pay for a full collection of them.
    gc.collect()
    gc.freeze()
    return time.perf_counter() - started


# The imports inside functions below are the warm-up's work: what a run would load on first use.


def _models(policy: Policy, settings: Settings) -> None:
    from agent_core.models import demo  # noqa: F401

    if settings.openai_configured:  # the SDK is the slowest import a run makes
        # A client, built and dropped: the SDK imports its HTTP transport when the first one is
        # made (no connection is opened here).
        model = make_model("openai", None, settings, policy.model)
        close = getattr(model, "close", None)
        if callable(close):
            close()


def _policy_schema(policy: Policy, settings: Settings) -> None:
    Policy.model_validate(policy.model_dump(mode="json"))  # the run's policy is re-read


def _shell_parser(policy: Policy, settings: Settings) -> None:
    read_shell("ls -la | head -n 1")


def _demo(policy: Policy, settings: Settings) -> None:
    from agent_core.models import demo_plans, demo_report, demo_steps  # noqa: F401


def _tools(policy: Policy, settings: Settings) -> None:
    offered_tools(known_tools(policy.tools, policy.mcp_servers), run_shell_offer(policy))
