"""The editors' admin through Django's test client, as an editor and as an author."""

import datetime

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from blog.models import Comment, CommentStatus, Post, PostStatus
from tests.blog.factories import CommentFactory, make_post
from tests.factories import AuthorFactory, EditorFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:blog_post_changelist")


def bulk(client, action, posts, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [p.pk for p in posts], **extra}
    return client.post(CHANGELIST, data, follow=True)


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


def statuses(*posts):
    return [Post.objects.get(pk=p.pk).status for p in posts]


def post_form_data(post, **overrides):
    data = {
        "title": post.title,
        "slug": post.slug,
        "author": post.author_id,
        "body": post.body,
        "excerpt": post.excerpt,
        "opened_version": post.version,
        "category": "",
        "tags": [],
        "featured": "",
        "published_at_0": "",
        "published_at_1": "",
        "cover_image_url": "",
        "cover_image_alt": "",
        "meta_title": "",
        "meta_description": "",
        "canonical_url": "",
    }
    data.update(overrides)
    return data


@pytest.fixture
def editor_client(client):
    editor = EditorFactory(username="ed")
    client.force_login(editor)
    client.user = editor
    return client


@pytest.fixture
def author_client(client):
    author = AuthorFactory(username="au")
    client.force_login(author)
    client.user = author
    return client


def test_editor_bulk_publish_reports_changed_and_skipped(editor_client):
    ready = [make_post(status=PostStatus.IN_REVIEW, title=f"Ready {n}") for n in range(2)]
    archived = make_post(status=PostStatus.ARCHIVED, title="Old one")
    response = bulk(editor_client, "publish_now", [*ready, archived])
    assert statuses(*ready, archived) == ["published", "published", "archived"]
    text = " ".join(messages_of(response))
    assert "2 posts: publish now." in text
    assert "1 post skipped" in text and "Cannot publish a post that is archived." in text


@pytest.mark.parametrize(
    "action, start, end",
    [
        ("submit_for_review", PostStatus.DRAFT, PostStatus.IN_REVIEW),
        ("unpublish", PostStatus.PUBLISHED, PostStatus.DRAFT),
        ("archive", PostStatus.PUBLISHED, PostStatus.ARCHIVED),
    ],
)
def test_editor_bulk_actions(editor_client, action, start, end):
    posts = [make_post(status=start, title=f"P{n}") for n in range(3)]
    bulk(editor_client, action, posts)
    assert statuses(*posts) == [end] * 3


def test_bulk_schedule_asks_for_a_time_then_schedules(editor_client):
    posts = [make_post(status=PostStatus.IN_REVIEW, title=f"S{n}") for n in range(2)]
    response = bulk(editor_client, "schedule", posts)
    assert "Schedule posts" in response.content.decode()
    assert statuses(*posts) == ["in_review"] * 2
    when = timezone.localtime() + datetime.timedelta(days=2)
    bulk(editor_client, "schedule", posts, publish_at=when.strftime("%Y-%m-%dT%H:%M"))
    assert statuses(*posts) == ["scheduled"] * 2


def test_bulk_schedule_in_the_past_changes_nothing(editor_client):
    post = make_post(status=PostStatus.IN_REVIEW)
    when = timezone.localtime() - datetime.timedelta(days=1)
    response = bulk(editor_client, "schedule", [post], publish_at=when.strftime("%Y-%m-%dT%H:%M"))
    assert "Scheduling needs a publish time in the future." in response.content.decode()
    assert statuses(post) == ["in_review"]


def test_author_sees_and_submits_only_own_posts(author_client):
    mine = make_post(status=PostStatus.DRAFT, author=author_client.user, title="Mine")
    theirs = make_post(status=PostStatus.DRAFT, author=AuthorFactory(), title="Theirs")
    listing = author_client.get(CHANGELIST).content.decode()
    assert "Mine" in listing and "Theirs" not in listing
    actions = author_client.get(CHANGELIST).context["action_form"].fields["action"].choices
    assert {name for name, _ in actions} == {"", "delete_selected", "submit_for_review"} - {
        "delete_selected"
    } | ({"delete_selected"} & {name for name, _ in actions})
    bulk(author_client, "submit_for_review", [mine, theirs])
    assert statuses(mine, theirs) == ["in_review", "draft"]
    change_url = reverse("admin:blog_post_change", args=[theirs.pk])
    assert author_client.get(change_url).status_code == 302  # not theirs to see: back to list


