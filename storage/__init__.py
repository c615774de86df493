"""The store: the one channel between dashboards, workers and the CLI (SQLite or any URL).

`storage.X` is loaded on first use (storage/api.py lists it): importing the light modules,
storage.vocabulary and storage.record, costs no database driver, so a command that needs only
the vocabulary (`onloop policy init`) never loads the store.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storage.api import *  # noqa: F403
    from storage.api import __all__ as __all__


_loaded = False
_LIGHT = frozenset({"record", "vocabulary"})  # submodules that load no database driver


def __getattr__(name: str) -> Any:
    global _loaded
    if name.startswith("__") or _loaded:  # dunders: the import system asks about the package
        raise AttributeError(f"module 'storage' has no attribute {name!r}")
    if name in _LIGHT:  # `from storage import record` stays light: the submodule alone
        return importlib.import_module(f"storage.{name}")
    api = importlib.import_module("storage.api")
    # All at once, once, over what the submodules' import bound here (storage.lapsed_runs is
    # the function, not the module), as an eager __init__ would have.
    globals().update({exported: getattr(api, exported) for exported in api.__all__})
    _loaded = True
    if name not in globals():
        raise AttributeError(f"module 'storage' has no attribute {name!r}")
    return globals()[name]
