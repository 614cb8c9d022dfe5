"""The admin Releases page and its confirmed actions, as each role (Django test client)."""

import html
import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from core.roles import AUTHOR, RELEASE_APPROVER, RELEASE_MANAGER
from releases import deployments as rules
from releases.models import Deployment, Environment, StageResult
from releases.services import Actor
from tests.factories import UserFactory
from tests.releases.test_deployment_rules import deployed, make_build, manager

DASHBOARD = reverse("admin:releases_dashboard")
ACT = reverse("admin:releases_act")


def staff(client, *roles, username):
    user = UserFactory(username=username, is_staff=True, roles=list(roles))
    client.force_login(user)
    return user


@pytest.mark.django_db
def test_manager_sees_environments_and_deploys_after_confirming(client):
    staff(client, RELEASE_MANAGER, username="rm")
    build = make_build(1)
    page = client.get(DASHBOARD).content.decode()
    assert "Staging" in page and "Production" in page and build.tag[:12] in page
    assert "Releases" in client.get(reverse("admin:index")).content.decode()
    confirm = client.get(ACT, {"action": "deploy", "environment": "staging", "build": build.pk})
    assert "Reason (required)" in confirm.content.decode()
    no_reason = client.post(ACT, {"action": "deploy", "environment": "staging", "build": build.pk})
    assert "A reason is required." in no_reason.content.decode()
    assert Deployment.objects.count() == 0
    done = client.post(
        ACT,
        {"action": "deploy", "environment": "staging", "build": build.pk, "reason": "ship"},
        follow=True,
    )
    assert Deployment.objects.get().status == "queued"
    assert "queued" in " ".join(str(m) for m in done.context["messages"])


@pytest.mark.django_db
def test_promote_confirmation_shows_what_changes_and_approver_approves(client):
    staging = Environment.objects.get(slug="staging")
    old, new = make_build(2), make_build(3)
    for build in (old, new):
        build.ref = "main"
        build.save()
    deployed(staging, new)
    staff(client, RELEASE_MANAGER, username="rm")
    confirm = client.get(ACT, {"action": "promote", "environment": "production"}).content.decode()
    assert new.tag[:12] in confirm and "Stages" in confirm
    # Production backs up first (its default), and the page says so before anyone decides.
    assert "backs up the database of Production" in confirm and "none yet" in confirm
    staging_confirm = client.get(ACT, {"action": "deploy", "environment": "staging"})
    assert "backs up the database" not in staging_confirm.content.decode()
    client.post(ACT, {"action": "promote", "environment": "production", "reason": "release"})
    request = Deployment.objects.get(environment__slug="production")
    assert request.status == "awaiting_approval"
    denied = client.post(ACT, {"action": "approve", "deployment": request.pk, "reason": "me"})
    assert denied.status_code == 403  # a release manager may not approve
    client.logout()
    staff(client, RELEASE_APPROVER, username="ra")
    approving = client.get(ACT, {"action": "approve", "deployment": request.pk}).content.decode()
    assert "backs up the database of Production" in approving
    # The approver sees the change set the requester saw: running → candidate, stages.
    assert f"candidate: <strong>{new.tag[:12]}</strong>" in approving
    assert "Stages" in approving and "running on the previous environment" in approving
    client.post(ACT, {"action": "approve", "deployment": request.pk, "reason": "ok"})
    request.refresh_from_db()
    assert request.status == "queued"


@pytest.mark.django_db
def test_rule_refusals_show_as_messages_and_change_nothing(client):
    staff(client, RELEASE_MANAGER, username="rm")
    failing = make_build(4, passed=False)
    response = client.post(
        ACT,
        {"action": "deploy", "environment": "staging", "build": failing.pk, "reason": "x"},
        follow=True,
    )
    assert "has not passed" in " ".join(str(m) for m in response.context["messages"])
    assert Deployment.objects.count() == 0


@pytest.mark.django_db
def test_freeze_needs_the_environment_permission(client):
    staff(client, RELEASE_MANAGER, username="rm")
    response = client.post(ACT, {"action": "freeze", "environment": "staging", "reason": "x"})
    assert (
        response.status_code == 302
    )  # done; back to the dashboard (they hold change_environment)
    assert Environment.objects.get(slug="staging").is_frozen()
    client.logout()
    staff(client, AUTHOR, username="au")
    assert client.get(DASHBOARD).status_code == 403
    assert (
        client.post(
            ACT, {"action": "unfreeze", "environment": "staging", "reason": "x"}
        ).status_code
        == 403
    )


