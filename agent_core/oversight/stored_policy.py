"""A run's stored policy, validated once per process however many times a run's session reads it.

A worker reads each run's policy (the JSON stored with the run) to build its model, its spec and,
at the end, its notifications; runs launched together share one. Validating it builds every
rule's and monitor's compiled patterns again, which costs up to half a millisecond each time once
the process's regex cache has turned over. The validated Policy is shared: Policy objects are
never changed in place (every change is a `model_copy`), so sharing one is safe.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from agent_core.oversight.policy import Policy

_KEPT = 64  # distinct policies remembered; a worker's runs seldom have more at once
_validated: OrderedDict[str, Policy] = OrderedDict()
_lock = threading.Lock()


def stored_policy(stored: dict[str, Any] | None) -> Policy:
    """The Policy of a run's stored policy JSON (ValidationError as from Policy.model_validate)."""
    key = json.dumps(stored or {}, sort_keys=True, separators=(",", ":"))
    with _lock:
        found = _validated.get(key)
        if found is not None:
            _validated.move_to_end(key)
            return found
    policy = Policy.model_validate(stored or {})
    with _lock:
        _validated[key] = policy
        while len(_validated) > _KEPT:
            _validated.popitem(last=False)
    return policy
