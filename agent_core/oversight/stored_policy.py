"""A run's stored policy, validated once per process however many times a run's session reads it.

A worker reads each run's policy (the JSON stored with the run) to build its model, its spec and,
at the end, its notifications; runs launched together share one. Validating it builds every
rule's and monitor's compiled patterns again, which costs up to half a millisecond each time once
the process's regex cache has turned over. The validated Policy is shared: Policy objects are
never changed in place (every change is a `model_copy`), so sharing one is safe.
"""

from __future__ import annotations

import copy
import json
import threading
from collections import OrderedDict
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from agent_core.oversight.notify_settings import receiver_of
from agent_core.oversight.policy import Policy
from agent_core.tools.mcp_config import ENV_PREFIX

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


def shown_policy(stored: dict[str, Any] | None) -> dict[str, Any] | None:
    """A run's recorded policy as an export or `--json` may print it: a webhook's URL by its host
    (its path is its secret, as the delivery records have it), no URL's user name, password or
    query, and an MCP server's header or environment value written in the file (not `env:NAME`)
    as `[redacted]`. The run itself keeps the policy whole: its worker needs it."""
    if not stored:
        return stored
    shown = copy.deepcopy(stored)
    notify = shown.get("notify")
    notify = notify if isinstance(notify, dict) else {}
    for channel in ("slack", "teams", "webhook"):
        found = notify.get(channel)
        if isinstance(found, dict) and isinstance(found.get("url"), str):
            found["url"] = _address(found["url"], path=False)
    if isinstance(shown.get("webhook_url"), str):
        shown["webhook_url"] = _address(shown["webhook_url"], path=False)
    for server in shown.get("mcp_servers") or []:
        if not isinstance(server, dict):
            continue
        if isinstance(server.get("url"), str):
            server["url"] = _address(server["url"], path=True)
        for table in ("headers", "env"):
            values = server.get(table)
            if isinstance(values, dict):
                server[table] = {key: _given(value) for key, value in values.items()}
    return shown


def _address(url: str, *, path: bool) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, receiver_of(url), parts.path if path else "/...", "", ""))


def _given(value: Any) -> Any:
    """`env:NAME` names where a credential comes from; anything else may be the credential."""
    return value if isinstance(value, str) and value.startswith(ENV_PREFIX) else "[redacted]"
