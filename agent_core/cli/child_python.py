"""How onloop starts Python for its own processes (the dashboard, each worker of a pool).

`python -m module` puts the folder it starts in first on the import path, before the standard
library and onloop itself. Runs may work in that folder (a PostgreSQL store, or `--db`
elsewhere, with `--workspace .`), so an `agent_core/` or `json.py` an agent wrote there would
run in the next dashboard or worker, outside the sandbox, with the store in hand. Children start
with `-P` instead: their path is $PYTHONPATH, the standard library and the installed packages.
"""

from __future__ import annotations

import os
import sys


def module_command(module: str) -> list[str]:
    """The command line that runs `module` as onloop's child: never from the folder it starts in."""
    return [sys.executable, "-P", "-m", module]


def child_env(env: dict[str, str]) -> dict[str, str]:
    """`env`, naming onloop's own folder on PYTHONPATH when this process found onloop only
    through the first entry of its import path (`python -m agent_core up` in a checkout that is
    not installed): under -P the child would not find it otherwise."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
    first = os.path.realpath(sys.path[0] or os.curdir) if sys.path else None
    named = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root != first or root in (os.path.realpath(p) for p in named):
        return env
    return {**env, "PYTHONPATH": os.pathsep.join([root, *named])}
