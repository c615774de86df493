"""The dashboard benchmark's page renders (benchmarks/dashboard.py): every AppTest shares one
registry of installed components, scanned once as a server scans it once at start, unless asked
to scan again for each render (`--rescan-components`, the way the figures before were taken)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from streamlit.components.v2.component_manager import BidiComponentManager
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location(
        "dashboard_bench", ROOT / "benchmarks" / "dashboard.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "dashboard_bench", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def scans(monkeypatch):
    counted: list[int] = []
    real = BidiComponentManager.discover_and_register_components

    def counting(self, *args, **kwargs):
        counted.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(BidiComponentManager, "discover_and_register_components", counting)
    return counted


def _render(bench, count: int) -> None:
    for _ in range(count):
        at = AppTest.from_string("import streamlit as st\nst.write('page')")
        bench._share_components(at)
        at.run()
        assert not at.exception


def test_the_installed_components_are_scanned_once_for_every_render(bench, scans):
    _render(bench, 3)
    assert len(scans) == 1


def test_rescan_components_scans_them_for_each_render_as_before(bench, scans, monkeypatch):
    monkeypatch.setattr(bench, "RESCAN", True)
    _render(bench, 3)
    assert len(scans) == 3
