"""Roles: who may watch, steer and approve, checked where the write happens and on every page."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

import storage
from agent_core.oversight import control, decisions
from agent_core.oversight.inert import person as inert
from agent_core.oversight.signin_roles import (
    AccessConfigError,
    Person,
    is_loopback,
    load_auth_config,
    parse_role_rules,
    require,
)
from tests.support import dashboard_fixtures as fx
from tests.support import dashboard_seed as seed
from tests.support.signin_helpers import (
    CLIENT_SECRET,
    COOKIE_SECRET,
    PEOPLE,
    signed_in,
    write_signin_file,
)


@pytest.fixture
def signed_in_store(tmp_path, monkeypatch):
    """The store the routed app reads, with sign-in required (the people of PEOPLE)."""
    monkeypatch.setenv("ONLOOP_AUTH", str(write_signin_file(tmp_path)))
    monkeypatch.delenv("ONLOOP_INSECURE_NO_AUTH", raising=False)
    yield from fx.open_store(tmp_path, monkeypatch)


def replay(button):
    """Press a disabled button anyway, as a hand-made websocket message would: AppTest refuses
    to touch a disabled widget, so the test lifts the flag the browser would have honoured."""
    button.proto.disabled = False
    return button.click()


@pytest.fixture
def buttons_unlocked(monkeypatch):
    """The pages draw every button enabled (as if one forgot to lock them), while the session
    still belongs to whoever signed in: only agent_core's own check stands in the way."""
    import dashboard.components.role_buttons as page_access

    admin = Person(name="drawn-as-admin", role="admin", mode="oidc", subject="x")
    monkeypatch.setattr(page_access, "current_person", lambda: admin)


def app_as(user: dict | None, page: str | None = None, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(fx.APP), default_timeout=fx.TIMEOUT)
    at.user = user if user is not None else {"is_logged_in": False}
    at.run()
    if page is not None:
        if query:  # pages register by the address (a run's page is at `/?run=ID`): run first
            at.query_params.update(query)
            at.run()
        at.switch_page(page).run()
    assert not at.exception
    return at


def person(role: str | None) -> Person:
    claims = PEOPLE[role]
    return Person(name=claims["email"], role=role, mode="oidc", subject=claims["sub"])  # type: ignore[arg-type]


# --- the rules -------------------------------------------------------------------------------


def test_roles_come_from_email_domain_and_group_and_the_largest_wins(tmp_path):
    rules = load_auth_config(write_signin_file(tmp_path))
    for role, claims in PEOPLE.items():
        assert rules.role_for({**claims, "email_verified": True}) == role
    # An approver's address also matches the viewer domain: the larger role wins.
    assert (
        rules.role_for({"sub": "s", "email": "APRIL@Example.test", "email_verified": True})
        == "approver"
    )


def test_an_unverified_email_names_nobody(tmp_path):
    rules = load_auth_config(write_signin_file(tmp_path))
    assert rules.role_for({"email": "ada@admin.test", "email_verified": False}) is None


def test_bad_role_tables_are_refused_naming_the_fix():
    with pytest.raises(AccessConfigError, match="the roles are viewer, operator"):
        parse_role_rules({"superuser": ["a@b.c"]})
    with pytest.raises(AccessConfigError, match="must be a list"):
        parse_role_rules({"admin": "a@b.c"})


def test_a_signin_file_error_names_the_key_never_a_secret(tmp_path):
    path = tmp_path / "signin.toml"
    path.write_text(f'[auth]\ncookie_secret = "{COOKIE_SECRET}"\n[roles]\nadmin = ["a@b.c"]\n')
    with pytest.raises(AccessConfigError) as refused:
        load_auth_config(path)
    assert "client_id" in str(refused.value) and COOKIE_SECRET not in str(refused.value)
    path.write_text(write_signin_file(tmp_path).read_text().split("[roles]")[0])
    with pytest.raises(AccessConfigError, match="gives nobody a role"):
        load_auth_config(path)


def test_loopback_addresses():
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.5", "example.org"))


def test_require_names_the_role_and_the_audit_label_names_the_person():
    assert require(person("approver"), "approver") == "april@example.test (sub sub-april)"
    assert require("root", "admin") == "root"  # the CLI: the OS user at a shell with the store
    with pytest.raises(Exception, match="needs the operator role and you have the viewer"):
        require(person("viewer"), "operator")
    local = Person(name="ana", role="admin", mode="local")
    assert local.label == "ana (local)"