@pytest.mark.django_db
def test_release_demo_is_idempotent_and_gives_a_promotable_staging(client):
    from django.core.management import call_command

    from releases import deployments as rules

    call_command("seed_release_demo")
    call_command("seed_release_demo")
    staging, production = (Environment.objects.get(slug=s) for s in ("staging", "production"))
    assert Deployment.objects.count() == 3
    assert rules.current_deployment(staging).build != rules.current_deployment(production).build
    staff(client, RELEASE_MANAGER, username="rm")
    client.post(ACT, {"action": "promote", "environment": "production", "reason": "demo"})
    assert Deployment.objects.get(status="awaiting_approval").environment == production


@pytest.mark.django_db
def test_mark_and_unmark_bad_from_the_dashboard(client):
    staff(client, RELEASE_MANAGER, username="rm")
    build = make_build(9)
    assert "mark bad" in client.get(DASHBOARD).content.decode()
    client.post(ACT, {"action": "mark_bad", "build": build.pk, "reason": "breaks login"})
    build.refresh_from_db()
    assert build.bad_reason == "breaks login"
    client.post(ACT, {"action": "unmark_bad", "build": build.pk, "reason": "fixed upstream"})
    build.refresh_from_db()
    assert build.bad_at is None


@pytest.mark.django_db
def test_a_freeze_can_be_scheduled_ahead_and_holds_only_in_its_window(client):
    import datetime

    import time_machine
    from django.utils import timezone

    from releases import deployments as rules
    from releases.services import Actor

    staff(client, RELEASE_MANAGER, username="rm")
    starts = timezone.localtime() + datetime.timedelta(days=2)
    done = client.post(
        ACT,
        {
            "action": "freeze",
            "environment": "production",
            "reason": "year-end close",
            "starts": starts.strftime("%Y-%m-%d %H:%M"),
            "hours": "48",
        },
        follow=True,
    )
    assert "freeze scheduled" in " ".join(str(m) for m in done.context["messages"])
    production = Environment.objects.get(slug="production")
    assert production.frozen_from is not None
    assert not production.is_frozen()  # not yet: deployments still go out
    assert "Freeze scheduled from" in client.get(DASHBOARD).content.decode()
    staging = Environment.objects.get(slug="staging")
    build = make_build(7)
    deployed(staging, build)
    with time_machine.travel(starts + datetime.timedelta(hours=1)):
        assert production.is_frozen()
        with pytest.raises(rules.Refused) as refused:
            rules.promote(actor=Actor(user=manager()), environment=production, reason="x")
        assert refused.value.code == "frozen"
    with time_machine.travel(starts + datetime.timedelta(hours=49)):
        assert not production.is_frozen()  # over


@pytest.mark.django_db
@pytest.mark.parametrize(
    "form, message",
    [
        ({"hours": "abc"}, "Hours must be a whole number."),
        ({"hours": "0"}, "Hours must be between 1 and 720."),
        ({"starts": "next friday"}, "Starts must be a date and time like 2026-12-24 18:00."),
    ],
)
def test_a_bad_freeze_form_is_an_error_message_and_changes_nothing(client, form, message):
    staff(client, RELEASE_MANAGER, username="rm")
    data = {"action": "freeze", "environment": "staging", "reason": "x", **form}
    done = client.post(ACT, data, follow=True)
    assert message in " ".join(str(m) for m in done.context["messages"])
    staging = Environment.objects.get(slug="staging")
    assert staging.frozen_until is None and staging.frozen_from is None


@pytest.mark.django_db
def test_non_numeric_ids_are_not_found_not_server_errors(client):
    staff(client, RELEASE_MANAGER, username="rm")
    for key in ("build", "deployment"):
        response = client.get(ACT, {"action": "deploy", "environment": "staging", key: "abc"})
        assert response.status_code == 404


@pytest.mark.django_db
def test_the_page_says_when_the_deployment_worker_is_silent(client):
    import datetime

    from django.utils import timezone

    from releases.models import WorkerHeartbeat

    staff(client, RELEASE_MANAGER, username="rm")
    assert "No deployment worker has reported yet" in client.get(DASHBOARD).content.decode()
    now = timezone.now()
    beat = WorkerHeartbeat.objects.create(
        worker_id="w1", hostname="worker-host", started_at=now, seen_at=now
    )
    page = client.get(DASHBOARD).content.decode()
    assert "last heartbeat" in page and "worker-host" in page and "is silent" not in page
    beat.seen_at = now - datetime.timedelta(minutes=5)
    beat.save()
    assert "The deployment worker is silent" in client.get(DASHBOARD).content.decode()


# ------------------------------------------------- controls by role and state, refusals first


