"""The turn the model is streaming right now, under the steps of a running run.

The worker writes a running turn's output so far to the store a few times a second
(storage.live_output) and deletes it once the turn is recorded as its model_call event, which the
step feed then shows. The Run page's live fragment draws it under the newest steps.
"""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

import storage
from agent_core.oversight import inert

TAIL_CHARS = 3000  # the end of a long answer: what is arriving is what matters here


def tail(text: str) -> str:
    """The end of the partial output, as text (it is shown with st.text, never as Markdown)."""
    if len(text) <= TAIL_CHARS:
        return text
    return "…" + text[-(TAIL_CHARS - 1) :]


def streaming(store: storage.Store, run_id: str, recorded_steps: int) -> storage.LiveText | None:
    """The streaming turn, unless it is already recorded (a step the page has drawn)."""
    partial = storage.live_output(store, run_id=run_id)
    if partial is None or partial.step <= recorded_steps:
        return None
    return partial


def draw_turn(partial: storage.LiveText) -> None:
    with st.container(border=True):
        st.caption(
            f":material/stream: step {partial.step} · the model is answering; the step is "
            "recorded when its turn completes"
        )
        st.text(inert.visible(tail(partial.text)))


class TurnSlot:
    """The streaming turn in one placeholder, redrawn only when what it shows changes (a held
    refresh of the Run page re-reads it a few times a second; most reads find the same text)."""

    def __init__(self, slot: DeltaGenerator) -> None:
        self.slot = slot
        self.shown: tuple[int, str] | None = None

    def update(self, store: storage.Store, run_id: str, recorded_steps: int) -> None:
        partial = streaming(store, run_id, recorded_steps)
        now = None if partial is None else (partial.step, tail(partial.text))
        if now == self.shown:
            return
        self.shown = now
        if partial is None:
            self.slot.empty()
            return
        with self.slot.container():
            draw_turn(partial)
