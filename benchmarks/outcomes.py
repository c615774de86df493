"""How a run's outcome matches what happened: the outcome suite's figures.

    python benchmarks/outcomes.py [--only WORDS] [--cases]

Drives every case of tests/run/outcome_*.py (false claims of success modelled on failures
reported against agent projects, and real successes) through the real worker and loop with the
scripted model and real tools, the structural check alone deciding (no judge). Prints how many
false claims ended `unmet` with the case's reason, and how many real successes `succeeded`;
`--cases` lists each case with its status and reason, `--only` keeps the cases whose name holds
WORDS. Needs the shell sandbox (bubblewrap) for the cases that run commands."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable without installing

import storage  # noqa: E402
from agent_core.tools.sandbox import sandbox_status  # noqa: E402
from tests.run.outcome_claims import FALSE_CLAIMS  # noqa: E402
from tests.run.outcome_claims_unlisted import UNLISTED_CLAIMS  # noqa: E402
from tests.run.outcome_successes import REAL_SUCCESSES  # noqa: E402
from tests.run.outcome_successes_unlisted import UNLISTED_SUCCESSES  # noqa: E402
from tests.support.outcome_harness import Ended, drive_all  # noqa: E402


def figures(ended: Sequence[Ended]) -> list[str]:
    false = [e for e in ended if not e.case.claim_true]
    real = [e for e in ended if e.case.claim_true]
    caught = sum(e.right for e in false)
    unmet = sum(e.status == "unmet" for e in false)
    kept = sum(e.right for e in real)
    return [
        f"false claims ended unmet with the reason: {caught}/{len(false)}"
        + (f" ({unmet} unmet in all)" if unmet != caught else ""),
        f"real successes ended succeeded:           {kept}/{len(real)}",
    ]


def listing(ended: Sequence[Ended]) -> list[str]:
    lines = []
    for e in ended:
        mark = "ok " if e.right else "BAD"
        kind = "real " if e.case.claim_true else "false"
        lines.append(f"{mark} {kind} {e.case.name:<42} {e.status:<10} {e.reason[:160]}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="keep the cases whose name holds these words")
    parser.add_argument("--cases", action="store_true", help="list each case and its outcome")
    options = parser.parse_args(argv)
    if not sandbox_status().available:
        print(f"error: the shell sandbox is not available: {sandbox_status().reason}",
              file=sys.stderr)  # fmt: skip
        return 2
    every = FALSE_CLAIMS + UNLISTED_CLAIMS + REAL_SUCCESSES + UNLISTED_SUCCESSES
    cases = [c for c in every if options.only in c.name]
    if not cases:
        print(f"error: no case name holds {options.only!r}; --cases lists them", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="onloop-outcomes-") as scratch:
        store = storage.open_store(str(Path(scratch) / "onloop.db"))
        try:
            ended = drive_all(store, cases, Path(scratch))
        finally:
            store.dispose()
    print(f"outcome suite: {len(cases)} cases, structural check only (no judge)")
    if options.cases:
        print("\n".join(listing(ended)))
    print("\n".join(figures(ended)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
