"""Drives an outcome case (tests/run/outcome_cases.py) through the real worker and loop with the
scripted model, in a workspace seeded with the case's files, making the case's decisions on its
asks: what the run came to. The structural checks alone decide (no judge: final_check is off)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight.decisions import approve, reject
from agent_core.oversight.policy import MonitorSettings, Policy, Rule
from tests.run.outcome_cases import Case
from tests.support.run_helpers import Driver, new_run


@dataclass(frozen=True)
class Ended:
    case: Case
    status: str
    reason: str

    @property
    def right(self) -> bool:
        """The run ended as the case says: a real success succeeded; a false claim was unmet,
        with a reason that says why."""
        if self.case.claim_true:
            return self.status == "succeeded"
        return self.status == "unmet" and self.case.reason in self.reason


def policy_for(case: Case) -> Policy:
    rules = [Rule(tool="*", action="allow", reason="the outcome suite allows the rest")]
    rules += [Rule(**r, action="ask", reason="the case asks about it") for r in case.ask]
    rules += [Rule(**r, action="deny", reason="the case denies it") for r in case.deny]
    return Policy(rules=rules, monitors=MonitorSettings(final_check=False))


def seed(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def drive_case(store: storage.Store, case: Case, scratch: Path) -> Ended:
    source = seed(scratch / "seed", case.files)
    run = new_run(
        store,
        case.goal,
        model="scripted",
        autonomy="autonomous",
        policy=policy_for(case),
        seed_from=str(source),
    )
    driver = Driver(store, run, ScriptedModel(list(case.turns))).start()
    after = 0
    for decision in case.decisions:
        pending = driver.pending(after)
        after = pending.id or 0
        if decision[0] == "approve":
            approve(store, approval_id=pending.id, by="suite")
        elif decision[0] == "edit":
            approve(store, approval_id=pending.id, by="suite", edited_arguments=decision[1])
        else:
            reject(store, approval_id=pending.id, by="suite", note=decision[1] or None)
    outcome = driver.join()
    return Ended(case, outcome.status, outcome.reason or "")


def drive_all(store: storage.Store, cases: Iterable[Case], scratch: Path) -> list[Ended]:
    return [drive_case(store, c, scratch / f"case{n}") for n, c in enumerate(cases)]