def controls(page: str) -> set[str]:
    """The action links the Releases page offers."""
    return {
        action
        for action in ("promote", "rollback", "pin", "unpin", "freeze", "unfreeze", "approve")
        if f"?action={action}&" in page
    }


@pytest.mark.django_db
def test_an_approver_is_offered_no_manager_controls(client):
    staging = Environment.objects.get(slug="staging")
    deployed(staging, make_build(5))
    deployed(staging, make_build(6))  # something to roll back to
    staff(client, RELEASE_MANAGER, username="rm")
    assert controls(client.get(DASHBOARD).content.decode()) >= {"promote", "rollback", "pin"}
    client.logout()
    staff(client, RELEASE_APPROVER, username="ra")
    page = client.get(DASHBOARD).content.decode()
    assert controls(page) == set()
    assert "Deploy to Staging" not in page and "mark bad" not in page
    # Typing the URL anyway: a styled admin page with the rule and a way back, not a bare 403.
    refused = client.get(ACT, {"action": "rollback", "environment": "staging"})
    assert refused.status_code == 403
    text = refused.content.decode()
    assert "You may not rollback" in text and "Back to Releases" in text
    assert '<ol class="breadcrumbs">' in text


@pytest.mark.django_db
def test_a_pinned_environment_offers_no_promote_and_the_page_says_why_before_the_form(client):
    staging, production = (Environment.objects.get(slug=s) for s in ("staging", "production"))
    deployed(staging, make_build(7))
    production.pinned_at, production.pinned_reason = timezone.now(), "incident 42"
    production.save()
    staff(client, RELEASE_MANAGER, username="rm")
    page = client.get(DASHBOARD).content.decode()
    assert "?action=promote&environment=production" not in page
    assert "Promote (pinned)" in page
    confirm = client.get(ACT, {"action": "promote", "environment": "production"})
    text = confirm.content.decode()
    assert "Refused:" in text and "pinned" in text.lower()
    assert 'name="reason"' not in text  # no form for an action that cannot succeed
    assert Deployment.objects.filter(environment=production).count() == 0  # trial rolled back
    assert text.count("<h1>") == 1


@pytest.mark.django_db
def test_approving_your_own_request_is_refused_before_the_form(client):
    staging = Environment.objects.get(slug="staging")
    deployed(staging, make_build(8))
    both = staff(client, RELEASE_MANAGER, RELEASE_APPROVER, username="both")
    client.post(ACT, {"action": "promote", "environment": "production", "reason": "release"})
    request = Deployment.objects.get(environment__slug="production")
    assert request.requested_by == both
    page = client.get(DASHBOARD).content.decode()
    assert f"?action=approve&deployment={request.pk}" not in page
    confirm = client.get(ACT, {"action": "approve", "deployment": request.pk}).content.decode()
    assert "Refused:" in confirm and 'name="reason"' not in confirm
    request.refresh_from_db()
    assert request.status == "awaiting_approval"
    client.logout()
    staff(client, RELEASE_APPROVER, username="second-pair-of-eyes")
    assert f"?action=approve&deployment={request.pk}" in client.get(DASHBOARD).content.decode()


@pytest.mark.django_db
def test_a_build_marked_bad_while_running_is_flagged_and_who_approved_is_shown(client):
    staging, production = (Environment.objects.get(slug=s) for s in ("staging", "production"))
    build = make_build(9)
    deployed(staging, build)
    deployed(production, build)  # production needs an approval: deployed() gets one
    build.bad_at, build.bad_reason = timezone.now(), "leaks sessions"
    build.save()
    staff(client, RELEASE_MANAGER, username="rm")
    page = client.get(DASHBOARD).content.decode()
    assert page.count("Runs a build marked bad — leaks sessions") == 2
    assert "approved by approver" in page


@pytest.mark.django_db
def test_dora_numbers_a_real_zero_is_zero_and_rates_are_percentages(client):
    staging = Environment.objects.get(slug="staging")
    deployed(staging, make_build(10))
    staff(client, RELEASE_MANAGER, username="rm")
    page = client.get(DASHBOARD).content.decode()
    assert "0 % (0 of 1)" in page  # one change, none failed: a real zero
    assert "no data" in page  # production has no deployments at all
    assert "—" not in page.split("DORA")[1].split("History")[0]


@pytest.mark.django_db
def test_stage_badges_follow_the_pipeline_order(client):
    build = make_build(11)
    StageResult.objects.create(build=build, stage="deploy-staging", job_id=999, status="success")
    staff(client, RELEASE_MANAGER, username="rm")
    page = client.get(DASHBOARD).content.decode()
    row = page[page.index(build.tag[:12]) :]
    positions = [row.index(f">{stage}<") for stage in ("lint", "test", "security", "build")]
    assert positions == sorted(positions)
    assert row.index(">build<") < row.index(">deploy-staging<")


