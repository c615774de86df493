"""Secrets on the surfaces added lately (invariant 7): the live preview of a streaming turn, the
notifications a run sends, the delivery records of a channel, an MCP server's credential named
by `env:NAME`, and the worker's log lines of a run. Each attack drives the worker's real paths
(the OpenAI SDK against the local fake server, a real MCP server, a real webhook receiver)."""

from __future__ import annotations

import io
import json
import logging

import pytest

import storage
from agent_core.models.scripted import ScriptedModel
from agent_core.oversight.notify import sender as sender_module
from agent_core.oversight.notify.notice import approval_notice, end_notice
from agent_core.oversight.notify.sender import SENDER, Sender
from agent_core.oversight.notify_settings import NotifySettings
from agent_core.oversight.policy import Policy, SandboxSettings
from agent_core.oversight.policy_file import PolicyError, load_policy, parse_policy
from agent_core.oversight.redact import redactor_for
from agent_core.oversight.stored_policy import stored_policy
from agent_core.run import port as port_module
from agent_core.telemetry import logs
from agent_core.tools.mcp_client import close_shared_pool
from tests.support.dashboard_seed import make_run
from tests.support.fake_openai import Reply
from tests.support.mcp_helpers import node_server
from tests.support.notify_receivers import HttpReceiver
from tests.support.run_helpers import Driver, events_of, new_run, wait_for

API_KEY = "sk-canary0api0key0that0must0never0leave0000"
PASSPHRASE = "canary-passphrase-of-the-billing-service-77"  # named by the policy's secret_env
HOOK_PASSWORD = "hook-password-9f3c2a71"
PAT = "pat-canary-d41d8cd98f00b204e980"  # no KEY/TOKEN in its variable's name: SERVICE_PAT


