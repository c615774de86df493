"""The inbox as a list to decide from: its order, the selection and its keys, Not now."""

from __future__ import annotations

import getpass
from datetime import timedelta

import pytest
from streamlit.testing.v1 import AppTest

import storage
from tests.support import dashboard_seed as seed

pytestmark = pytest.mark.store_for("page")  # a page run on its own by AppTest reads this store


def inbox() -> AppTest:
    at = AppTest.from_file(str(seed.PAGES / "approvals.py"), default_timeout=30)
    at.run()
    assert not at.exception
    return at


def card_key(approval: storage.Approval, name: str) -> str:
    return f"inbox-approval-{approval.id}-{name}"


def shown_card(at: AppTest) -> int:
    """The id of the approval whose card (its Approve button) is drawn."""
    (approve,) = [
        b for b in at.button if b.key and b.key.endswith("-approve") and "-approval-" in b.key
    ]
    return int(approve.key.split("-approval-")[1].split("-")[0])


def listed(at: AppTest) -> list[int]:
    """The ids in the list, in its order (each has its tick box under Decide several at once)."""
    return [int(c.key.rsplit("-", 1)[1]) for c in at.checkbox]


def three_waiting(store) -> tuple[storage.Approval, storage.Approval, storage.Approval]:
    """A medium-risk approval asked first, then two high-risk ones: high, high, medium."""
    run = seed.make_run(store, status="waiting", goal="Clean up temporary files")
    now = storage.utcnow()
    medium = seed.make_approval(
        store, run, risk="medium", summary="write report.md", requested_at=now - timedelta(hours=1)
    )
    old_high = seed.make_approval(store, run, requested_at=now - timedelta(minutes=10))
    new_high = seed.make_approval(
        store, run, summary="run `git push`", requested_at=now - timedelta(minutes=1)
    )
    return old_high, new_high, medium


def test_the_list_is_riskiest_first_then_oldest_with_one_line_each(store):
    old_high, new_high, medium = three_waiting(store)
    at = inbox()
    (listing,) = at.radio
    assert listing.label == "Waiting for you: riskiest first, then oldest"
    assert listing.options[0].startswith(":red-badge[high risk] **delete 3 files")
    assert (
        "delete\\_files" in listing.options[0] and "Clean up temporary files" in listing.options[0]
    )
    assert listing.options[2].startswith(":orange-badge[medium risk] **write report.md**")
    assert listed(at) == [old_high.id, new_high.id, medium.id]
    assert listing.value == old_high.id  # the first is selected, and its card is the one shown
    assert shown_card(at) == old_high.id
    assert [b.key for b in at.button if b.key == card_key(new_high, "approve")] == []
    assert any("3 waiting" in c.value for c in at.caption)


def test_next_and_previous_move_the_selection_and_the_card(store):
    old_high, new_high, medium = three_waiting(store)
    at = inbox()
    at.button(key="inbox-next").click().run()
    assert (at.radio[0].value, shown_card(at)) == (new_high.id, new_high.id)
    at.button(key="inbox-next").click().run()
    at.button(key="inbox-next").click().run()  # the end of the list: stays on the last
    assert shown_card(at) == medium.id
    at.button(key="inbox-previous").click().run()
    assert shown_card(at) == new_high.id
    at.radio[0].set_value(medium.id).run()  # a click (or an arrow key) in the list
    assert shown_card(at) == medium.id


def test_every_control_has_its_one_key_and_the_keys_are_named_on_screen(store):
    approval, _, _ = three_waiting(store)
    at = inbox()
    keys = {
        name: at.button(key=card_key(approval, name)).proto.shortcut
        for name in ("approve", "reject", "edit", "snooze", "open")
    }
    assert keys == {"approve": "a", "reject": "x", "edit": "e", "snooze": "n", "open": "o"}
    assert at.button(key="inbox-next").proto.shortcut == "j"
    assert at.button(key="inbox-previous").proto.shortcut == "k"
    legend = " ".join(c.value for c in at.caption)
    for named in ("**J** / **K**", "**A** approve", "**X** reject", "**E** edit", "**N** not now"):
        assert named in legend
    labels = [c.label for c in at.checkbox]
    assert labels and not any("approval" in label.lower() for label in labels)  # no ids
    assert labels[0].startswith("Tick: delete 3 files")


def test_after_a_decision_the_next_one_is_selected(store):
    old_high, new_high, medium = three_waiting(store)
    at = inbox()
    at.button(key=card_key(old_high, "approve")).click().run()  # the A key
    assert storage.get_approval(store, approval_id=old_high.id).status == "approved"
    assert shown_card(at) == new_high.id
    at.button(key="inbox-next").click().run()
    at.button(key=card_key(medium, "approve")).click().run()  # the last: the one before it
    assert shown_card(at) == new_high.id


