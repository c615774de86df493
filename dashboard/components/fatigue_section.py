"""The Insights page's "How often onloop asks": asks per run, how people answer, what asks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import streamlit as st

from agent_core.oversight import fatigue, inert
from agent_core.oversight.fatigue import (
    FAST_S,
    FLAG_MIN_DECISIONS,
    WAIT_BUCKETS,
    Fatigue,
    HasSavedAsks,
)
from dashboard.components import fatigue_charts as charts
from dashboard.components.status import format_duration
from dashboard.store import get_store
from storage import Store
from storage.insights import models_in_use

KEY = "insights-fatigue"
ALL_MODELS = "All models"
CACHE_SECONDS = 120
FAST_BARS = sum(1 for upper, _ in WAIT_BUCKETS if upper <= FAST_S)  # bars under FAST_S


@st.cache_data(ttl=CACHE_SECONDS, show_spinner="Counting the asks…")
def _figures(url: str, since: datetime | None, model: str | None) -> Fatigue:
    """The figures of a period, cached for every viewer like the rest of the page."""
    return fatigue.fatigue(get_store(), since=since, model=model, suggestions=_suggested(url))


@st.cache_resource(ttl=CACHE_SECONDS, show_spinner=False)
def _suggested(url: str) -> Sequence[HasSavedAsks] | None:
    """The suggested rules: from the latest decisions whatever the period or model, so worked
    out once for all of them (it reads thousands of decisions), not again for each choice.
    Kept as they are (cache_resource: frozen records, never changed), not pickled."""
    return fatigue.SUGGESTIONS(get_store()) if fatigue.SUGGESTIONS is not None else None


@st.cache_data(ttl=CACHE_SECONDS, show_spinner=False)
def _models(url: str) -> list[str]:
    return models_in_use(get_store())


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{share:.0%}"


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def render(store: Store, since: datetime | None) -> None:
    st.header("How often onloop asks")
    model = st.selectbox(
        "Model",
        [ALL_MODELS, *_models(store.url)],
        key=f"{KEY}-model",
        format_func=lambda name: inert.visible(name, newlines=False, tabs=False),
    )
    f = _figures(store.url, since, None if model == ALL_MODELS else model)
    if not f.asks:
        st.caption("Nothing asked a person in this period.")
        return
    _metrics(f)
    _people(f)
    left, right = st.columns(2)
    with left:
        if f.decisions:
            figure = charts.time_to_decide_figure(f.wait_buckets, FAST_BARS, FAST_S)
            st.plotly_chart(figure, key=f"{KEY}-wait")
        else:
            st.caption("No asks were decided by a person in this period.")
    with right:
        st.plotly_chart(charts.asks_by_class_figure(f.by_class), key=f"{KEY}-classes")
    st.plotly_chart(charts.asks_per_run_figure(f.per_day), key=f"{KEY}-trend")
    _origins(f)
    _allowances_and_savings(f)


def _metrics(f: Fatigue) -> None:
    columns = st.columns(6)
    columns[0].metric(
        "Asks per run", _number(f.asks_per_run), help=f"{f.asks:,} asks, {f.runs:,} runs"
    )
    columns[1].metric(
        "Per 100 tool calls",
        _number(f.asks_per_100_calls),
        help=f"{f.tool_calls:,} tool calls",
    )
    columns[2].metric(
        "Unchanged",
        _percent(f.share("approved unchanged")),
        help="Asks approved as asked: no edit, no note. The rest: "
        + ", ".join(f"{name} {n:,}" for name, n in f.outcomes.items() if n),
    )
    wait_help = "From the ask to a person's decision (expired asks and --yes left out)."
    if f.sampled:
        wait_help += f" The latest {f.decisions:,} decisions."
    columns[3].metric("Median to decide", format_duration(f.median_s), help=wait_help)
    columns[4].metric("p90 to decide", format_duration(f.p90_s), help=wait_help)
    columns[5].metric(
        f"Under {FAST_S:g} s",
        f"{f.fast:,} ({_percent(f.fast_share)})",
        help="Decisions faster than anyone reads an ask: rubber-stamping.",
    )


def _people(f: Fatigue) -> None:
    for p in f.people:
        if p.flagged:
            st.warning(
                f"{inert.person(p.by)} decided {int(p.decisions):,} asks with a median of "
                f"{round(p.median_s, 1)} s: under {float(FAST_S):g} s is too fast to read them. Fewer, "
                "narrower asks (scoped allowances, suggested rules) help more than a reminder.",
                icon=":material/speed:",
            )
    if not f.people:
        return
    rows = [
        {
            "person": inert.visible(p.by, newlines=False, tabs=False),
            "decisions": p.decisions,
            "median (s)": round(p.median_s, 1),
            f"under {FAST_S:g} s": p.fast,
            "flagged": "yes" if p.flagged else "",
        }
        for p in f.people
    ]
    with st.expander(f"Who decides, how fast ({len(rows)})", key=f"{KEY}-people"):
        st.caption(
            f"Flagged: a median under {float(FAST_S):g} s over {int(FLAG_MIN_DECISIONS)} "
            "decisions or more."
        )
        st.dataframe(rows, hide_index=True, width="stretch", key=f"{KEY}-people-table")


def _origins(f: Fatigue) -> None:
    left, right = st.columns(2)
    for column, title, rows in ((left, "rule", f.by_rule), (right, "tool", f.by_tool)):
        with column:
            st.dataframe(
                [
                    {title: inert.visible(name, newlines=False, tabs=False), "asks": n}
                    for name, n in rows
                ],
                hide_index=True,
                width="stretch",
                key=f"{KEY}-by-{title}",
            )


def _allowances_and_savings(f: Fatigue) -> None:
    given = sum(f.allowances.values())
    scopes = ", ".join(f"{scope} {n:,}" for scope, n in f.allowances.items())
    allowances = f"Allowances given: {given:,}" + (f" ({scopes})" if scopes else "")
    st.caption(inert.markdown(f"{allowances}. Revoked: {f.revoked:,}."))
    s = f.savings
    if s is not None and s.rules:
        saved = (
            f"{s.asks:,} asks ({_percent(s.share)} of every ask on record) would have been saved "
            f"by {s.rules} suggested rules."
        )
        st.info(inert.markdown(saved), icon=":material/rule:")
