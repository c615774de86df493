"""Every run a process drives shares one view of the project rules: read once for all of them,
and read again (for all) as soon as a rule is added, so the next call of every run sees it."""

from __future__ import annotations

import storage
from agent_core.oversight.policy import Policy
from agent_core.oversight.project_rules import add_rule
from agent_core.run.port import StoreRunPort, project_rules_for
from tests.support.run_helpers import new_run

DOCS = {"tool": "read_file", "paths": ["/docs/"], "action": "allow", "up_to": "read"}


def _counting_reads(monkeypatch) -> list[int]:
    reads: list[int] = []
    real = storage.active_project_rules

    def counted(store):
        reads.append(1)
        return real(store)

    monkeypatch.setattr(storage, "active_project_rules", counted)
    return reads


def test_the_rules_are_read_once_for_all_runs_and_again_when_one_is_added(store, monkeypatch):
    reads = _counting_reads(monkeypatch)
    ports = [StoreRunPort(store, new_run(store, f"goal {n}").id) for n in range(5)]
    for port in ports:
        assert port.with_project_rules(Policy()).rules == []
    assert len(reads) == 1  # one read for the five runs
    add_rule(store, DOCS, by="ann")
    for port in ports:  # every run's next call has the new rule
        assert [r.tool for r in port.with_project_rules(Policy()).rules] == ["read_file"]
    assert len(reads) == 2


def test_one_view_per_store(store, tmp_path):
    other = storage.open_store(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        assert project_rules_for(store) is project_rules_for(store)
        assert project_rules_for(other) is not project_rules_for(store)
        add_rule(store, DOCS, by="ann")
        assert len(project_rules_for(store).current()) == 1
        assert project_rules_for(other).current() == []
    finally:
        other.dispose()
