"""Problems a user can cause; each message names the fix."""


class StoreError(Exception):
    """The store cannot do what was asked (cannot open the database, bad input, ...)."""


class NotFound(StoreError):
    """No row with that id."""


class InvalidState(StoreError):
    """The row exists but is in the wrong state for this (e.g. an approval already decided)."""


class HaltRequested(StoreError):
    """A halt is pending for the run, so the step it was about to start must not start."""
