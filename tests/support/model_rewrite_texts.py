"""What a model wrote when it weakened a test, kept as data: the weakened-test detector's inputs.

These texts are rewrites a model proposes for a workspace's tests that weaken them (one turns a
test off, one leaves a test checking a constant); the oversight tests hand them to the detector
and assert it names each one. They live in `model_rewrites/` as plain files, not as literals in
test modules: no test source of ours is itself a weakened test.
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).with_name("model_rewrites")


def model_rewrite(name: str) -> str:
    """The text of `model_rewrites/<name>.txt`, exactly as stored."""
    return (FOLDER / f"{name}.txt").read_text(encoding="utf-8")