# --- the writes refuse, whatever called them ----------------------------------------------------


def test_a_viewer_cannot_decide_steer_or_launch_and_nothing_is_written(signed_in_store):
    run = seed.make_run(signed_in_store, status="waiting")
    approval = seed.make_approval(signed_in_store, run)
    viewer = person("viewer")
    with pytest.raises(decisions.DecisionError, match="needs the approver role"):
        decisions.approve(signed_in_store, approval_id=approval.id, by=viewer)
    with pytest.raises(decisions.DecisionError, match="needs the approver role"):
        decisions.reject(signed_in_store, approval_id=approval.id, by=viewer)
    assert decisions.decide_many(
        signed_in_store, approval_ids=[approval.id], decision="approve", by=viewer
    ) == [
        f"approval {approval.id}: this needs the approver role and you have the viewer role; "
        "ask an onloop admin"
    ]
    for steer in (control.halt, control.pause, control.rerun):
        with pytest.raises(control.ControlError, match="needs the operator role"):
            steer(signed_in_store, run_id=run.id, by=viewer)
    with pytest.raises(control.ControlError, match="needs the operator role"):
        control.guide(signed_in_store, run_id=run.id, by=viewer, message="stop")
    with pytest.raises(control.ControlError, match="needs the operator role"):
        control.resume_run(signed_in_store, run_id=run.id, by=viewer)
    with pytest.raises(control.ControlError, match="needs the operator role"):
        control.launch(signed_in_store, by=viewer, goal="anything")
    assert storage.get_approval(signed_in_store, approval_id=approval.id).status == "pending"
    assert storage.get_run(signed_in_store, run_id=run.id).status == "waiting"
    assert len(storage.list_runs(signed_in_store)) == 1
    assert storage.pending_commands(signed_in_store, run_id=run.id) == []


def test_an_operator_steers_but_cannot_decide(signed_in_store):
    run = seed.make_run(signed_in_store, status="waiting")
    approval = seed.make_approval(signed_in_store, run)
    with pytest.raises(decisions.DecisionError, match="needs the approver role"):
        decisions.approve(signed_in_store, approval_id=approval.id, by=person("operator"))
    control.pause(signed_in_store, run_id=run.id, by=person("operator"))
    (command,) = storage.pending_commands(signed_in_store, run_id=run.id)
    assert command.created_by == "otto@ops.test (sub sub-otto)"


def test_an_approver_decision_names_email_and_subject(signed_in_store):
    approval = seed.make_approval(signed_in_store, seed.make_run(signed_in_store, status="waiting"))
    decisions.approve(signed_in_store, approval_id=approval.id, by=person("approver"))
    row = storage.get_approval(signed_in_store, approval_id=approval.id)
    assert row.decided_by == "april@example.test (sub sub-april)"


# --- every page, every role ----------------------------------------------------------------------


def test_not_signed_in_sees_only_the_signin_page(signed_in_store):
    seed.make_approval(
        signed_in_store, seed.make_run(signed_in_store, status="waiting", goal="secret goal")
    )
    at = app_as(None)
    assert at.button(key="signin_login").label == "Sign in"
    shown = " ".join(m.value for m in at.markdown) + " ".join(t.value for t in at.title)
    assert "secret goal" not in shown and "Pending approvals" not in shown
    assert [b.key for b in at.button] == ["signin_login"]
    assert not at.sidebar.children or not list(at.sidebar.metric)


def test_signed_in_without_a_role_sees_only_ask_an_admin(signed_in_store):
    seed.make_run(signed_in_store, status="waiting", goal="secret goal")
    at = app_as(signed_in(None))
    assert at.title[0].value == "You have no role here yet"
    assert inert("nobody@elsewhere.test") in at.markdown[0].value
    assert "Ask an onloop admin" in at.markdown[0].value
    assert [b.key for b in at.button] == ["signin_logout"]
    assert not list(at.sidebar.metric)


PAGES_BY_ROLE = {
    "viewer": ["Live", "Run", "Approvals", "History", "Insights"],
    "operator": ["Launch", "Live", "Run", "Approvals", "History", "Insights"],
    "approver": ["Launch", "Live", "Run", "Approvals", "History", "Insights"],
    "admin": ["Launch", "Live", "Run", "Approvals", "History", "Insights", "Policy"],
}


