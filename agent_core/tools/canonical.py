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


def unpinnable(arguments: dict) -> str | None:
    """Why no hash can pin these arguments (so no approval or check can name them), or None."""
    try:
        args_hash(arguments)
    except UnicodeEncodeError:
        return (
            "they hold a \\u escape that is half of a character (a lone surrogate such as "
            "\\ud800); write the whole character or remove it"
        )
    except RecursionError:
        return "they are nested too deeply"
    return None
