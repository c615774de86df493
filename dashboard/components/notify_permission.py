"""The sidebar's *Notify me in this browser* control: asks the browser's permission on a click.

Browsers grant notifications only from a person's own gesture, and Streamlit's buttons answer
after a round trip to the server, so this is a plain HTML button whose click handler asks
`Notification.requestPermission()` itself. The browser remembers the answer for the site: the
control hides once notifications are allowed, and says plainly when they are blocked or when
the address cannot have them (they need https, or localhost).
"""

from __future__ import annotations

import streamlit as st

_MARKUP = """
<div id="onloop-notify-permission" hidden>
  <button type="button" data-part="ask">
    Notify me in this browser
  </button>
  <p data-part="why">New approvals for your role, and run ends, pop up while a tab is open.</p>
  <p data-part="said" role="status"></p>
</div>
<style>
#onloop-notify-permission button {
  display: inline-flex; align-items: center; gap: 0.4rem; font: inherit; color: inherit;
  background: transparent; border: 1px solid rgba(128, 128, 128, 0.5); border-radius: 0.5rem;
  padding: 0.3rem 0.75rem; cursor: pointer;
}
#onloop-notify-permission button:hover { border-color: currentColor; }
#onloop-notify-permission button:focus-visible { outline: 2px solid currentColor; }
#onloop-notify-permission p { font-size: 0.875rem; margin: 0.3rem 0 0; opacity: 0.85; }
#onloop-notify-permission p:empty { display: none; }
</style>
<script>
(function () {
  const root = document.getElementById("onloop-notify-permission");
  if (!root) return;
  const ask = root.querySelector("[data-part=ask]");
  const why = root.querySelector("[data-part=why]");
  const said = root.querySelector("[data-part=said]");
  function show() {
    if (!("Notification" in window)) {
      ask.hidden = true; why.hidden = true; root.hidden = false;
      said.textContent = "This browser cannot show notifications from this address: " +
        "they need https (or localhost).";
      return;
    }
    const permission = Notification.permission;
    root.hidden = permission === "granted";
    ask.hidden = permission !== "default";
    why.hidden = permission !== "default";
    said.textContent = permission === "denied"
      ? "Browser notifications are blocked for this site. To get them, allow notifications " +
        "in the browser's site settings (the icon left of the address), then reload."
      : "";
  }
  ask.addEventListener("click", function () {
    Notification.requestPermission().then(show, show);
  });
  if (navigator.permissions) {
    navigator.permissions.query({ name: "notifications" }).then(function (status) {
      status.onchange = show;
    }, function () {});
  }
  show();
})();
</script>
"""


def notify_permission() -> None:
    """The control; nothing shows where notifications are allowed already."""
    st.html(_MARKUP, unsafe_allow_javascript=True, width="stretch")
