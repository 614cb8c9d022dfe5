"""The post editor in a real browser: the Markdown editor's live preview matches the public
page, an image dropped into the text is uploaded, inserted and served with renditions."""

import base64
import datetime
import io

import pytest
from django.utils import timezone
from PIL import Image as PILImage

from blog.models import Image, Post, PostStatus
from tests.blog.factories import make_post
from tests.browser.conftest import admin_login
from tests.browser.test_admin_flows import shot, type_body
from tests.factories import DEFAULT_PASSWORD, EditorFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Drops a file on the editor the way a browser does when one is dragged from the desktop.
DROP_FILE = """([b64, name]) => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const file = new File([bytes], name, { type: "image/jpeg" });
  const transfer = new DataTransfer();
  transfer.items.add(file);
  const target = document.querySelector(".EasyMDEContainer .CodeMirror-lines");
  for (const type of ["dragenter", "dragover", "drop"]) {
    target.dispatchEvent(new DragEvent(type, {
      dataTransfer: transfer, bubbles: true, cancelable: true, clientX: 40, clientY: 40,
    }));
  }
}"""


PREVIEW_STYLED = """() => {
  const doc = document.getElementById("body-preview").contentDocument;
  return doc && doc.readyState === "complete" && doc.styleSheets.length === 1
    && doc.styleSheets[0].cssRules.length > 0;
}"""


def photo_bytes() -> bytes:
    picture = PILImage.new("RGB", (1400, 900), (30, 90, 160))
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG")
    return buffer.getvalue()


def console_errors(page) -> list[str]:
    errors = []
    page.on(
        "console",
        lambda message: errors.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def preview_html(page) -> str:
    frame = page.frame_locator("#body-preview")
    return frame.locator("article").inner_html()


def test_the_live_preview_renders_as_the_public_page_does(page, live_server, media_storage):
    errors = console_errors(page)
    editor = EditorFactory(username="previewer")
    post = make_post(status=PostStatus.DRAFT, title="Preview me", body="Old text")
    admin_login(page, live_server, editor.username, DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/admin/blog/post/{post.pk}/change/")
    type_body(page, "## A heading\n\nSome *emphasis* and a [link](https://example.com).\n")
    page.frame_locator("#body-preview").locator("article em").wait_for()
    page.wait_for_function(
        "() => document.querySelector('.editor-status').textContent.includes('min read')"
    )
    assert "words" in page.inner_text(".editor-status")
    shot(page, "admin-editor-preview")

    page.get_by_role("button", name="Publish now").click()
    page.wait_for_selector(".messagelist")
    post = Post.objects.get(pk=post.pk)
    assert post.status == PostStatus.PUBLISHED
    assert "<em>emphasis</em>" in post.body_html
    page.goto(f"{live_server.url}/admin/blog/post/{post.pk}/change/")
    page.frame_locator("#body-preview").locator("article em").wait_for()
    # The preview holds exactly what the public page shows for the body...
    assert preview_html(page).strip() == post.body_html.strip()
    preview_font = (
        page.frame_locator("#body-preview")
        .locator("body")
        .evaluate("el => getComputedStyle(el).fontFamily")
    )
    page.goto(f"{live_server.url}{post.get_absolute_url()}")
    assert post.body_html.strip() in page.content()
    # ... in the same stylesheet.
    assert page.locator("body").evaluate("el => getComputedStyle(el).fontFamily") == preview_font
    assert errors == []


def test_an_image_dropped_into_the_editor_is_stored_inserted_and_served(
    page, live_server, media_storage
):
    errors = console_errors(page)
    editor = EditorFactory(username="dropper")
    post = make_post(status=PostStatus.IN_REVIEW, title="With a picture", body="Before.")
    admin_login(page, live_server, editor.username, DEFAULT_PASSWORD)
    page.goto(f"{live_server.url}/admin/blog/post/{post.pk}/change/")
    page.wait_for_selector(".EasyMDEContainer .CodeMirror")
    page.evaluate(DROP_FILE, [base64.b64encode(photo_bytes()).decode(), "harbour.jpg"])
    page.wait_for_function("() => document.getElementById('id_body').value.includes('/images/')")
    image = Image.objects.get()
    assert image.original_name == "harbour.jpg"
    assert f"/images/{image.key}/original.jpg" in page.input_value("#id_body")
    assert "Uploaded harbour.jpg" in page.inner_text(".editor-status")
    # The preview shows it already, from its renditions.
    page.frame_locator("#body-preview").locator("article img[srcset]").wait_for()

    # Publishing asks for alt text first; the editor describes the picture in the text.
    page.get_by_role("button", name="Publish now").click()
    page.wait_for_selector(".messagelist")
    assert "alt text" in page.inner_text(".messagelist")
    assert Post.objects.get(pk=post.pk).status == PostStatus.IN_REVIEW
    page.evaluate(
        "() => { const cm = document.querySelector('.CodeMirror').CodeMirror;"
        " cm.setValue(cm.getValue().replace('![](', '![A harbour at dawn](')); }"
    )
    page.get_by_role("button", name="Publish now").click()
    page.wait_for_selector(".messagelist")
    assert "is now published" in page.inner_text(".messagelist")

    post = Post.objects.get(pk=post.pk)
    assert post.status == PostStatus.PUBLISHED
    assert list(post.images.all()) == [image]
    page.goto(f"{live_server.url}{post.get_absolute_url()}")
    picture = page.locator("article img[srcset]")
    assert picture.get_attribute("alt") == "A harbour at dawn"
    assert picture.get_attribute("loading") == "lazy"
    picture.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const img = document.querySelector('article img[srcset]');"
        " return img.complete && img.naturalWidth > 0; }"
    )
    assert picture.evaluate("img => img.currentSrc").endswith(".webp")
    shot(page, "site-post-with-image")
    assert errors == []


def test_every_workflow_button_keeps_what_was_typed(page, live_server):
    """Type, then press each workflow button in turn: the typed title and body are saved
    with the action every time (one save, then the transition)."""
    errors = console_errors(page)
    editor = EditorFactory(username="button-presser")
    post = make_post(status=PostStatus.DRAFT, title="Start", body="Start body")
    admin_login(page, live_server, editor.username, DEFAULT_PASSWORD)
    change = f"{live_server.url}/admin/blog/post/{post.pk}/change/"
    tomorrow = timezone.localtime() + datetime.timedelta(days=1)
    steps = [
        ("Submit for review", PostStatus.IN_REVIEW),
        ("Withdraw to draft", PostStatus.DRAFT),
        ("Schedule", PostStatus.SCHEDULED),
        ("Publish now", PostStatus.PUBLISHED),
        ("Archive", PostStatus.ARCHIVED),
        ("Back to draft", PostStatus.DRAFT),
    ]
    for number, (button, status) in enumerate(steps, start=1):
        page.goto(change)
        page.fill("#id_title", f"Step {number}: {button}")
        type_body(page, f"Typed before pressing {button}.")
        if button == "Schedule":  # the one publish time: the form's own field
            page.fill("#id_published_at_0", f"{tomorrow:%Y-%m-%d}")
            page.fill("#id_published_at_1", "09:30:00")
        page.get_by_role("button", name=button, exact=True).click()
        page.wait_for_selector(".messagelist")
        assert "Saved;" in page.inner_text(".messagelist"), page.inner_text(".messagelist")
        post.refresh_from_db()
        assert (post.title, post.body, post.status) == (
            f"Step {number}: {button}",
            f"Typed before pressing {button}.",
            status,
        )
    assert errors == []