@pytest.mark.django_db
def test_the_deployment_list_shows_who_and_why_first_and_the_build_short(admin_client):
    staging, production = (Environment.objects.get(slug=s) for s in ("staging", "production"))
    build = make_build(12)
    deployed(staging, build)
    deployed(production, build)
    page = admin_client.get(reverse("admin:releases_deployment_changelist")).content.decode()
    table = page[page.index('id="result_list"') :]
    header = table[: table.index("</thead>")]
    assert header.index("Status") < header.index("Requested by") < header.index("Approved by")
    assert "approver (approved)" in page
    assert f">{build.tag[:12]}</code>" in page


@pytest.mark.django_db
def test_the_charts_show_the_same_numbers_as_the_dora_api(client, api_client):
    staging = Environment.objects.get(slug="staging")
    deployed(staging, make_build(13))
    deployed(staging, make_build(14))
    failing, _ = rules.request_deployment(
        actor=Actor(user=manager()), environment=staging, build=make_build(15), reason="t"
    )
    rules.finish(deployment=rules.start_next(staging), succeeded=False, smoke={"passed": False})
    user = staff(client, RELEASE_MANAGER, username="rm")
    page = client.get(DASHBOARD).content.decode()
    card = page[page.index('aria-label="Staging"') : page.index('aria-label="Production"')]
    shown = {
        kind: json.loads(html.unescape(values))
        for kind, values in re.findall(r'data-chart="(\w+)" data-values="([^"]*)"', card)
    }
    api_client.force_authenticate(user)
    answer = api_client.get("/api/v1/releases/metrics/dora/?environment=staging&weeks=12")
    weeks = answer.json()["weekly"]
    assert len(weeks) == 12
    assert shown["deployments"] == [w["deployments"] for w in weeks]
    assert shown["change_failure_rate"] == [w["change_failure_rate"] for w in weeks]
    assert shown["lead_time"] == [w["lead_time_hours_median"] for w in weeks]
    assert shown["time_to_restore"] == [w["time_to_restore_hours_median"] for w in weeks]
    assert shown["deployments"][-1] == 2 and shown["change_failure_rate"][-1] == round(1 / 3, 3)
    assert [t["status"] for t in shown["timeline"]] == ["succeeded", "succeeded", "failed"]
    assert failing.pk == shown["timeline"][-1]["id"]
    bad = api_client.get("/api/v1/releases/metrics/dora/?weeks=53")
    assert bad.status_code == 400 and "weeks" in bad.json()


@pytest.mark.django_db
def test_the_live_block_shows_the_running_deployment_and_its_log(client):
    staging = Environment.objects.get(slug="staging")
    deployed(staging, make_build(16))
    queued, _ = rules.request_deployment(
        actor=Actor(user=manager()), environment=staging, build=make_build(17), reason="t"
    )
    running = rules.start_next(staging)
    running.log = "pulling\nmigrating\nswitching\nsmoke 1/3\nsmoke 2/3"
    running.save()
    staff(client, RELEASE_MANAGER, username="rm")
    url = reverse("admin:releases_now", args=["staging"])
    answer = client.get(url)
    assert answer.status_code == 200 and answer["X-Queue-Active"] == "1"
    text = answer.content.decode()
    assert 'data-status="running"' in text and "smoke 2/3" in text and "pulling" not in text
    rules.finish(deployment=running, succeeded=True, smoke={"passed": True})
    done = client.get(url)
    assert done["X-Queue-Active"] == "0"
    assert f"<strong>{running.build.tag[:12]}</strong>" in done.content.decode()
    client.logout()
    staff(client, AUTHOR, username="au")
    assert client.get(url).status_code == 403


@pytest.mark.django_db
def test_a_card_says_how_far_behind_the_previous_environment_it_is(client):
    staging, production = (Environment.objects.get(slug=s) for s in ("staging", "production"))
    builds = [make_build(n) for n in (20, 21, 22)]
    for build in builds:
        build.ref = "main"
        build.save()
    deployed(staging, builds[0])
    deployed(production, builds[0])
    deployed(staging, builds[2])
    staff(client, RELEASE_MANAGER, username="rm")
    page = client.get(DASHBOARD).content.decode()
    assert "Behind Staging by 2 commits" in page
    history = page[page.index('class="history"') :]
    assert "approver" in history and "Requested by" in history