@pytest.mark.parametrize("role", list(PAGES_BY_ROLE))
def test_each_role_gets_its_pages_and_its_name_in_the_sidebar(signed_in_store, role):
    at = app_as(signed_in(role))
    sidebar = " ".join(c.value for c in at.sidebar.caption)
    assert f"{inert(PEOPLE[role]['email'])} · {role}" in sidebar
    assert at.sidebar.button(key="signin_logout").label == "Sign out"
    first = "Launch a run" if role != "viewer" else "Live"
    assert at.title[0].value.startswith(first)


@pytest.mark.parametrize("role", list(PAGES_BY_ROLE))
def test_each_role_on_the_approvals_page(signed_in_store, role):
    approval = seed.make_approval(signed_in_store, seed.make_run(signed_in_store, status="waiting"))
    at = app_as(signed_in(role), "views/approvals.py")
    approve = at.button(key=f"inbox-approval-{approval.id}-approve")
    may = role in ("approver", "admin")
    assert approve.disabled is (not may)
    locks = [c.value for c in at.caption if "needs the approver role" in c.value]
    assert bool(locks) is (not may)


@pytest.mark.parametrize("role", list(PAGES_BY_ROLE))
def test_each_role_on_the_run_page(signed_in_store, role):
    run = seed.make_run(signed_in_store, status="running")
    at = app_as(signed_in(role), "views/run.py", {"run": run.id})
    may = role != "viewer"
    assert at.button(key=f"run_halt_{run.id}").disabled is (not may)
    assert at.button(key=f"run_pause_{run.id}").disabled is (not may)


PAGE_FILES = {
    "Launch": "views/launch.py",
    "Live": "views/live.py",
    "Run": "views/run.py",
    "Approvals": "views/approvals.py",
    "History": "views/history.py",
    "Insights": "views/insights.py",
    "Policy": "views/policy.py",
}


@pytest.mark.parametrize("role", list(PAGES_BY_ROLE))
def test_each_role_opens_exactly_its_pages(signed_in_store, role):
    for title, path in PAGE_FILES.items():
        if title in PAGES_BY_ROLE[role]:
            at = app_as(signed_in(role), path)
            assert not at.error, (title, [e.value for e in at.error])
        else:  # not in this person's menu, yet its address says which role it needs
            at = app_as(signed_in(role), path)
            needed = "admin" if title == "Policy" else "operator"
            assert [e.value for e in at.error] == [
                f"This page needs the {needed} role; you have the {role} role. Ask an onloop admin."
            ]


@pytest.mark.parametrize("role", ["viewer", "operator", "approver"])
def test_the_policy_page_itself_refuses_below_admin(signed_in_store, role):
    at = AppTest.from_file(str(seed.PAGES / "policy.py"), default_timeout=fx.TIMEOUT)
    at.user = signed_in(role)
    at.run()
    assert [e.value for e in at.error] == [
        f"This page needs the admin role; you have the {role} role. Ask an onloop admin."
    ]


# --- replaying the widget -------------------------------------------------------------------


def test_a_forged_press_of_a_disabled_button_is_discarded(signed_in_store):
    """Streamlit drops a client's change to a widget drawn disabled: no callback, no write."""
    approval = seed.make_approval(signed_in_store, seed.make_run(signed_in_store, status="waiting"))
    at = app_as(signed_in("viewer"), "views/approvals.py")
    button = at.button(key=f"inbox-approval-{approval.id}-approve")
    assert button.disabled
    replay(button).run()
    assert storage.get_approval(signed_in_store, approval_id=approval.id).status == "pending"


def test_a_viewer_pressing_approve_is_refused_where_the_decision_is_written(
    signed_in_store, buttons_unlocked
):
    approval = seed.make_approval(signed_in_store, seed.make_run(signed_in_store, status="waiting"))
    at = app_as(signed_in("viewer"), "views/approvals.py")
    button = at.button(key=f"inbox-approval-{approval.id}-approve")
    assert not button.disabled  # the page let it through; the write must not
    button.click().run()
    assert storage.get_approval(signed_in_store, approval_id=approval.id).status == "pending"
    shown = [e.value for e in (*at.error, *at.warning)]
    assert any("needs the approver role" in m and "you have the viewer role" in m for m in shown)
    at.checkbox(key=f"inbox-select-{approval.id}").check().run()
    at.button(key="inbox-batch-approve").click().run()
    assert storage.get_approval(signed_in_store, approval_id=approval.id).status == "pending"


