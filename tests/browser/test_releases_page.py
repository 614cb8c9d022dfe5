"""Release staff in a real browser: deploy to staging, promote to production, a second
person approves, the worker runs it, and the Releases page shows the new build."""

import pytest

from core.roles import RELEASE_APPROVER, RELEASE_MANAGER
from releases import tasks
from releases.models import Deployment, Environment
from tests.browser.conftest import admin_login
from tests.browser.test_admin_flows import shot
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.releases.test_deployment_rules import make_build

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