def test_author_cannot_publish_through_the_bulk_action(author_client):
    mine = make_post(status=PostStatus.IN_REVIEW, author=author_client.user)
    response = bulk(author_client, "publish_now", [mine])
    assert statuses(mine) == ["in_review"]
    assert response.status_code == 200


def test_author_creates_a_draft_as_themselves(author_client):
    response = author_client.post(
        reverse("admin:blog_post_add"),
        {
            **post_form_data(Post(title="Brand new", slug="brand-new", body="Hello")),
            "author": "",
            "opened_version": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    post = Post.objects.get(slug="brand-new")
    assert (post.author, post.status) == (author_client.user, PostStatus.DRAFT)
    assert post.revisions.count() == 1
    assert post.body_html == "<p>Hello</p>"


def test_editor_edits_through_the_service_and_tags_are_saved(editor_client):
    from tests.blog.factories import TagFactory

    tag = TagFactory(slug="law")
    post = make_post(status=PostStatus.DRAFT, title="Before")
    url = reverse("admin:blog_post_change", args=[post.pk])
    response = editor_client.post(url, post_form_data(post, title="After", tags=[tag.pk]))
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.title == "After"
    assert list(post.tags.all()) == [tag]
    assert post.revisions.first().created_by == editor_client.user


def test_stale_admin_save_is_refused_with_a_clear_message(editor_client):
    post = make_post(status=PostStatus.DRAFT, title="Shared")
    url = reverse("admin:blog_post_change", args=[post.pk])
    opened_by_a = post_form_data(post, title="From A")
    opened_by_b = post_form_data(post, title="From B")
    assert editor_client.post(url, opened_by_a).status_code == 302
    response = editor_client.post(url, opened_by_b)
    assert response.status_code == 200
    assert "changed by someone else since you opened it" in response.content.decode()
    post.refresh_from_db()
    assert post.title == "From A"


def test_change_page_shows_workflow_buttons_preview_link_and_the_editor(editor_client):
    post = make_post(status=PostStatus.IN_REVIEW, body="**Bold** move")
    content = editor_client.get(reverse("admin:blog_post_change", args=[post.pk])).content.decode()
    for label in ("Publish now", "Schedule", "Withdraw to draft", "Revisions"):
        assert label in content
    assert "/preview/" in content
    # The body is shown rendered by the editor's live preview, from this endpoint.
    assert f'data-render-url="{reverse("admin:blog_post_render")}"' in content
    assert "easymde.min.js" in content and "blog/editor.js" in content
    # Status and publish time come before the writing.
    assert content.index('class="form-row field-status') < content.index("id_body")


def test_workflow_button_publishes(editor_client):
    post = make_post(status=PostStatus.IN_REVIEW)
    url = reverse("admin:blog_post_transition", args=[post.pk, "publish"])
    response = editor_client.post(url, {"version": post.version}, follow=True)
    assert statuses(post) == ["published"]
    assert "is now published" in " ".join(messages_of(response))
    assert editor_client.get(url).status_code == 405


def test_schedule_button_needs_a_future_time(editor_client):
    post = make_post(status=PostStatus.IN_REVIEW)
    url = reverse("admin:blog_post_transition", args=[post.pk, "schedule"])
    past = (timezone.localtime() - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    editor_client.post(url, {"version": post.version, "publish_at": past})
    assert statuses(post) == ["in_review"]
    future = (timezone.localtime() + datetime.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    editor_client.post(url, {"version": post.version, "publish_at": future})
    assert statuses(post) == ["scheduled"]


def test_revisions_page_compares_and_restores(editor_client):
    post = make_post(status=PostStatus.DRAFT, title="First title", body="line one")
    url = reverse("admin:blog_post_change", args=[post.pk])
    editor_client.post(url, post_form_data(post, title="Second title", body="line two"))
    post.refresh_from_db()
    revisions_url = reverse("admin:blog_post_revisions", args=[post.pk])
    page = editor_client.get(revisions_url, {"a": 1, "b": 2}).content.decode()
    assert "Changes from revision 1 to 2" in page
    assert "First title" in page and "Second title" in page
    first = post.revisions.get(number=1)
    restore_url = reverse("admin:blog_post_restore", args=[post.pk, first.pk])
    editor_client.post(restore_url, {"version": post.version})
    post.refresh_from_db()
    assert (post.title, post.body) == ("First title", "line one")
    assert post.revisions.first().note == "Restored revision 1"


def test_comment_moderation_queue_and_bulk_actions(editor_client):
    post = make_post()
    pending = CommentFactory.create_batch(3, post=post)
    approved = CommentFactory(post=post, status=CommentStatus.APPROVED, body="already fine")
    changelist = reverse("admin:blog_comment_changelist")
    queue = editor_client.get(changelist).content.decode()
    assert "already fine" not in queue  # the default view is the pending queue
    data = {"action": "approve", ACTION_CHECKBOX_NAME: [c.pk for c in pending[:2]]}
    response = editor_client.post(changelist, data, follow=True)
    assert "2 comments marked approved." in " ".join(messages_of(response))
    editor_client.post(changelist, {"action": "mark_spam", ACTION_CHECKBOX_NAME: [pending[2].pk]})
    assert sorted(Comment.objects.values_list("status", flat=True)) == sorted(
        ["approved", "approved", "approved", "spam"]
    )
    assert Comment.objects.get(pk=approved.pk).moderated_by is None
    assert Comment.objects.get(pk=pending[0].pk).moderated_by == editor_client.user


def test_author_cannot_moderate_comments(author_client):
    comment = CommentFactory(post=make_post())
    response = author_client.post(
        reverse("admin:blog_comment_changelist"),
        {"action": "approve", ACTION_CHECKBOX_NAME: [comment.pk]},
    )
    assert response.status_code == 403
    comment.refresh_from_db()
    assert comment.status == CommentStatus.PENDING


def test_view_on_site_is_the_preview_until_the_post_is_visible(editor_client):
    draft = make_post(status=PostStatus.DRAFT)
    url = reverse("admin:blog_post_change", args=[draft.pk])
    assert "/preview/" in editor_client.get(url).content.decode()
    live = make_post(title="Live one")
    page = editor_client.get(reverse("admin:blog_post_change", args=[live.pk])).content.decode()
    assert f'href="{live.get_absolute_url()}"' in page


def test_admin_delete_moves_to_trash_and_restore_brings_it_back(editor_client, client):
    post = make_post(title="Binned in admin")
    delete_url = reverse("admin:blog_post_delete", args=[post.pk])
    editor_client.post(delete_url, {"post": "yes"})
    post.refresh_from_db()
    assert post.deleted_at is not None
    assert client.get(post.get_absolute_url()).status_code == 404
    trash = editor_client.get(CHANGELIST, {"trash": "yes"}).content.decode()
    assert "Binned in admin" in trash
    editor_client.post(
        f"{CHANGELIST}?trash=yes",
        {"action": "restore_from_trash", ACTION_CHECKBOX_NAME: [post.pk]},
    )
    post.refresh_from_db()
    assert post.deleted_at is None


def test_a_workflow_click_costs_the_same_with_many_posts(
    editor_client, django_assert_max_num_queries
):
    """The redirect's access check is one indexed lookup, not a load of every editable post:
    the rows fetched do not grow with the number of posts."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def rows_fetched_by_a_click():
        post = make_post(status=PostStatus.IN_REVIEW)
        url = reverse("admin:blog_post_transition", args=[post.pk, "publish"])
        with CaptureQueriesContext(connection) as queries:
            editor_client.post(url, {"version": post.version})
        # A query that loads editable posts without a pk condition would read them all.
        return [
            q["sql"]
            for q in queries.captured_queries
            if 'FROM "blog_post"' in q["sql"] and '"blog_post"."id" =' not in q["sql"]
        ]

    assert rows_fetched_by_a_click() == []
    for n in range(5):
        make_post(title=f"Another {n}")
    assert rows_fetched_by_a_click() == []


# ----------------------------------------------------------- nothing typed is lost (#16)


@pytest.mark.parametrize(
    "start, action, extra, ends",
    [
        (PostStatus.DRAFT, "submit", {}, PostStatus.IN_REVIEW),
        (PostStatus.IN_REVIEW, "publish", {}, PostStatus.PUBLISHED),
        (PostStatus.IN_REVIEW, "withdraw", {}, PostStatus.DRAFT),
        (PostStatus.PUBLISHED, "archive", {}, PostStatus.ARCHIVED),
        (
            PostStatus.IN_REVIEW,
            "schedule",
            # One place for the publish time: the form's field, saved with the click.
            {
                "published_at_0": f"{timezone.localtime() + datetime.timedelta(days=2):%Y-%m-%d}",
                "published_at_1": "09:30:00",
            },
            PostStatus.SCHEDULED,
        ),
    ],
)
def test_a_workflow_button_saves_what_was_typed_then_acts(
    editor_client, start, action, extra, ends
):
    post = make_post(status=start, title="Before", body="Old body")
    url = reverse("admin:blog_post_change", args=[post.pk])
    data = post_form_data(post, title="Typed just now", body="New body", _workflow=action)
    if post.published_at:
        local = timezone.localtime(post.published_at)
        data["published_at_0"], data["published_at_1"] = f"{local:%Y-%m-%d}", f"{local:%H:%M:%S}"
    response = editor_client.post(url, {**data, **extra}, follow=True)
    post.refresh_from_db()
    assert (post.title, post.body, post.status) == ("Typed just now", "New body", ends)
    assert any(m.startswith("Saved;") for m in messages_of(response))


def test_schedule_without_a_future_publish_time_saves_and_says_why(editor_client):
    post = make_post(status=PostStatus.IN_REVIEW, title="Before", body="Old body")
    url = reverse("admin:blog_post_change", args=[post.pk])
    data = post_form_data(post, title="Typed", body="Kept", _workflow="schedule")
    response = editor_client.post(url, data, follow=True)
    post.refresh_from_db()
    assert (post.title, post.status) == ("Typed", PostStatus.IN_REVIEW)
    assert any(
        m.startswith("Saved. Not done:") and "future" in m for m in messages_of(response)
    ), messages_of(response)


def test_a_refused_workflow_action_still_keeps_the_edit_and_says_so(client):
    author = AuthorFactory(username="au")
    client.force_login(author)
    post = make_post(status=PostStatus.DRAFT, author=author, title="Mine")
    url = reverse("admin:blog_post_change", args=[post.pk])
    data = post_form_data(post, title="Mine, edited", _workflow="publish")
    response = client.post(url, data, follow=True)
    post.refresh_from_db()
    assert post.title == "Mine, edited" and post.status == PostStatus.DRAFT
    assert any(m.startswith("Saved. Not done:") for m in messages_of(response))


def test_a_workflow_button_with_an_invalid_form_changes_nothing(editor_client):
    post = make_post(status=PostStatus.DRAFT, title="Before")
    url = reverse("admin:blog_post_change", args=[post.pk])
    response = editor_client.post(url, post_form_data(post, title="", _workflow="submit"))
    assert response.status_code == 200  # the form again, with its error and the typed text
    post.refresh_from_db()
    assert (post.title, post.status) == ("Before", PostStatus.DRAFT)


def test_a_new_post_s_author_defaults_to_the_signed_in_editor(editor_client):
    page = editor_client.get(reverse("admin:blog_post_add"))
    assert page.context["adminform"].form.initial["author"] == editor_client.user.pk


def test_autosave_keeps_typed_text_without_touching_the_post(editor_client):
    post = make_post(status=PostStatus.DRAFT, title="Saved title", body="Saved body")
    revisions, version = post.revisions.count(), post.version
    url = reverse("admin:blog_post_autosave", args=[post.pk])
    answer = editor_client.post(url, {"title": "Typed title", "body": "Typed body", "x": "y"})
    assert answer.status_code == 200 and "saved_at" in answer.json()
    post.refresh_from_db()
    assert (post.title, post.version, post.revisions.count()) == (
        "Saved title",
        version,
        revisions,
    )
    change = reverse("admin:blog_post_change", args=[post.pk])
    page = editor_client.get(change)
    assert page.context["autosave_content"] == {"title": "Typed title", "body": "Typed body"}
    assert "were not saved" in page.content.decode()
    # Saving the post makes the copy old news: it is not offered again.
    editor_client.post(change, post_form_data(post, title="Typed title", body="Typed body"))
    assert editor_client.get(change).context["autosave"] is None
    assert editor_client.post(url, {}).status_code == 400  # nothing to keep
    assert editor_client.get(url).status_code == 405


def test_autosave_is_refused_to_who_may_not_edit_and_can_be_discarded(editor_client):
    published = make_post(status=PostStatus.PUBLISHED, title="Live")
    client = Client()
    client.force_login(AuthorFactory(username="not-mine"))
    url = reverse("admin:blog_post_autosave", args=[published.pk])
    assert client.post(url, {"title": "Hijack"}).status_code in (403, 404)
    assert editor_client.post(url, {"title": "Edit"}).status_code == 200
    assert editor_client.post(url, {"_discard": "1"}).json() == {"discarded": True}
    change = reverse("admin:blog_post_change", args=[published.pk])
    assert editor_client.get(change).context["autosave"] is None


def test_one_click_moderates_one_comment_from_the_queue(editor_client):
    post = make_post(slug="discussed")
    pending, other = CommentFactory(post=post), CommentFactory(post=post)
    queue = editor_client.get(reverse("admin:blog_comment_changelist")).content.decode()
    spam_url = reverse("admin:blog_comment_moderate", args=[pending.pk, "spam"])
    assert f'formaction="{spam_url}"' in queue
    response = editor_client.post(spam_url, follow=True)
    assert "1 comment marked spam." in messages_of(response)
    pending.refresh_from_db()
    other.refresh_from_db()
    assert pending.status == CommentStatus.SPAM and other.status == CommentStatus.PENDING
    assert editor_client.post(spam_url.replace("/spam/", "/deleted/")).status_code == 404
    assert editor_client.get(spam_url).status_code == 405


def test_the_revision_diff_is_word_wise_and_escaped():
    from blog.admin import word_diff

    html = str(
        word_diff(
            "The court <b>held</b> that rights need remedies.",
            "The court firmly held that rights need <i>remedies</i>.",
        )
    )
    assert "<del>&lt;b&gt;held&lt;/b&gt;</del><ins>firmly held</ins>" in html
    assert "<del>remedies.</del><ins>&lt;i&gt;remedies&lt;/i&gt;.</ins>" in html
    assert "<i>" not in html and "<b>" not in html
    assert "The court " in html  # unchanged words stay, whole


def test_post_list_reads_no_bodies_and_counts_once(editor_client):
    for n in range(3):
        make_post(title=f"Listed {n}", body="A long body " * 200)
    with CaptureQueriesContext(connection) as queries:
        response = editor_client.get(reverse("admin:blog_post_changelist"))
    assert response.status_code == 200
    assert b"Listed 2" in response.content
    post_queries = [q["sql"] for q in queries if 'FROM "blog_post"' in q["sql"]]
    assert not any('"blog_post"."body"' in sql for sql in post_queries), post_queries
    assert sum("COUNT(*)" in sql for sql in post_queries) == 1, post_queries
    assert not any("DATE_TRUNC" in sql or "MIN(" in sql for sql in post_queries), post_queries
