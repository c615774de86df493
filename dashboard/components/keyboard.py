"""Small browser-side helpers for keyboard use: put the cursor in a field the person just opened.

The scripts name only our own widget keys (never text from a run), so nothing hostile reaches
them.
"""

from __future__ import annotations

import re

import streamlit as st

_SAFE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def focus_field(key: str) -> None:
    """Move the keyboard focus into the input or text area with widget key `key` once it is drawn.

    Call it on the run that opens the field; a counter makes each call a new script, so the
    browser runs it once per opening and never steals the focus on the refreshes after.
    """
    if not _SAFE_KEY.match(key):
        raise ValueError(f"widget key {key!r} is not a plain key")
    count = st.session_state.get("keyboard-focus-count", 0) + 1
    st.session_state["keyboard-focus-count"] = count
    script = f"""<script>/* focus {count} */
(() => {{
  const selector = ".st-key-{key} input, .st-key-{key} textarea";
  let tries = 0;
  const go = () => {{
    const field = document.querySelector(selector);
    if (field) {{ field.focus(); return; }}
    if (tries++ < 60) setTimeout(go, 50);
  }};
  go();
}})();
</script>"""
    st.html(script, unsafe_allow_javascript=True)
