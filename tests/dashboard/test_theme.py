"""The dashboard's theme (dashboard/theme.toml) reaches Streamlit from any folder `onloop up`
starts in: as command-line flags naming real Streamlit options."""

from __future__ import annotations

import tomllib
from pathlib import Path

from streamlit import config

from agent_core.cli.serve import THEME_FILE, _theme_flags


def test_the_theme_file_becomes_flags_streamlit_knows():
    theme = tomllib.loads(THEME_FILE.read_text())["theme"]
    flags = _theme_flags()
    pairs = dict(zip(flags[::2], flags[1::2], strict=True))
    assert pairs == {f"--theme.{key}": str(value) for key, value in theme.items()}
    config.get_config_options()  # loads the option table
    known = set(config._config_options or {})
    assert {flag.removeprefix("--") for flag in pairs} <= known
    assert pairs["--theme.textColor"] == "#0a0a0a"  # the contrast fix (see the file's comment)


def test_without_the_theme_file_streamlit_keeps_its_own(monkeypatch, tmp_path):
    monkeypatch.setattr("agent_core.cli.serve.THEME_FILE", tmp_path / "absent.toml")
    assert _theme_flags() == []


def test_the_theme_ships_with_the_package_not_only_the_clone():
    """`pip install .` (the README's install) must carry the file: a clone-only theme left
    installed dashboards with Streamlit's own, failing contrast."""
    import dashboard

    assert THEME_FILE.parent == Path(dashboard.__file__).resolve().parent
    package_data = tomllib.loads((THEME_FILE.parents[1] / "pyproject.toml").read_text())
    assert THEME_FILE.name in package_data["tool"]["setuptools"]["package-data"]["dashboard"]
