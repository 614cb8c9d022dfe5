"""Editors' flows in a real browser: publish from the change page, see it on the site."""

import os

import pytest

from blog.models import Autosave, Post, PostStatus
from tests.blog.factories import make_post
from tests.browser.conftest import admin_login
from tests.factories import DEFAULT_PASSWORD, AuthorFactory, EditorFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
SCREENSHOTS = os.environ.get("SCREENSHOT_DIR")


def type_body(page, text):
    """Type into the Markdown editor as a person would (it replaces the plain textarea)."""
    page.click(".EasyMDEContainer .CodeMirror")
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


def shot(page, name):
    if SCREENSHOTS:
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


def test_editor_publishes_a_post_in_review_and_readers_see_it(page, live_server):
    editor = EditorFactory(username="editor-in-browser")
    author = AuthorFactory(username="author-in-browser")
    post = make_post(
        status=PostStatus.IN_REVIEW, author=author, title="Browser-made headline", body="Hi"
    )
    page.goto(f"{live_server.url}{post.get_absolute_url()}")
    assert "Not found" in page.content()

    admin_login(page, live_server, editor.username, DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/admin/blog/post/{post.pk}/change/")
    shot(page, "admin-change-in-review")
    page.get_by_role("button", name="Publish now").click()
    page.wait_for_selector(".messagelist")
    assert "is now published" in page.inner_text(".messagelist")

    post.refresh_from_db()
    assert post.status == PostStatus.PUBLISHED
    page.goto(f"{live_server.url}/")
    assert page.get_by_role("link", name="Browser-made headline").is_visible()
    shot(page, "site-home")


def test_author_has_no_publish_button_and_edits_their_draft(page, live_server):
    author = AuthorFactory(username="writer-in-browser")
    post = make_post(status=PostStatus.DRAFT, author=author, title="My draft", body="Old")
    admin_login(page, live_server, author.username, DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/admin/blog/post/{post.pk}/change/")
    assert page.get_by_role("button", name="Submit for review").is_visible()
    assert page.get_by_role("button", name="Publish now").count() == 0
    page.fill("#id_title", "My better draft")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist")
    shot(page, "admin-changelist-author")
    assert Post.objects.get(pk=post.pk).title == "My better draft"
    assert Post.objects.get(pk=post.pk).revisions.count() == 2


def test_public_pages_admin_and_api_docs_load_without_csp_violations(page, live_server):
    """The policy holds on every kind of page (the `page` fixture fails on a violation), and
    the pages still work under it: Swagger UI renders, the admin's scripts run."""
    editor = EditorFactory(username="csp-editor")
    post = make_post(editor=editor, title="Under a strict policy", tags=["csp"])
    for path in ("/", post.get_absolute_url(), "/search/?q=strict", "/tags/csp/"):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        policy = response.headers["content-security-policy"]
        script_src = next(d for d in policy.split("; ") if d.startswith("script-src"))
        assert "unsafe" not in script_src and "frame-ancestors 'none'" in policy
    page.goto(f"{live_server.url}/api/v1/docs/")
    page.wait_for_selector(".swagger-ui .info")  # rendered by its scripts, under the CSP
    admin_login(page, live_server, editor.username, DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/admin/blog/post/{post.pk}/change/")
    page.wait_for_selector("#post_form")
    page.goto(f"{live_server.url}/admin/releases/environment/dashboard/")
    page.wait_for_selector("h1")


def test_typed_edits_survive_a_workflow_button_and_leaving_asks_first(page, live_server):
    editor = EditorFactory(username="keeps-edits")
    post = make_post(status=PostStatus.IN_REVIEW, title="First words", body="Old body")
    admin_login(page, live_server, editor.username, DEFAULT_PASSWORD)
    change = f"{live_server.url}/admin/blog/post/{post.pk}/change/"
    page.goto(change)
    page.fill("#id_title", "Better words, typed before publishing")
    page.get_by_role("button", name="Publish now").click()
    page.wait_for_selector(".messagelist")
    assert "is now published" in page.inner_text(".messagelist")
    post.refresh_from_db()
    assert post.title == "Better words, typed before publishing"
    assert post.status == PostStatus.PUBLISHED

    # Unsaved changes: leaving the page asks first (the browser's beforeunload dialog).
    page.on("dialog", lambda dialog: dialog.dismiss())
    page.fill("#id_title", "Not saved yet")
    with page.expect_event("dialog") as asked:
        page.evaluate("window.location.href = '/admin/'")
    assert asked.value.type == "beforeunload"
    assert page.url == change  # dismissed: still on the page, with what was typed
    assert page.input_value("#id_title") == "Not saved yet"


def test_the_autosave_brings_back_what_a_closed_tab_lost(browser, page, live_server):
    editor = EditorFactory(username="autosaver")
    post = make_post(status=PostStatus.DRAFT, title="Draft", body="Saved body")
    admin_login(page, live_server, editor.username, DEFAULT_PASSWORD)
    change = f"{live_server.url}/admin/blog/post/{post.pk}/change/"
    page.goto(change)
    type_body(page, "A paragraph typed and never saved.")
    # The positive signal: the autosave row exists (the script sends every few seconds).
    for _ in range(150):
        if Autosave.objects.filter(post=post, content__body__startswith="A paragraph").exists():
            break
        page.wait_for_timeout(100)
    else:
        raise AssertionError("no autosave arrived")
    page.context.close()  # the tab is gone, unsaved

    again = browser.new_context().new_page()
    admin_login(again, live_server, editor.username, DEFAULT_PASSWORD)
    again.goto(change)
    assert again.input_value("#id_body") == "Saved body"
    again.get_by_role("button", name="Restore them").click()
    assert again.input_value("#id_body") == "A paragraph typed and never saved."
    # ... and the editor the person sees shows it too.
    assert "never saved" in again.inner_text(".EasyMDEContainer .CodeMirror")
    again.click("input[name=_save]")
    again.wait_for_selector(".messagelist")
    post.refresh_from_db()
    assert post.body == "A paragraph typed and never saved."
    again.context.close()
