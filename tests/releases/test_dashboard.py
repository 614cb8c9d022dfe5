"""The admin Releases page and its confirmed actions, as each role (Django test client)."""

import pytest
from django.urls import reverse

from core.roles import AUTHOR, RELEASE_APPROVER, RELEASE_MANAGER
from releases.models import Deployment, Environment
from tests.factories import UserFactory
from tests.releases.test_deployment_rules import deployed, make_build

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
    client.post(ACT, {"action": "promote", "environment": "production", "reason": "release"})
    request = Deployment.objects.get(environment__slug="production")
    assert request.status == "awaiting_approval"
    denied = client.post(ACT, {"action": "approve", "deployment": request.pk, "reason": "me"})
    assert denied.status_code == 403  # a release manager may not approve
    client.logout()
    staff(client, RELEASE_APPROVER, username="ra")
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
