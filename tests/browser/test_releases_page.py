"""Release staff in a real browser: deploy to staging, promote to production, a second
person approves seeing the same change set, the page follows the deployment without a
reload, controls follow role and state, charts carry the API's numbers, a phone's width."""

import datetime
import json
from pathlib import Path

import pytest
from django.utils import timezone

from core.roles import RELEASE_APPROVER, RELEASE_MANAGER
from releases import deployments as rules
from releases import tasks
from releases.models import Deployment, Environment
from releases.services import Actor
from tests.browser.conftest import admin_login
from tests.browser.test_admin_flows import shot
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.releases.test_deployment_rules import deployed, make_build

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def confirm_with_reason(page, reason: str) -> str:
    page.fill("#reason", reason)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_selector(".messagelist")
    return page.inner_text(".messagelist")


def run_worker():
    for environment in Environment.objects.all():
        tasks.run_environment_queue.call(environment.pk)


def test_deploy_promote_approve_from_the_releases_page(browser, page, live_server):
    UserFactory(username="rm-browser", is_staff=True, roles=[RELEASE_MANAGER])
    UserFactory(username="ra-browser", is_staff=True, roles=[RELEASE_APPROVER])
    build = make_build(41)
    dashboard = f"{live_server.url}/admin/releases/environment/dashboard/"

    admin_login(page, live_server, "rm-browser", DEFAULT_PASSWORD)
    page.goto(dashboard)
    page.get_by_role("link", name="Deploy to Staging…").first.click()
    assert "Reason (required)" in page.content()
    assert "queued" in confirm_with_reason(page, "first build to staging")
    run_worker()
    page.goto(dashboard)
    shot(page, "releases-staging-deployed")
    current = page.locator("section.env[aria-label='Staging'] p strong").first
    assert current.inner_text() == build.tag[:12]

    page.get_by_role("link", name="Promote…").click()
    assert build.tag[:12] in page.content()  # the confirmation names what goes out
    assert "awaiting approval" in confirm_with_reason(page, "release 41").lower()
    request = Deployment.objects.get(environment__slug="production")
    assert request.status == "awaiting_approval"

    approver = browser.new_context().new_page()
    admin_login(approver, live_server, "ra-browser", DEFAULT_PASSWORD)
    approver.goto(dashboard)
    approver.get_by_role("link", name="Approve…").click()
    confirm_with_reason(approver, "looks good")
    request.refresh_from_db()
    assert request.status == "queued"
    run_worker()
    request.refresh_from_db()
    assert request.status == "succeeded"
    approver.goto(dashboard)
    current = approver.locator("section.env[aria-label='Production'] p strong").first
    assert current.inner_text() == build.tag[:12]
    shot(approver, "releases-production-deployed")
    approver.context.close()


SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def console_errors(page) -> list[str]:
    """Collects the page's console errors and uncaught exceptions from now on."""
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def test_release_staff_decide_with_everything_in_front_of_them(browser, page, live_server):
    manager = UserFactory(username="rm-walk", is_staff=True, roles=[RELEASE_MANAGER])
    UserFactory(username="ra-walk", is_staff=True, roles=[RELEASE_APPROVER])
    staging, production = (Environment.objects.get(slug=s) for s in ("staging", "production"))
    old, middle, new = make_build(51), make_build(52), make_build(53)
    for hours, build, message in (
        (30, old, "Feeds: Atom"),
        (20, middle, "Search ranks"),
        (4, new, "Comments: honeypot"),
    ):
        build.ref, build.commit_message = "main", message
        build.commit_time = timezone.now() - datetime.timedelta(hours=hours)
        build.save()
    deployed(staging, old)
    deployed(production, old)
    deployed(staging, new)
    dashboard = f"{live_server.url}/admin/releases/environment/dashboard/"
    errors = console_errors(page)

    # The requester promotes production after reading the change set.
    admin_login(page, live_server, "rm-walk", DEFAULT_PASSWORD)
    page.goto(dashboard)
    page.locator("section.env[aria-label='Production']").get_by_role(
        "link", name="Promote…"
    ).click()
    assert "Search ranks" in page.content()  # the commits between running and candidate
    assert "awaiting approval" in confirm_with_reason(page, "weekly release").lower()
    request = Deployment.objects.get(environment=production, status="awaiting_approval")

    # The approver sees the same change set, and no manager-only control.
    approver = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    approver_errors = console_errors(approver)
    admin_login(approver, live_server, "ra-walk", DEFAULT_PASSWORD)
    approver.goto(dashboard)
    for name in ("Promote…", "Roll back…", "Pin…", "Freeze…", "Deploy to Staging…"):
        assert approver.get_by_role("link", name=name).count() == 0, name
    approver.get_by_role("link", name="Approve…").click()
    text = approver.inner_text("#content")
    assert f"candidate: {new.tag[:12]}" in text and "Search ranks" in text
    assert "Stages" in text and "requested by rm-walk" in text and "weekly release" in text
    confirm_with_reason(approver, "checked the stages")
    request.refresh_from_db()
    assert request.status == "queued"

    # The worker runs it; the page follows without a reload.
    approver.goto(dashboard)
    approver.evaluate("window.notReloaded = true")
    card = approver.locator("section.env[aria-label='Production']")
    running = rules.start_next(production)
    running.log = "backing up\nswitching the service\nsmoke: /healthz 200"
    running.save()
    card.locator(".queued[data-status='running']").wait_for()
    card.get_by_text("smoke: /healthz 200").wait_for()
    shot_to(approver, "releases-running")
    rules.finish(deployment=running, succeeded=True, smoke={"passed": True})
    card.get_by_text("approved by ra-walk").wait_for()
    assert card.locator("p strong").first.inner_text() == new.tag[:12]
    assert approver.evaluate("window.notReloaded") is True

    # The charts carry the API's figures.
    api = approver.context.request
    token = api.post(
        f"{live_server.url}/api/v1/auth/token/",
        data={"username": "rm-walk", "password": DEFAULT_PASSWORD},
    ).json()["access"]
    figures = api.get(
        f"{live_server.url}/api/v1/releases/metrics/dora/?environment=production&weeks=12",
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    approver.reload()
    chart = approver.locator(
        "section.env[aria-label='Production'] figure[data-chart='deployments']"
    )
    assert json.loads(chart.get_attribute("data-values")) == [
        week["deployments"] for week in figures["weekly"]
    ]
    # A week with 0 deployments has a flat bar titled 0; only "no data" has none.
    assert chart.locator("rect").count() == len(figures["weekly"])
    lead_time = approver.locator(
        "section.env[aria-label='Production'] figure[data-chart='lead_time'] rect"
    )
    assert lead_time.count() == sum(
        1 for w in figures["weekly"] if w["lead_time_hours_median"] is not None
    )
    shot_to(approver, "releases-page")
    approver.goto(f"{live_server.url}/admin/releases/deployment/{running.pk}/change/")
    assert "ra-walk" in approver.content() or "succeeded" in approver.content().lower()
    shot_to(approver, "deployment-detail")
    approver.context.close()
    assert approver_errors == []

    # A refused action shows its rule before the form.
    deployments_before = Deployment.objects.count()
    rules.set_pin(
        actor=Actor(user=manager), environment=production, pinned=True, reason="incident"
    )
    page.goto(dashboard)
    assert page.get_by_text("Promote (pinned)").count() == 1
    page.goto(
        f"{live_server.url}/admin/releases/environment/dashboard/act/"
        "?action=promote&environment=production"
    )
    assert "Refused:" in page.inner_text("#content")
    assert page.locator("#reason").count() == 0
    assert Deployment.objects.count() == deployments_before

    # A phone's width: nothing wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(dashboard)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{overflow} px wider than a 390 px screen"
    assert errors == []


def shot_to(page, name: str):
    """A screenshot the README shows (docs/screenshots/), refreshed by every run."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"), full_page=False)