@pytest.fixture
def openai_here(fake_openai, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    return fake_openai


@pytest.fixture
def receiver():
    made = HttpReceiver()
    yield made
    made.close()


# -- the live preview of a streaming turn ------------------------------------------------------


def _streamed(store, fake, text: str, hold: int, policy: Policy | None = None) -> str:
    """The run's live output while the stream is held after its `hold`-th text piece (the fake
    sends text in 4-character pieces, so a secret arrives split over several chunks)."""
    fake.script([Reply(text=text, hold_at=(hold + 1,)), "done"])
    run = new_run(store, "say it", model="openai", autonomy="autonomous", policy=policy)
    seen: list[str] = []
    real = port_module.StoreRunPort.partial

    def partial(self, step: int, so_far: str) -> None:
        real(self, step, so_far)
        seen.append(so_far)  # after its write: the store has it

    port_module.StoreRunPort.partial = partial  # type: ignore[method-assign]
    try:
        driver = Driver(store, run).start()
        wait_for(lambda: seen and seen[-1] == text[: hold * 4], what="the held preview")
        shown = storage.live_output(store, run_id=run.id)
        fake.proceed()
        assert driver.join().status == "succeeded"
    finally:
        port_module.StoreRunPort.partial = real  # type: ignore[method-assign]
    return shown.text if shown else ""


@pytest.mark.parametrize(
    "before, secret_of",
    [
        ("Key: ", lambda: API_KEY),  # the worker's API key, split over chunks
        ("Words: ", lambda: PASSPHRASE),  # a configured secret
        ("b64: ", lambda: __import__("base64").b64encode(API_KEY.encode()).decode()),
    ],
)
def test_a_streamed_secret_never_reaches_the_live_output(
    store, openai_here, monkeypatch, before, secret_of
):
    monkeypatch.setattr(port_module, "PARTIAL_EVERY_S", 0.0)
    monkeypatch.setenv("BILLING_WORDS", PASSPHRASE)
    secret = secret_of()
    text = f"{before}{secret} and then some more words."
    policy = Policy(sandbox=SandboxSettings(secret_env=["BILLING_WORDS"]))
    pieces = (len(before) + len(secret)) // 4 + 2  # the whole secret streamed, and a little after
    shown = _streamed(store, openai_here, text, pieces, policy)
    assert shown.startswith(before) and "[redacted" in shown
    assert secret not in shown


def test_half_a_streamed_secret_is_held_back_not_shown(store, openai_here, monkeypatch):
    """Mid-secret, the preview ends where the secret begins: its first half is no less secret."""
    monkeypatch.setattr(port_module, "PARTIAL_EVERY_S", 0.0)
    text = f"Key: {API_KEY} and then some more words."
    shown = _streamed(store, openai_here, text, 6, None)  # 24 characters: 19 of the key
    assert API_KEY[:8] not in shown
    assert shown.startswith("Key:")


# -- notifications -----------------------------------------------------------------------------


def test_a_goal_holding_a_secret_reaches_no_notification(store, receiver, monkeypatch):
    """The goal is a person's words, and a person pastes keys: the trace and the run_started
    event have it redacted, the webhook sent out of the building must too."""
    monkeypatch.setenv("BILLING_WORDS", PASSPHRASE)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    policy = Policy(
        sandbox=SandboxSettings(secret_env=["BILLING_WORDS"]),
        notify=NotifySettings.model_validate({"webhook": {"url": f"{receiver.url}/hook"}}),
    )
    goal = f"Rotate {PASSPHRASE} and check {API_KEY} still works"
    run = new_run(store, goal, model="scripted", autonomy="autonomous", policy=policy)
    assert Driver(store, run, ScriptedModel(["rotated"] * 3)).start().join().status == "succeeded"
    assert SENDER.idle(30)
    [hook] = receiver.wait_for(1)
    assert "[redacted BILLING_WORDS]" in hook.json()["goal"]
    for secret in (PASSPHRASE, API_KEY):
        assert secret.encode() not in hook.body


@pytest.mark.parametrize(
    "table, url",
    [
        ("notify.webhook", f"https://hooks:{HOOK_PASSWORD}@hooks.example/in"),
        ("notify.slack", f"https://{HOOK_PASSWORD}@hooks.example/in"),  # a token as the user
        ("notify", f"http://admin:{HOOK_PASSWORD}@dash.example"),  # dashboard_url: in every link
        ("notify.teams", f"ftp://u:{HOOK_PASSWORD}@host/x"),  # refused for its scheme: quoted
    ],
)
def test_a_notify_url_with_a_password_is_refused_without_quoting_it(table, url):
    key = "dashboard_url" if table == "notify" else "url"
    with pytest.raises(PolicyError) as refused:
        parse_policy(f'[{table}]\n{key} = "{url}"\n', source="onloop.toml")
    assert HOOK_PASSWORD not in str(refused.value)
    assert "user name or password" in str(refused.value) or "http(s)" in str(refused.value)


@pytest.mark.parametrize("port", [True, False])
@pytest.mark.parametrize("where", ["webhook_url", "notify"])
def test_a_webhook_password_reaches_no_delivery_record_or_log_line(
    store, receiver, monkeypatch, caplog, port, where
):
    """An older policy's top-level webhook_url, or a run's policy stored before the file check,
    still loads: its password must not be the record's target (shown on the Run page), nor its
    error, nor the log line."""
    monkeypatch.setattr(sender_module, "BACKOFF_S", 0.01)
    host = receiver.url.split("//")[1] if port else "127.0.0.1"
    url = f"http://hooks:{HOOK_PASSWORD}@{host}/hook"
    stored = (
        {"webhook_url": url} if where == "webhook_url" else {"notify": {"webhook": {"url": url}}}
    )
    settings = stored_policy(stored).notifications()
    run = make_run(store, status="succeeded", goal="tidy")
    notice = end_notice(run_id=run.id, goal=run.goal, status="succeeded", reason=None)
    sender = Sender(threads=1)
    with caplog.at_level(logging.WARNING, logger="onloop.notify"):
        assert sender.submit(store, settings, notice) == 1
        assert sender.idle(30)
    [delivery] = storage.deliveries(store, run_id=run.id)
    shown = json.dumps(delivery.model_dump(mode="json")) + caplog.text
    assert HOOK_PASSWORD not in shown
    assert "127.0.0.1" in delivery.target


# -- an MCP server's credential, named by env:NAME ----------------------------------------------


@pytest.fixture
def mcp_servers_stop():
    yield
    close_shared_pool()


@pytest.mark.parametrize("given", ["env:SERVICE_PAT", PAT])
def test_an_mcp_servers_credential_it_echoes_is_redacted(
    mcp_servers_stop, store, openai_here, monkeypatch, given
):
    """The policy hands SERVICE_PAT (or a value written in the file) to the server as its
    credential: that makes it a secret, whatever its name; a server that prints it (an error, a
    debug tool) has it redacted."""
    monkeypatch.setenv("SERVICE_PAT", PAT)
    env = {"SERVICE_TOKEN": given, "NODE_ENV": "production-like"}  # a setting, not a secret
    server = node_server("server-everything", "ev", "stdio", env=env)
    openai_here.script(
        [{"tool_calls": [{"name": "mcp__ev__get-env", "arguments": {}}]}, "it has a PAT"]
    )
    # Unconfined: the sandbox is not what is tested here (and binds no node_modules link).
    policy = Policy(mcp_servers=[server.model_copy(update={"trusted": True, "sandbox": False})])
    run = new_run(store, "look at the env", model="openai", autonomy="autonomous", policy=policy)
    assert Driver(store, run).start().join(60).status == "succeeded"
    [result] = events_of(store, run.id, "tool_result")
    assert result.payload["ok"] and "[redacted " in result.payload["output"]
    assert "production-like" in result.payload["output"]
    stored = json.dumps([e.payload for e in storage.events_after(store, run_id=run.id)])
    assert PAT not in stored
    assert PAT not in json.dumps(openai_here.requests)  # the model never saw it either


# -- the worker's log lines of a run -----------------------------------------------------------


class _LeakyModel(ScriptedModel):
    """A provider's bug whose message quotes what it was sent (an SDK echoing a request)."""

    def complete(self, messages, tools, **kwargs):
        raise RuntimeError(f"could not encode {json.dumps(messages)[:4000]}")


@pytest.fixture
def log_buffer():
    root = logging.getLogger()
    before = (list(root.handlers), root.level, logging.getLogger("onloop").level)
    buffer = io.StringIO()
    yield buffer
    root.handlers[:] = before[0]
    root.setLevel(before[1])
    logging.getLogger("onloop").setLevel(before[2])


@pytest.mark.parametrize("log_format", ["human", "json"])
def test_a_runs_own_secrets_reach_no_log_line(store, tmp_path, monkeypatch, log_buffer, log_format):
    """The worker's log lines were redacted of the secrets the worker's own policy names; a run
    under another policy (its secret_env) or with a workspace .env had a crash's traceback
    printed with them."""
    monkeypatch.setenv("BILLING_WORDS", PASSPHRASE)
    logs.configure(log_format, stream=log_buffer)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    env_value = "dotenv-canary-6c1f0e9a2b"
    (workspace / ".env").write_text(f"DB_PASSWORD={env_value}\n")
    shipped = load_policy()  # its secrets rule names .env
    policy = shipped.model_copy(update={"sandbox": SandboxSettings(secret_env=["BILLING_WORDS"])})
    goal = f"use {PASSPHRASE} and {env_value}"
    run = new_run(store, goal, model="scripted", policy=policy, workspace=str(workspace))
    assert Driver(store, run, _LeakyModel([])).start().join().status == "failed"
    printed = log_buffer.getvalue()
    assert "crashed" in printed
    for secret in (PASSPHRASE, env_value):
        assert secret not in printed


# -- the model server's address on the screen --------------------------------------------------

URL_PASSWORD = "model-proxy-password-5e1b"
URL_TOKEN = "model-proxy-query-token-88d2"


def _model_url(fake, spelling: str) -> str:
    """The fake's base URL with a credential in it, as a proxy in front of a model takes one."""
    host = fake.base_url.split("//", 1)[1]
    if spelling == "userinfo":
        return f"http://proxy:{URL_PASSWORD}@{host}"
    return f"{fake.base_url}?api-key={URL_TOKEN}"


@pytest.mark.parametrize("spelling", ["userinfo", "query"])
def test_the_model_servers_credential_is_not_printed_by_onloop_run(
    tmp_path, fake_openai, monkeypatch, spelling
):
    """`onloop run` says which model it uses and where: the address, not its credential."""
    from typer.testing import CliRunner

    from agent_core.cli.app import app

    monkeypatch.setenv("OPENAI_BASE_URL", _model_url(fake_openai, spelling))
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    fake_openai.script(["done"])
    url = f"sqlite:///{tmp_path / 'onloop.db'}"
    result = CliRunner().invoke(
        app, ["run", "say done", "--model", "openai", "--autonomy", "autonomous", "--db", url]
    )
    assert "openai model" in result.output and "127.0.0.1" in result.output, result.output
    store = storage.open_store(url)
    [run] = storage.list_runs(store)
    recorded = json.dumps(
        [
            run.model_dump(mode="json"),
            *(e.payload for e in storage.events_after(store, run_id=run.id)),
        ]
    )
    store.dispose()
    for secret in (URL_PASSWORD, URL_TOKEN, API_KEY):
        assert secret not in result.output and secret not in recorded
    if spelling == "userinfo":  # the SDK cannot send both: said in one line, not a crash
        assert run.status == "failed" and "user name or password" in (run.reason or "")


@pytest.mark.store_for("dashboard")
@pytest.mark.parametrize("spelling", ["userinfo", "query"])
def test_the_model_servers_credential_is_not_on_the_dashboard(
    store, fake_openai, monkeypatch, spelling
):
    """The sidebar's "Active model", which every signed-in person sees."""
    from tests.support.dashboard_fixtures import app_at

    monkeypatch.setenv("OPENAI_BASE_URL", _model_url(fake_openai, spelling))
    at = app_at()
    assert not at.exception
    shown = " ".join(t.value for t in at.sidebar.text)
    assert "127.0.0.1" in shown
    assert URL_PASSWORD not in shown and URL_TOKEN not in shown


@pytest.mark.parametrize("param", ["api-key", "access_token", "sig", "X-Auth"])
def test_a_credential_in_an_environment_urls_query_is_a_secret(monkeypatch, param):
    """An SDK's error may quote the request's whole URL: the query's credential is redacted."""
    monkeypatch.setenv("OPENAI_BASE_URL", f"https://proxy.example/v1?{param}={URL_TOKEN}&v=2")
    shown = redactor_for()(f"GET https://proxy.example/v1/models?{param}={URL_TOKEN}&v=2 failed")
    assert URL_TOKEN not in shown and "[redacted OPENAI_BASE_URL" in shown
    assert (
        redactor_for()("https://proxy.example/v1?v=2024-06-01")
        == "https://proxy.example/v1?v=2024-06-01"
    )


# -- inert text: a header's encoded words --------------------------------------------------------

HIDDEN = "\u202eexe.txt\x1b[2J\u200b"  # a bidi override, an escape, a zero-width space


def _encoded_words(text: str) -> list[str]:
    """RFC 2047 spellings of `text` a model can write in plain ASCII, which mail readers and
    ntfy decode in a header (a Subject, a Title) into the characters themselves."""
    import base64
    import quopri

    b64 = base64.b64encode(text.encode()).decode()
    q = quopri.encodestring(text.encode(), header=True).decode()
    return [f"=?utf-8?b?{b64}?=", f"=?UTF-8?Q?{q}?=", f"=?iso-8859-1?B?{b64}?="]


def _decoded(header: str) -> str:
    from email.header import decode_header, make_header

    return str(make_header(decode_header(header)))


@pytest.mark.parametrize("spelling", range(3))
def test_an_encoded_word_in_a_models_words_draws_nothing_in_a_header(
    store, tmp_path, monkeypatch, receiver, spelling
):
    """The approval's summary (the model's words) reaches the e-mail Subject and the ntfy Title;
    once the reader decodes the header, no control or bidi character may be there."""
    from email import message_from_bytes, policy

    from tests.oversight.test_notify_channels import _approval, _send
    from tests.support.notify_receivers import SMTP_PASSWORD, SMTP_USER, smtp_server

    action = f"write notes.md {_encoded_words(HIDDEN)[spelling]}"
    run, approval = _approval(store, action)
    with smtp_server(tmp_path) as (port, mailbox, cert):
        monkeypatch.setenv("ONLOOP_SMTP_CA_FILE", str(cert))
        monkeypatch.setenv("TEST_SMTP_PASSWORD", SMTP_PASSWORD)
        email = {"host": "127.0.0.1", "port": port, "from": "a@b.org", "to": ["c@d.org"]}
        email |= {"username": SMTP_USER, "password_env": "TEST_SMTP_PASSWORD"}
        settings = NotifySettings.model_validate(
            {
                "email": email,
                "ntfy": {"server": receiver.url, "topic": "onloop"},
            }
        )
        notice = approval_notice(
            run_id=run.id, goal=run.goal, approval_id=approval.id, role="admin"
        )
        _send(store, settings, notice)
        [message] = mailbox.wait_for(1)
    read = message_from_bytes(message.as_bytes(), policy=policy.default)
    [push] = receiver.wait_for(1)
    for header in (str(read["Subject"]), _decoded(push.headers["Title"])):
        assert "notes.md" in header
        assert not any(c in header for c in "\u202e\x1b\u200b"), header


# -- the run's recorded policy in exports and --json ---------------------------------------------

SLACK_PATH = "T0CANARY/B0CANARY/xoxcanarywebhookpath77"
MCP_BEARER = "canary-mcp-bearer-literal-31c4"


def _run_with_channels(store):
    policy = Policy.model_validate(
        {
            "notify": {"slack": {"url": f"https://hooks.slack.com/services/{SLACK_PATH}"}},
            "mcp_servers": [
                {
                    "name": "web",
                    "url": "https://mcp.example/mcp",
                    "headers": {"Authorization": f"Bearer {MCP_BEARER}", "X-Team": "env:TEAM_ID"},
                }
            ],
        }
    )
    return new_run(store, "tidy", policy=policy)


def test_a_runs_recorded_channels_and_credentials_reach_no_export(store):
    """The run keeps its policy; `onloop show --json`, `onloop runs --json` and the History
    export printed it whole: a Slack webhook's path (its secret, which the delivery records
    never show) and an MCP server's credential written in the file."""
    from typer.testing import CliRunner

    from agent_core.cli.app import app
    from dashboard.components.run_export import export_jsonl

    run = _run_with_channels(store)
    printed = [export_jsonl(store, filters={}).decode()]
    for command in (["show", run.id, "--json"], ["runs", "--json"]):
        result = CliRunner().invoke(app, [*command, "--db", store.url])
        assert result.exit_code == 0, result.output
        printed.append(result.output)
    for text in printed:
        assert "hooks.slack.com" in text and "mcp.example" in text and "env:TEAM_ID" in text
        assert SLACK_PATH not in text and MCP_BEARER not in text


# -- a secret HTML-escaped by name ---------------------------------------------------------------

QUOTED = 'db"pass<word>&x-9f3c2a71'  # a password with the characters HTML escapes by name


@pytest.mark.parametrize(
    "escaped",
    [
        QUOTED.replace("&", "&amp;")
        .replace('"', "&quot;")
        .replace("<", "&lt;")
        .replace(">", "&gt;"),
        QUOTED.replace('"', "&#34;").replace("<", "&LT;").replace("&x", "&amp;x"),
        QUOTED.replace("&", "&AMP;").replace('"', "&QUOT;").replace(">", "&GT;"),
    ],
)
def test_a_secret_escaped_by_html_entity_names_is_redacted(monkeypatch, escaped):
    """A page or a template that prints a configured secret HTML-escaped (`&quot;`, `&lt;`,
    `&amp;`): numeric entities were decoded before, named ones were not."""
    monkeypatch.setenv("DB_PASSWORD", QUOTED)
    shown = redactor_for()(f'<input value="{escaped}">')
    assert "[redacted DB_PASSWORD" in shown and "9f3c2a71" not in shown
