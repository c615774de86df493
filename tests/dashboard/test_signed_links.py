"""A notification's signed link in the dashboard: a good one opens the item's run with the
approval selected; expired, reused, changed links, a role that cannot decide and a person not
signed in see why, and nothing of the item."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

import storage
from agent_core.oversight.notify.links import signed_link
from dashboard.routes import RUN_PAGE
from tests.support import dashboard_fixtures as fx
from tests.support.signin_helpers import signed_in, write_signin_file

SECRET_GOAL = "rename the quarterly figures"


@pytest.fixture
def signed_in_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ONLOOP_AUTH", str(write_signin_file(tmp_path)))
    monkeypatch.delenv("ONLOOP_INSECURE_NO_AUTH", raising=False)
    yield from fx.open_store(tmp_path, monkeypatch)


@pytest.fixture
def local_store(tmp_path, monkeypatch):
    yield from fx.open_store(tmp_path, monkeypatch)


def _approval(store):
    run = fx.make_run(store, "waiting", goal=SECRET_GOAL)
    return run, fx.request_approval(store, run.id)


def _link(store, item: str, ttl_s: float = 600, now: float | None = None) -> dict[str, str]:
    url = signed_link(
        storage.notify_key(store), "http://dash.test", item=item, ttl_s=ttl_s, now=now
    )
    return dict(parse_qsl(urlsplit(url).query))


def _open(query: dict[str, str], user: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(fx.APP), default_timeout=fx.TIMEOUT)
    if user is not None:
        at.user = user
    at.query_params.update(query)
    at.run()
    assert not at.exception
    return at


def _shown(at: AppTest) -> str:
    return " ".join(e.value for e in at.error) + " ".join(m.value for m in at.markdown)


def _refused(at: AppTest, words: str) -> None:
    assert any(words in e.value for e in at.error), [e.value for e in at.error]
    assert SECRET_GOAL not in _shown(at)  # nothing of the item


def test_a_good_link_opens_the_run_with_the_approval_selected_once(local_store):
    run, approval = _approval(local_store)
    link = _link(local_store, f"approval-{approval.id}")
    at = _open(link)
    assert at.session_state["inbox_selected"] == approval.id
    assert at.query_params.get("run") in (run.id, [run.id])
    assert "sig" not in at.query_params
    again = _open(link)
    _refused(again, "already used")


def test_an_expired_link_opens_nothing(local_store):
    _, approval = _approval(local_store)
    _refused(
        _open(_link(local_store, f"approval-{approval.id}", ttl_s=60, now=time.time() - 120)),
        "expired",
    )


def test_a_changed_link_opens_nothing(local_store):
    _, approval = _approval(local_store)
    other = fx.request_approval(local_store, approval.run_id)
    link = _link(local_store, f"approval-{approval.id}")
    _refused(_open({**link, "item": f"approval-{other.id}"}), "not one onloop signed")
    _refused(_open({**link, "exp": str(int(link["exp"]) + 3600)}), "not one onloop signed")
    _refused(_open({"item": link["item"]}), "not one onloop signed")
    assert storage.use_link(local_store, nonce=link["nonce"], item=link["item"], by="t") is None


def test_a_viewer_is_told_which_role_decides_and_the_link_stays_usable(signed_in_store):
    run, approval = _approval(signed_in_store)
    link = _link(signed_in_store, f"approval-{approval.id}")
    _refused(_open(link, signed_in("viewer")), "needs the approver role")
    at = _open(link, signed_in("approver"))
    assert at.session_state["inbox_selected"] == approval.id


def test_a_person_not_signed_in_gets_the_sign_in_page_only(signed_in_store):
    _, approval = _approval(signed_in_store)
    link = _link(signed_in_store, f"approval-{approval.id}")
    at = _open(link, {"is_logged_in": False})
    assert "inbox_selected" not in at.session_state
    assert SECRET_GOAL not in _shown(at)
    assert storage.use_link(signed_in_store, nonce=link["nonce"], item=link["item"], by="t") is None


def test_the_run_page_lists_each_delivery_and_opens_on_a_failure(local_store):
    run = fx.make_run(local_store, "halted")
    for channel, ok, error in [("slack", True, None), ("email", False, "SMTP x:587: <b>535</b>")]:
        storage.record_delivery(
            local_store,
            storage.NotifyDelivery(
                run_id=run.id, event="run_halted", channel=channel, target="t", ok=ok, error=error
            ),
        )
    at = fx.app_at(RUN_PAGE, query={"run": run.id})
    [section] = [e for e in at.expander if e.label.startswith("Notifications")]
    assert section.label == "Notifications (2 sent, 1 failed)"
    table = section.dataframe[0].value
    assert list(table["channel"]) == ["email", "slack"]
    assert list(table["result"]) == ["failed: SMTP x:587: <b>535</b>", "delivered"]


def test_links_forged_another_way_open_nothing_and_use_nothing_up(local_store, tmp_path):
    """A hostile sender's variants: a link signed with another store's key (another onloop they
    run), the signature in capitals, an item of the other kind under the same signature, a
    control character in the item, and the approval's id padded with a zero."""
    _, approval = _approval(local_store)
    link = _link(local_store, f"approval-{approval.id}")
    elsewhere = storage.open_store(str(tmp_path / "theirs.db"))
    try:
        theirs = dict(
            parse_qsl(
                urlsplit(
                    signed_link(
                        storage.notify_key(elsewhere),
                        "http://dash.test",
                        item=f"approval-{approval.id}",
                        ttl_s=600,
                    )
                ).query
            )
        )
    finally:
        elsewhere.dispose()
    assert storage.notify_key(local_store) != storage.notify_key(elsewhere)
    for forged in (
        theirs,
        {**link, "sig": link["sig"].upper()},
        {**link, "item": f"run-{approval.id}"},
        {**link, "item": f"approval-{approval.id}\n"},
        {**link, "item": f"approval-0{approval.id}"},
    ):
        _refused(_open(forged), "not one onloop signed")
    # None of them spent the real link: it still opens, once.
    at = _open(link)
    assert at.session_state["inbox_selected"] == approval.id
