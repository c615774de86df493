"""The redactor: which values count as secrets, and that every string of a payload is covered."""

from __future__ import annotations

from agent_core.oversight.redact import Redactor, redactor_for, secret_values


def test_secret_named_variables_and_database_passwords_are_found():
    env = {
        "OPENAI_API_KEY": "sk-abcdefghijklmnop",
        "GITHUB_TOKEN": "ghp_0123456789abcdef",
        "DB_PASSWORD": "hunter2hunter2",
        "ONLOOP_DATABASE_URL": "postgresql://onloop:s3cretpw@db/onloop",
        "HOME": "/home/someone",
        "SSH_AUTH_SOCK": "/tmp/ssh-XYZ/agent.1",  # a path, not a secret
        "ONLOOP_AUTH": "disabled",  # a plain word would redact ordinary text
        "SHORT_KEY": "abc",
    }
    found = secret_values(env)
    assert found["OPENAI_API_KEY"] == "sk-abcdefghijklmnop"
    assert found["ONLOOP_DATABASE_URL password"] == "s3cretpw"
    assert {"GITHUB_TOKEN", "DB_PASSWORD", "ONLOOP_DATABASE_URL"} <= set(found)
    assert not {"HOME", "SSH_AUTH_SOCK", "ONLOOP_AUTH", "SHORT_KEY"} & set(found)


def test_configured_names_count_whatever_their_value():
    assert secret_values({"MY_VALUE": "abc"}, ["my_value"]) == {"MY_VALUE": "abc"}


def test_values_patterns_and_known_shapes_are_replaced():
    redact = Redactor({"OPENAI_API_KEY": "sk-live-1234567890"}, ["corp-[0-9]{6}"])
    text = redact("key sk-live-1234567890 id corp-123456 gh ghp_" + "a" * 36 + " ok")
    assert text == "key [redacted OPENAI_API_KEY] id [redacted] gh [redacted] ok"
    block = "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----"
    assert redact(f"x {block} y") == "x [redacted] y"
    assert redact("AKIAABCDEFGHIJKLMNOP") == "[redacted]"


def test_a_payload_is_redacted_everywhere_keys_and_lists_included():
    redact = Redactor({"T": "tok-0123456789"})
    payload = {"a": ["tok-0123456789", {"tok-0123456789": 1}], "n": 3, "b": None}
    assert redact.payload(payload) == {
        "a": ["[redacted T]", {"[redacted T]": 1}],
        "n": 3,
        "b": None,
    }


def test_the_worker_environment_is_read(monkeypatch):
    monkeypatch.setenv("SOME_SERVICE_TOKEN", "tok-abcdefabcdef")
    assert redactor_for()("x tok-abcdefabcdef") == "x [redacted SOME_SERVICE_TOKEN]"
