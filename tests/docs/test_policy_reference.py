"""docs/policy.md documents every key the policy file accepts, in the table of its section."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent_core.models.settings import ModelLimits
from agent_core.oversight.notify_settings import (
    EmailChannel,
    NotifySettings,
    NtfyChannel,
    WebhookChannel,
)
from agent_core.oversight.policy import MonitorSettings, Policy, Rule, SandboxSettings
from agent_core.tools.mcp_config import McpServerSettings

PAGE = Path(__file__).resolve().parents[2] / "docs" / "policy.md"
NOT_IN_THE_FILE = {"source", "origin"}  # set by the loader; a file's own value is overridden


def section_keys(heading: str) -> set[str]:
    """The keys named in the first column of the tables under one `##` or `###` heading
    (`[notify.email]` names the key `email`)."""
    text = PAGE.read_text(encoding="utf-8")
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + 1)
    body = text[start : end if end != -1 else len(text)]
    return set(re.findall(r"^\| `\[*(?:notify\.)?([a-z_]+)\]*` \|", body, re.MULTILINE))


@pytest.mark.parametrize(
    ("heading", "model"),
    [
        ("## Top-level keys", Policy),
        ("## Rules", Rule),
        ("## `[monitors]`", MonitorSettings),
        ("## `[model]`", ModelLimits),
        ("## `[sandbox]`", SandboxSettings),
        ("## `[[mcp_servers]]`", McpServerSettings),
    ],
)
def test_every_key_is_documented(heading, model):
    accepted = set(model.model_fields) - NOT_IN_THE_FILE
    assert accepted - section_keys(heading) == set(), f"undocumented under {heading}"
    assert section_keys(heading) - accepted == set(), f"documented but not accepted: {heading}"


def test_the_defaults_documented_for_numbers_are_the_code_s():
    for heading, model in [
        ("## `[monitors]`", MonitorSettings),
        ("## `[sandbox]`", SandboxSettings),
    ]:
        text = PAGE.read_text(encoding="utf-8")
        body = text[text.index(heading) :]
        for name, field in model.model_fields.items():
            if isinstance(field.default, int | float) and not isinstance(field.default, bool):
                row = re.search(rf"^\| `{name}` \|[^|]*\| ([^|]+) \|", body, re.MULTILINE)
                assert row is not None, name
                assert row.group(1).split()[0] == f"{field.default:g}", name


def test_every_notify_key_is_documented():
    """The `[notify]` section and its channel tables name every key of the table and its
    channels (as the file spells them: `from`), and no other."""
    models = (NotifySettings, EmailChannel, NtfyChannel, WebhookChannel)
    accepted = {field.alias or name for m in models for name, field in m.model_fields.items()}
    assert section_keys("## `[notify]`") == accepted