def test_reject_key_then_enter_rejects_with_the_note(store):
    approval, following, _ = three_waiting(store)
    at = inbox()
    at.button(key=card_key(approval, "reject")).click().run()
    assert at.get("html")  # the script that puts the cursor in the note field
    at.text_input(key=card_key(approval, "reject-note")).input("not on Fridays")
    at.button(key=card_key(approval, "reject-submit")).click().run()
    row = storage.get_approval(store, approval_id=approval.id)
    assert (row.status, row.note) == ("rejected", "not on Fridays")
    assert shown_card(at) == following.id


def test_edit_key_opens_the_arguments(store):
    approval, _, _ = three_waiting(store)
    at = inbox()
    assert not at.session_state[card_key(approval, "edit-expander")]
    at.button(key=card_key(approval, "edit")).click().run()
    assert at.session_state[card_key(approval, "edit-expander")]
    assert at.text_area(key=card_key(approval, "edited")).value.startswith("{")


def test_not_now_puts_it_off_without_deciding_and_bring_back_restores_it(store):
    approval, following, _ = three_waiting(store)
    at = inbox()
    at.button(key=card_key(approval, "snooze")).click().run()  # N opens the choices
    assert [b.label for b in at.button if "-snooze-" in (b.key or "")] == ["15 min", "1 h", "4 h"]
    at.button(key=card_key(approval, "snooze-2")).click().run()  # 1 h
    assert approval.id not in listed(at)
    assert shown_card(at) == following.id
    row = storage.get_approval(store, approval_id=approval.id)
    assert (row.status, row.decided_by) == ("pending", None)  # never a decision
    assert storage.count_pending_approvals(store) == 3
    assert any("1 put off (back at" in c.value for c in at.caption)
    assert any("nothing was decided" in s.value for s in at.success)
    at.button(key="inbox-unsnooze").click().run()
    assert approval.id in listed(at)


def test_a_put_off_approval_comes_back_when_its_time_has_passed(store):
    approval, _, _ = three_waiting(store)
    person = f"{getpass.getuser()} (local)"  # without sign-in, the OS user at the keyboard
    storage.snooze_approval(
        store, approval_id=approval.id, who=person, until=storage.utcnow() + timedelta(hours=1)
    )
    at = inbox()
    assert approval.id not in listed(at)
    table = storage.Snooze.__table__
    with store.engine.begin() as conn:  # the hour has passed
        conn.execute(table.update().values(until=storage.utcnow() - timedelta(seconds=1)))
    at.run()
    assert approval.id in listed(at)
    assert not any("put off" in c.value for c in at.caption)


def test_everything_put_off_says_so_instead_of_empty(store):
    approval = seed.make_approval(store, seed.make_run(store, status="waiting"))
    at = inbox()
    at.button(key=card_key(approval, "snooze")).click().run()
    at.button(key=card_key(approval, "snooze-1")).click().run()
    assert "put off" in at.info[0].value
    at.button(key="inbox-unsnooze").click().run()
    assert shown_card(at) == approval.id


def test_the_pending_count_shows_above_other_pages_for_phones(store, monkeypatch):
    from tests.support.dashboard_fixtures import app_at, route_like_a_running_server

    route_like_a_running_server(monkeypatch)
    seed.make_approval(store, seed.make_run(store, status="waiting"))
    at = app_at("views/history.py")
    labels = [link.proto.label for link in at.get("page_link")]
    assert "1 approval waiting: answer them" in labels


def test_open_the_run_key_goes_to_the_run_page(store, monkeypatch):
    from tests.support.dashboard_fixtures import app_at, route_like_a_running_server

    route_like_a_running_server(monkeypatch)
    run = seed.make_run(store, status="waiting", goal="Clean up temporary files")
    approval = seed.make_approval(store, run)
    at = app_at("views/approvals.py")
    at.button(key=card_key(approval, "open")).click().run()  # the O key
    assert not at.exception
    assert at.query_params.get("run") in (run.id, [run.id])
    headings = [*at.title, *at.header, *at.subheader]
    assert any(run.id in h.value for h in headings), [h.value for h in headings]


def test_the_inbox_opens_on_the_approval_a_run_page_or_a_link_named(store):
    old_high, new_high, medium = three_waiting(store)
    at = AppTest.from_file(str(seed.PAGES / "approvals.py"), default_timeout=30)
    at.session_state["inbox_selected"] = medium.id  # set by the Run page's "Decide in the inbox"
    at.run()
    assert not at.exception
    assert (at.radio[0].value, shown_card(at)) == (medium.id, medium.id)
    at.button(key="inbox-previous").click().run()  # once only: the page's own moves still work
    assert shown_card(at) == new_high.id

    at = AppTest.from_file(str(seed.PAGES / "approvals.py"), default_timeout=30)
    at.query_params["approval"] = str(new_high.id)
    at.run()
    assert shown_card(at) == new_high.id
    assert "approval" not in at.query_params
