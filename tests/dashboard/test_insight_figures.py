"""The Insights figures, built without plotly's validation, are the figures it validated before."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import pytest

from tests.dashboard.insight_figure_cases import BEFORE, SIZES, cases, spec

DRAWN_BEFORE = json.loads(BEFORE.read_text())
CASES = [(seed, n, name) for seed, n in SIZES for name in cases(seed, n)]


@pytest.mark.parametrize(("seed", "n_days", "name"), CASES)
def test_a_figure_is_what_it_was_before(seed: int, n_days: int, name: str) -> None:
    assert spec(cases(seed, n_days)[name]()) == DRAWN_BEFORE[f"{name} seed={seed} days={n_days}"]


@pytest.mark.parametrize(("seed", "n_days", "name"), CASES)
def test_plotly_would_change_nothing_in_a_figure(seed: int, n_days: int, name: str) -> None:
    """Validating the figure now (what the page no longer pays for) leaves it as it is."""
    figure = cases(seed, n_days)[name]()
    assert spec(go.Figure(figure.to_dict())) == spec(figure)
