"""One spelling of a call's arguments, so an approval can pin exactly what will run."""

from __future__ import annotations

import hashlib
import json


def canonical_json(arguments: dict) -> str:
    """The arguments as JSON with sorted keys and no spaces; equal arguments give equal text."""
    return json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def args_hash(arguments: dict) -> str:
    """The sha256 hex digest of the arguments' canonical JSON."""
    return hashlib.sha256(canonical_json(arguments).encode("utf-8")).hexdigest()
