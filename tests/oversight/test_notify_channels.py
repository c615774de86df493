"""Each channel against a real local receiver: e-mail through an SMTP server that requires
STARTTLS and a login, Slack, Teams, ntfy and the plain webhook through an HTTP server; hostile
words arrive inert in each medium, and every delivery is recorded, a failed one with its error."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

import storage
from agent_core.oversight.notify import sender as sender_module
from agent_core.oversight.notify.links import check_link
from agent_core.oversight.notify.notice import approval_notice, end_notice
from agent_core.oversight.notify.sender import Sender
from agent_core.oversight.notify_settings import NotifySettings
from tests.support.dashboard_seed import make_approval, make_run
from tests.support.notify_receivers import (
    SMTP_PASSWORD,
    SMTP_USER,
    HttpReceiver,
    free_port,
    smtp_server,
)

HOSTILE = (
    "write notes.md\r\nBcc: victim@example.org <!channel> <https://evil.example|click here> "
    "[approve](https://evil.example) *bold* www.evil.example"
)


@pytest.fixture
def receiver():
    made = HttpReceiver()
    yield made
    made.close()


@pytest.fixture
def quick_retries(monkeypatch):
    monkeypatch.setattr(sender_module, "BACKOFF_S", 0.01)


def _approval(store, summary: str = HOSTILE):
    run = make_run(store, status="waiting", goal="tidy the notes")
    return run, make_approval(store, run, tool="write_file", risk="high", summary=summary)


def _send(store, settings: NotifySettings, notice) -> Sender:
    sender = Sender(threads=2)
    assert sender.submit(store, settings, notice) == len(settings.configured())
    assert sender.idle(30)
    return sender


def _link_of(text: str) -> dict[str, str]:
    url = next(word for word in text.split() if word.startswith("http://dash.test/?"))
    return dict(parse_qsl(urlsplit(url).query))


def test_email_goes_through_starttls_and_login_with_one_line_headers(store, tmp_path, monkeypatch):
    with smtp_server(tmp_path) as (port, mailbox, cert):
        monkeypatch.setenv("ONLOOP_SMTP_CA_FILE", str(cert))
        monkeypatch.setenv("TEST_SMTP_PASSWORD", SMTP_PASSWORD)
        settings = NotifySettings.model_validate(
            {
                "dashboard_url": "http://dash.test",
                "email": {
                    "host": "127.0.0.1",
                    "port": port,
                    "username": SMTP_USER,
                    "password_env": "TEST_SMTP_PASSWORD",
                    "from": "onloop@example.org",
                    "to": ["ops@example.org"],
                },
            }
        )
        run, approval = _approval(store)
        notice = approval_notice(
            run_id=run.id, goal=run.goal, approval_id=approval.id, role="admin"
        )
        _send(store, settings, notice)
        [message] = mailbox.wait_for(1)
        _, _, seen = mailbox.messages[0]
    assert seen["tls"] and seen["login"] == SMTP_USER.encode()
    assert seen["to"] == ["ops@example.org"]  # no Bcc smuggled in through the subject
    assert message["Bcc"] is None  # the CR LF stayed text: long headers are only folded
    subject = " ".join(message["Subject"].split())
    assert "notes.md Bcc: victim[@]example.org" in subject
    body = message.get_payload(decode=True).decode()
    assert "Risk: high" in body and "admin role" in body and run.id in body
    assert "https[:]//evil.example" in body and "https://evil" not in body
    link = _link_of(body)
    assert check_link(storage.notify_key(store), link).item == f"approval-{approval.id}"
    [delivery] = storage.deliveries(store, run_id=run.id)
    assert (delivery.channel, delivery.ok, delivery.target) == ("email", True, "ops@example.org")


def test_email_with_a_wrong_password_is_recorded_as_failed(
    store, tmp_path, monkeypatch, quick_retries
):
    with smtp_server(tmp_path) as (port, mailbox, cert):
        monkeypatch.setenv("ONLOOP_SMTP_CA_FILE", str(cert))
        monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong")
        settings = NotifySettings.model_validate(
            {
                "email": {
                    "host": "127.0.0.1",
                    "port": port,
                    "username": SMTP_USER,
                    "password_env": "TEST_SMTP_PASSWORD",
                    "from": "onloop@example.org",
                    "to": ["ops@example.org"],
                }
            }
        )
        run, approval = _approval(store, "write a.txt")
        _send(
            store,
            settings,
            approval_notice(run_id=run.id, goal="g", approval_id=approval.id, role="approver"),
        )
        assert mailbox.messages == []
    [delivery] = storage.deliveries(store, run_id=run.id)
    assert not delivery.ok and delivery.attempts == 3 and "535" in (delivery.error or "")


def test_slack_teams_ntfy_and_webhook_each_get_their_own_inert_message(store, receiver):
    settings = NotifySettings.model_validate(
        {
            "dashboard_url": "http://dash.test",
            "slack": {"url": f"{receiver.url}/slack"},
            "teams": {"url": f"{receiver.url}/teams"},
            "ntfy": {"server": receiver.url, "topic": "onloop-approvals"},
            "webhook": {"url": f"{receiver.url}/hook"},
        }
    )
    run, approval = _approval(store)
    _send(
        store,
        settings,
        approval_notice(run_id=run.id, goal=run.goal, approval_id=approval.id, role="approver"),
    )
    by_path = {r.path: r for r in receiver.wait_for(4)}
    key = storage.notify_key(store)

    slack = by_path["/slack"].json()
    fields = slack["blocks"][1]["fields"]
    assert all(f["type"] == "plain_text" for f in fields)
    action = fields[0]["text"]
    assert "&lt;!channel&gt;" in action and "<!channel>" not in action
    assert "&lt;https[:]//evil.example|click here&gt;" in action
    button = slack["blocks"][2]["elements"][0]["url"]
    assert (
        check_link(key, dict(parse_qsl(urlsplit(button).query))).item == f"approval-{approval.id}"
    )

    card = by_path["/teams"].json()["attachments"][0]["content"]
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Action"].startswith("write notes.md")
    assert "\\[approve\\]\\(https\\[\\:\\]//evil.example\\)" in facts["Action"]
    assert facts["Risk"] == "high" and "approver role" in facts["Asks"]
    assert card["actions"][0]["type"] == "Action.OpenUrl"

    push = by_path["/onloop-approvals"]
    assert push.headers["Priority"] == "5" and push.headers["Click"].startswith(
        "http://dash.test/?"
    )
    assert (
        "\n" not in push.headers["Title"] and "Bcc: victim[@]example.org" in push.headers["Title"]
    )
    assert b"https://evil" not in push.body

    hook = by_path["/hook"].json()  # the old plain webhook's fields are all still there
    assert hook["run_id"] == run.id and hook["summary"] == HOSTILE and hook["goal"] == run.goal
    assert "<!channel>" not in hook["text"] and hook["link"].startswith("http://dash.test/?")
    links = {by_path["/hook"].json()["link"], button, push.headers["Click"]}
    assert len(links) == 3  # one single-use link per message

    channels = {d.channel: d for d in storage.deliveries(store, run_id=run.id)}
    assert set(channels) == {"slack", "teams", "ntfy", "webhook"}
    assert all(d.ok for d in channels.values())
    assert channels["slack"].target == receiver.url.removeprefix("http://")  # never the path


def test_a_dead_receiver_is_retried_then_recorded_with_its_error(store, quick_retries):
    settings = NotifySettings.model_validate(
        {"slack": {"url": f"http://127.0.0.1:{free_port()}/x"}}
    )
    run = make_run(store, status="halted")
    notice = end_notice(run_id=run.id, goal=run.goal, status="halted", reason="halted by ana")
    _send(store, settings, notice)
    [delivery] = storage.deliveries(store, run_id=run.id)
    assert delivery.event == "run_halted" and not delivery.ok and delivery.attempts == 3
    assert "could not reach the receiver" in (delivery.error or "")


def test_an_error_answer_is_recorded(store, receiver, quick_retries):
    receiver.status = 500
    settings = NotifySettings.model_validate({"webhook": {"url": receiver.url}})
    run = make_run(store, status="succeeded")
    _send(store, settings, end_notice(run_id=run.id, goal="g", status="succeeded", reason=None))
    [delivery] = storage.deliveries(store, run_id=run.id)
    assert not delivery.ok and "HTTP 500" in (delivery.error or "")


def test_events_not_chosen_and_pauses_a_person_asked_for_are_not_sent(store, receiver):
    settings = NotifySettings.model_validate(
        {"webhook": {"url": receiver.url}, "events": ["approval_requested"]}
    )
    sender = Sender(threads=1)
    ended = end_notice(run_id="r1", goal="g", status="succeeded", reason=None)
    assert ended is not None and sender.submit(store, settings, ended) == 0
    assert end_notice(run_id="r1", goal="g", status="paused", reason="paused by ana") is None
    drift = end_notice(run_id="r1", goal="g", status="paused", reason="the same call 4 times")
    assert drift is not None and drift.event == "run_paused"
