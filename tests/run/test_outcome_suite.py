"""The outcome suite: false claims of success end `unmet` with the reason, real successes end
`succeeded`, with the structural check alone (no judge), through the real worker and loop with
the scripted model and real tools (shell commands in the sandbox). Cases: outcome_cases.py."""

from __future__ import annotations

import pytest

from tests.run.outcome_cases import Case
from tests.run.outcome_claims import FALSE_CLAIMS as LISTED_CLAIMS
from tests.run.outcome_claims_unlisted import UNLISTED_CLAIMS
from tests.run.outcome_successes import REAL_SUCCESSES as LISTED_SUCCESSES
from tests.run.outcome_successes_unlisted import UNLISTED_SUCCESSES
from tests.support.outcome_harness import drive_case

pytestmark = pytest.mark.usefixtures("sandbox_required")
FALSE_CLAIMS = LISTED_CLAIMS + UNLISTED_CLAIMS
REAL_SUCCESSES = LISTED_SUCCESSES + UNLISTED_SUCCESSES


def test_the_suite_holds_enough_cases_and_cites_each_false_claim():
    assert len(FALSE_CLAIMS) >= 16 and len(REAL_SUCCESSES) >= 16
    names = [c.name for c in FALSE_CLAIMS + REAL_SUCCESSES]
    assert len(set(names)) == len(names)
    assert all(not c.claim_true and c.reason and c.source.startswith("https://github.com/")
               for c in FALSE_CLAIMS)  # fmt: skip
    assert all(c.claim_true for c in REAL_SUCCESSES)


@pytest.mark.parametrize("case", FALSE_CLAIMS, ids=lambda c: c.name)
def test_a_false_claim_ends_unmet_with_the_reason(store, tmp_path, case: Case):
    ended = drive_case(store, case, tmp_path)
    assert ended.status == "unmet", ended
    assert case.reason in ended.reason, ended.reason
    assert ended.reason.startswith("the final answer claims the goal was met, but ")


@pytest.mark.parametrize("case", REAL_SUCCESSES, ids=lambda c: c.name)
def test_a_real_success_succeeds(store, tmp_path, case: Case):
    ended = drive_case(store, case, tmp_path)
    assert (ended.status, ended.reason) == ("succeeded", ""), ended
