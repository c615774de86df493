"""A Chromium context where the dashboard may notify, with every `new Notification(...)` recorded.

The init script wraps `window.Notification`: each construction is kept (title, body, tag, and
`Date.now()` when it was made) in `window.onloopNotes`, and the notification itself in
`window.onloopMade`, so a test can dispatch its click. Shared by tests/browser and benchmarks.
"""

from __future__ import annotations

from typing import Any

SPY = """
(() => {
  const Real = window.Notification;
  if (!Real) return;
  window.onloopNotes = [];
  window.onloopMade = [];
  class Recorded extends Real {
    constructor(title, options) {
      super(title, options);
      const at = Date.now();
      window.onloopNotes.push({ title, body: options.body, tag: options.tag, at });
      window.onloopMade.push(this);
    }
  }
  Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
  Recorded.requestPermission = (...args) => Real.requestPermission(...args);
  window.Notification = Recorded;
})();
"""


def notifying_context(browser: Any) -> Any:
    """A new context, notifications granted for every origin, with the spy installed."""
    context = browser.new_context(
        permissions=["notifications"], viewport={"width": 1400, "height": 1000}
    )
    context.add_init_script(SPY)
    return context


def notes_made(page: Any) -> list[dict]:
    """The notifications the page constructed so far, oldest first."""
    return page.evaluate("window.onloopNotes || []")
