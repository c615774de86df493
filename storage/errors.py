"""Problems a user can cause; each message names the fix."""


class StoreError(Exception):
    """The store cannot do what was asked (cannot open the database, bad input, ...)."""


class NotFound(StoreError):
    """No row with that id."""


class AmbiguousId(StoreError):
    """An id prefix that several rows share: the message says to give more of the id."""


class InvalidState(StoreError):
    """The row exists but is in the wrong state for this (e.g. an approval already decided)."""


class HaltRequested(InvalidState):
    """A halt is pending for the run (or it is no longer driven), so the step must not start."""


class ApprovalExpired(InvalidState):
    """The approval passed its expires_at before anyone decided; it can no longer be decided."""


class ApprovalUnusable(InvalidState):
    """The approval cannot authorise this execution (not approved, consumed, other run or args)."""


class LeaseLost(HaltRequested):
    """The writer's claim on the run is gone (its lease lapsed; another claim superseded it), so
    the store refuses its write: a stale worker must stop driving the run at once."""


class StoreUpgraded(LeaseLost):
    """A newer onloop upgraded the store under this (older) process: its next step write is
    refused, and it stops driving the run as if its lease were lost (the newer release resumes
    it). The message names both schema versions and the fix."""