def test_a_viewer_pressing_halt_pause_and_rerun_is_refused_where_they_are_written(
    signed_in_store, buttons_unlocked
):
    run = seed.make_run(signed_in_store, status="running")
    at = app_as(signed_in("viewer"), "views/run.py", {"run": run.id})
    at.button(key=f"run_pause_{run.id}").click().run()
    at.button(key=f"run_halt_{run.id}").click().run()
    at.button(key=f"run_halt_confirm_{run.id}").click().run()
    assert storage.pending_commands(signed_in_store, run_id=run.id) == []
    assert storage.get_run(signed_in_store, run_id=run.id).status == "running"
    assert any("needs the operator role" in e.value for e in at.error)
    done = seed.make_run(signed_in_store, status="succeeded")
    at = app_as(signed_in("viewer"), "views/run.py", {"run": done.id})
    at.button(key=f"run_rerun_{done.id}").click().run()
    assert len(storage.list_runs(signed_in_store)) == 2
    assert any("needs the operator role" in e.value for e in at.error)


def test_an_approver_approves_and_the_run_page_names_them(signed_in_store):
    run = seed.make_run(signed_in_store, status="waiting")
    approval = seed.make_approval(signed_in_store, run)
    at = app_as(signed_in("approver"), "views/approvals.py")
    at.button(key=f"inbox-approval-{approval.id}-approve").click().run()
    row = storage.get_approval(signed_in_store, approval_id=approval.id)
    assert (row.status, row.decided_by) == ("approved", "april@example.test (sub sub-april)")


def test_no_page_shows_a_signin_secret(signed_in_store):
    for role in PAGES_BY_ROLE:
        for title in PAGES_BY_ROLE[role]:
            at = app_as(signed_in(role), PAGE_FILES[title])
            shown = repr(at._tree)
            assert COOKIE_SECRET not in shown and CLIENT_SECRET not in shown


# --- without sign-in ---------------------------------------------------------------------------


@pytest.fixture
def no_signin(tmp_path, monkeypatch):
    monkeypatch.delenv("ONLOOP_AUTH", raising=False)
    monkeypatch.delenv("ONLOOP_INSECURE_NO_AUTH", raising=False)
    yield from fx.open_store(tmp_path, monkeypatch)


def test_on_loopback_without_signin_the_os_user_is_local_and_may_everything(no_signin):
    at = app_as(None)
    assert at.title[0].value == "Launch a run"
    assert any("(local, no sign-in)" in c.value for c in at.sidebar.caption)
    assert not at.error


def test_insecure_no_auth_shows_a_red_banner_on_every_page(no_signin, monkeypatch):
    monkeypatch.setenv("ONLOOP_INSECURE_NO_AUTH", "1")
    for path in PAGE_FILES.values():
        at = app_as(None, path)
        assert "No sign-in." in at.error[0].value


def test_a_public_address_without_signin_shows_nothing(no_signin, monkeypatch):
    """`streamlit run dashboard/app.py --server.address 0.0.0.0` bypasses `onloop up`'s check."""
    from streamlit import config

    before = config.get_option("server.address")
    config._set_option("server.address", "0.0.0.0", "test")
    try:
        seed.make_run(no_signin, goal="secret goal")
        at = app_as(None)
    finally:
        config._set_option("server.address", before, "test")
    assert "listens on 0.0.0.0 without sign-in" in at.error[0].value
    assert not at.button and not at.title


def test_the_run_page_names_who_launched_and_who_steered(signed_in_store):
    run = control.launch(signed_in_store, by=person("approver"), goal="tidy")
    at = app_as(signed_in("operator"), "views/run.py", {"run": run.id})
    at.button(key=f"run_pause_{run.id}").click().run()
    (command,) = storage.command_history(signed_in_store, run_id=run.id)
    assert (command.kind, command.created_by) == ("pause", "otto@ops.test (sub sub-otto)")
    at = app_as(signed_in("viewer"), "views/run.py", {"run": run.id})
    (table,) = [d.value for d in at.dataframe if "what" in d.value.columns]
    assert list(table["what"]) == ["launch", "pause"]
    assert list(table["by"]) == [
        "april@example.test (sub sub-april)",
        "otto@ops.test (sub sub-otto)",
    ]


def test_resume_records_who_resumed(signed_in_store):
    run = seed.make_run(signed_in_store, status="paused")
    control.resume_run(signed_in_store, run_id=run.id, by=person("operator"))
    last = storage.events_after(signed_in_store, run_id=run.id)[-1]
    assert last.payload == {
        "status": "queued",
        "reason": None,
        "resumed": True,
        "by": "otto@ops.test (sub sub-otto)",
    }
