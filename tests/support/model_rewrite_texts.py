"""What a model wrote when it weakened a test, kept as data: the weakened-test detector's inputs.

These texts (a test file with a skip marker, a test reduced to `assert True`) are rewrites a
model proposes for a workspace's tests; the oversight tests hand them to the detector and assert
it names them. They live in `model_rewrites/` as plain files, not as literals in test modules, so
no test source of ours carries a skip marker or an assertion that checks nothing.
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).with_name("model_rewrites")


def model_rewrite(name: str) -> str:
    """The text of `model_rewrites/<name>.txt`, exactly as stored."""
    return (FOLDER / f"{name}.txt").read_text(encoding="utf-8")
