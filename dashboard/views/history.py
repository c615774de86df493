"""History: every run, filtered and paged in the database, each linked to its Run page."""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from typing import Any

import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler

import storage
from agent_core.oversight import inert
from dashboard.components.run_export import EXPORT_MAX_RUNS, export_jsonl
from dashboard.components.run_link import page_link, run_page_link, run_url
from dashboard.components.status import (
    elapsed_seconds,
    format_duration,
    model_label,
    status_text_style,
)
from dashboard.store import get_store
from storage.insights import models_in_use

KEY = "history"
PAGE_SIZE = 50
PAGE_KEY = f"{KEY}-page"


@st.cache_data(ttl=60, show_spinner=False)
def _models(url: str) -> list[str]:
    return models_in_use(get_store())


def _first_page() -> None:
    st.session_state[PAGE_KEY] = 1


def _date_bounds(picked: Any) -> tuple[datetime | None, datetime | None]:
    """A (start, end) date pick as [start 00:00, end + 1 day 00:00) UTC; open ends are None."""
    picked = tuple(picked) if isinstance(picked, list | tuple) else (picked,)
    days = [d for d in picked if isinstance(d, date)]
    if not days:
        return None, None
    since = datetime.combine(days[0], time.min)
    until = datetime.combine(days[-1], time.min) + timedelta(days=1) if len(days) > 1 else None
    return since, until


def _render_filters(store: storage.Store) -> dict[str, Any]:
    status_col, model_col, date_col, search_col = st.columns([2, 2, 2, 3])
    statuses = status_col.multiselect(
        "Status", storage.RUN_STATUSES, key=f"{KEY}-status", on_change=_first_page
    )
    models = model_col.multiselect(
        "Model", _models(store.url), key=f"{KEY}-model", on_change=_first_page
    )
    picked = date_col.date_input(
        "Created between (UTC)", value=[], key=f"{KEY}-dates", on_change=_first_page
    )
    search = search_col.text_input(
        "Goal contains", key=f"{KEY}-search", on_change=_first_page, placeholder="e.g. invoices"
    )
    since, until = _date_bounds(picked)
    return {
        "status": statuses or None,
        "model": models or None,
        "since": since,
        "until": until,
        "search": search.strip() or None,
    }


def _page_number(total: int) -> int:
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if st.session_state.get(PAGE_KEY, 1) > pages:  # the filters shrank the result
        st.session_state[PAGE_KEY] = pages
    left, right = st.columns([1, 4], vertical_alignment="bottom")
    page = left.number_input("Page", min_value=1, max_value=pages, step=1, key=PAGE_KEY)
    first = (page - 1) * PAGE_SIZE + 1
    right.caption(
        f"Runs {first:,}–{min(total, page * PAGE_SIZE):,} of {total:,} · page {page}/{pages}"
    )
    return int(page)


def _table(runs: list[storage.Run]) -> dict[str, list]:
    return {
        "Run": [run_url(r.id) for r in runs],
        "Status": [r.status for r in runs],
        "Goal": [inert.visible(r.goal) for r in runs],
        "Model": [model_label(r.model, r.model_name) for r in runs],
        "Autonomy": [r.autonomy for r in runs],
        "Steps": [r.steps for r in runs],
        "Tokens": [r.tokens_in + r.tokens_out for r in runs],
        "Cost": [r.cost_usd for r in runs],
        "Duration": [format_duration(elapsed_seconds(r)) for r in runs],
        "Created (UTC)": [r.created_at for r in runs],
    }


def _styled(runs: list[storage.Run]) -> Styler:
    """The table with each status in its badge's colour."""
    return pd.DataFrame(_table(runs)).style.map(status_text_style, subset=["Status"])


def _render_runs(runs: list[storage.Run]) -> None:
    # Widths fit the ten columns in the main area at 1440 px (checked in Chromium:
    # tests/browser/test_page_layouts.py); the goal wraps into its tooltip when longer.
    selection = st.dataframe(
        _styled(runs),
        key=f"{KEY}-table",
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            # The link text is the run id alone (the address is ./?run=ID).
            "Run": st.column_config.LinkColumn(
                "Run", display_text=r"\?run=([0-9a-f]+)$", help="Opens the run in a new tab"
            ),
            "Goal": st.column_config.TextColumn("Goal", width=175),
            "Cost": st.column_config.NumberColumn("Cost", format="$%.4f", help="In US dollars"),
            "Created (UTC)": st.column_config.DatetimeColumn(
                "Created (UTC)", format="YYYY-MM-DD HH:mm"
            ),
        },
    )
    chosen = selection.selection.rows if selection else []
    if chosen:
        run_page_link(runs[chosen[0]].id)
    else:
        st.caption("Select a row to open its run here, or click its id to open it in a new tab.")


def _render_export(store: storage.Store, filters: dict[str, Any], total: int) -> None:
    with st.expander("Export these runs with their events (JSON Lines)", key=f"{KEY}-export"):
        st.caption(
            "One JSON object per line: the run's fields and its `events` list, newest run first. "
            "The file is built when you press Download."
        )
        if total > EXPORT_MAX_RUNS:
            st.warning(
                f"Only the newest {EXPORT_MAX_RUNS:,} of the {total:,} matching runs go into one "
                "file. Narrow the filters (a date range, a status) to export the rest in parts."
            )
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        st.download_button(
            f"Download {min(total, EXPORT_MAX_RUNS):,} runs as JSONL",
            data=lambda: export_jsonl(store, filters=filters, max_runs=EXPORT_MAX_RUNS),
            file_name=f"onloop-runs-{stamp}.jsonl",
            mime="application/jsonl",
            key=f"{KEY}-download",
            on_click="ignore",
        )


def main() -> None:
    st.title("History")
    store = get_store()
    filters = _render_filters(store)
    total = storage.count_runs(store, **filters)
    if total == 0:
        if any(value is not None for value in filters.values()):
            st.info("No runs match these filters. Clear a filter or widen the date range.")
        else:
            st.info(
                'No runs yet. Launch one on the Launch page (or `onloop run "your goal"`); '
                "every run is kept here for review.",
                icon=":material/history:",
            )
            page_link("views/launch.py", label="Go to the Launch page")
        return
    page = _page_number(total)
    runs = storage.list_runs(store, **filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    _render_runs(runs)
    _render_export(store, filters, total)


main()
