"""A workspace holding a file whose name is not UTF-8 (any program, or an earlier agent, can make
one): the run reads it like any other, and nothing on the way (the model's request, the stored
events) fails on the name's undecodable bytes; the name reaches the model with them escaped."""

from __future__ import annotations

import json
import os

import pytest

import storage
from agent_core.models.openai_model import OpenAIModel
from agent_core.oversight.policy import Policy, Rule
from tests.support.fake_openai import Reply
from tests.support.run_helpers import Driver, events_of, new_run
from tests.support.sandbox_helpers import need_sandbox

NAMES = [b"caf\xe9.txt", b"bad-\xff\xfe.txt", b"\xed\xa0\x80-surrogate.txt"]
CALLS = {
    "list_files": ("list_files", {"path": "."}),
    "ls": ("run_shell", {"command": "ls"}),
    "find": ("run_shell", {"command": "find . -type f"}),
}


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    for name in NAMES:
        with open(os.path.join(os.fsencode(root), name), "wb") as handle:
            handle.write(b"inside\n")
    return root


@pytest.mark.parametrize("tool", sorted(CALLS))
def test_a_name_that_is_not_utf8_never_crashes_the_run(store, fake_openai, folder, tool):
    name, arguments = CALLS[tool]
    if name == "run_shell":
        need_sandbox()
    fake_openai.script([Reply(tool_calls=[{"name": name, "arguments": arguments}]), "done"])
    policy = Policy(rules=[Rule(tool="*", action="allow")])
    run = new_run(
        store,
        "list the files",
        model="openai",
        autonomy="autonomous",
        workspace=str(folder),
        policy=policy,
    )
    model = OpenAIModel("fake-model", api_key="k", base_url=fake_openai.base_url, max_retries=0)
    Driver(store, run, model).start().join()  # type: ignore[arg-type]
    ended = storage.get_run(store, run_id=run.id)
    assert ended.status == "succeeded", (ended.status, ended.reason)
    result = events_of(store, run.id, "tool_result")[0].payload
    shown = json.dumps(result, ensure_ascii=False)
    assert "caf" in shown and "surrogate" in shown, shown
    # The model's next request carried the names: valid UTF-8 JSON, bytes shown as escapes.
    sent = json.dumps(fake_openai.requests[-1]["messages"], ensure_ascii=False)
    assert "caf" in sent and "bad-" in sent and "surrogate" in sent
    sent.encode()  # no lone surrogate: it is UTF-8 text
