"""Writing through the API: JWT, roles, optimistic locking, workflow, trash, caching."""

import datetime
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from blog.models import Post, PostStatus
from tests.blog.factories import CategoryFactory, TagFactory, make_post
from tests.factories import DEFAULT_PASSWORD, AuthorFactory, EditorFactory, UserFactory

pytestmark = pytest.mark.django_db
LIST = reverse("post-list")


def detail(slug):
    return reverse("post-detail", args=[slug])


def act(slug, name):
    return reverse(f"post-{name}", args=[slug])


# ----------------------------------------------------------------------------- JWT


def test_token_obtain_refresh_rotation_blacklist_and_logout(api_client):
    user = EditorFactory(username="jwt-user")
    tokens = api_client.post(
        reverse("token-obtain"), {"username": "jwt-user", "password": DEFAULT_PASSWORD}
    ).json()
    assert {"access", "refresh"} <= set(tokens)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert api_client.get(LIST, {"status": "draft"}).status_code == 200
    api_client.credentials()

    refreshed = api_client.post(reverse("token-refresh"), {"refresh": tokens["refresh"]})
    assert refreshed.status_code == 200
    new = refreshed.json()
    assert new["refresh"] != tokens["refresh"]  # rotation
    reused = api_client.post(reverse("token-refresh"), {"refresh": tokens["refresh"]})
    assert reused.status_code == HTTPStatus.UNAUTHORIZED  # the old one is blacklisted

    verify = api_client.post(reverse("token-verify"), {"token": new["access"]})
    assert verify.status_code == 200
    assert api_client.post(reverse("token-logout"), {"refresh": new["refresh"]}).status_code == 200
    after_logout = api_client.post(reverse("token-refresh"), {"refresh": new["refresh"]})
    assert after_logout.status_code == HTTPStatus.UNAUTHORIZED
    assert user.is_active


def test_wrong_password_is_401(api_client):
    UserFactory(username="someone")
    response = api_client.post(
        reverse("token-obtain"), {"username": "someone", "password": "nope"}
    )
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert "detail" in response.json()


def test_bad_bearer_token_is_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    assert api_client.get(LIST).status_code == HTTPStatus.UNAUTHORIZED


# ----------------------------------------------------------------------------- roles


def test_author_creates_a_draft_with_existing_tags_only(author_client, author):
    TagFactory(slug="law")
    response = author_client.post(
        LIST, {"title": "From the API", "body": "Hello *world*", "tags": ["law"]}, format="json"
    )
    assert response.status_code == HTTPStatus.CREATED, response.content
    data = response.json()
    assert (data["status"], data["author"]["username"]) == ("draft", author.username)
    assert data["body_html"] == "<p>Hello <em>world</em></p>"
    assert response["Location"] == detail(data["slug"])
    refused = author_client.post(LIST, {"title": "x", "tags": ["brand-new"]}, format="json")
    assert refused.status_code == HTTPStatus.BAD_REQUEST
    assert "tags" in refused.json()


def test_editor_may_introduce_new_tags_and_set_a_category(editor_client):
    CategoryFactory(slug="law")
    response = editor_client.post(
        LIST, {"title": "Tagged", "tags": ["brand-new"], "category": "law"}, format="json"
    )
    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["tags"] == [{"slug": "brand-new", "name": "Brand New"}]
    assert response.json()["category"]["slug"] == "law"


def test_anonymous_and_plain_users_cannot_write(api_client, jwt_client_for):
    assert api_client.post(LIST, {"title": "x"}, format="json").status_code == 401
    plain = jwt_client_for(UserFactory())
    response = plain.post(LIST, {"title": "x"}, format="json")
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["detail"]


def test_author_edits_own_draft_only(author_client, author):
    mine = make_post(status=PostStatus.DRAFT, author=author, slug="mine")
    theirs = make_post(status=PostStatus.DRAFT, author=AuthorFactory(), slug="theirs")
    assert (
        author_client.patch(detail("mine"), {"title": "Better"}, format="json").status_code == 200
    )
    assert author_client.patch(detail("theirs"), {"title": "x"}, format="json").status_code == 404
    mine.refresh_from_db()
    assert mine.title == "Better"
    author_client.post(act("mine", "submit"))
    refused = author_client.patch(detail("mine"), {"title": "Again"}, format="json")
    assert refused.status_code == HTTPStatus.FORBIDDEN
    assert "only edit their own drafts" in refused.json()["detail"]
    assert theirs.title != "x"


@pytest.mark.parametrize(
    "action_name, start, editor_end, author_code",
    [
        ("submit", PostStatus.DRAFT, "in_review", 200),
        ("withdraw", PostStatus.IN_REVIEW, "draft", 200),
        ("publish", PostStatus.IN_REVIEW, "published", 403),
        ("unpublish", PostStatus.PUBLISHED, "draft", 403),
        ("archive", PostStatus.PUBLISHED, "archived", 403),
    ],
)
def test_workflow_actions_per_role(jwt_client_for, action_name, start, editor_end, author_code):
    author, editor = AuthorFactory(), EditorFactory()
    post = make_post(status=start, author=author, slug="wf")
    response = jwt_client_for(author).post(act("wf", action_name))
    assert response.status_code == author_code, response.content
    if author_code == 200:
        return
    assert Post.objects.get(pk=post.pk).status == start
    response = jwt_client_for(editor).post(act("wf", action_name))
    assert response.status_code == 200
    assert response.json()["status"] == editor_end


def test_schedule_action_and_its_bad_input(editor_client):
    make_post(status=PostStatus.IN_REVIEW, slug="later")
    past = (timezone.now() - datetime.timedelta(hours=1)).isoformat()
    response = editor_client.post(act("later", "schedule"), {"publish_at": past}, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "publish_at" in response.json()
    missing = editor_client.post(act("later", "schedule"), {}, format="json")
    assert missing.status_code == HTTPStatus.BAD_REQUEST
    future = (timezone.now() + datetime.timedelta(days=1)).isoformat()
    ok = editor_client.post(act("later", "schedule"), {"publish_at": future}, format="json")
    assert ok.json()["status"] == "scheduled"


def test_invalid_transition_is_409(editor_client):
    make_post(status=PostStatus.ARCHIVED, slug="old")
    response = editor_client.post(act("old", "publish"))
    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json()["detail"] == "Cannot publish a post that is archived."


def test_superuser_from_createsuperuser_can_do_what_editors_do(jwt_client_for):
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-12345")
    client = jwt_client_for(root)
    slug = client.post(LIST, {"title": "By the boss"}, format="json").json()["slug"]
    assert client.post(act(slug, "publish")).json()["status"] == "published"


# ----------------------------------------------------------------------------- locking


def test_etag_and_if_match_412(editor_client):
    make_post(status=PostStatus.DRAFT, slug="locked", title="v1")
    first = editor_client.get(detail("locked"))
    etag = first["ETag"]
    ok = editor_client.patch(detail("locked"), {"title": "v2"}, format="json", HTTP_IF_MATCH=etag)
    assert ok.status_code == 200
    assert ok["ETag"] != etag
    stale = editor_client.patch(
        detail("locked"), {"title": "v3"}, format="json", HTTP_IF_MATCH=etag
    )
    assert stale.status_code == HTTPStatus.PRECONDITION_FAILED
    assert Post.objects.get(slug="locked").title == "v2"
    assert editor_client.get(detail("locked")).json()["title"] == "v2"


def test_put_replaces_and_needs_the_current_etag(editor_client):
    make_post(status=PostStatus.DRAFT, slug="put-me", meta_title="Old SEO")
    etag = editor_client.get(detail("put-me"))["ETag"]
    response = editor_client.put(
        detail("put-me"), {"title": "Replaced", "body": "new"}, format="json", HTTP_IF_MATCH=etag
    )
    assert response.status_code == 200
    assert (response.json()["title"], response.json()["meta_title"]) == ("Replaced", "")


def test_workflow_action_with_stale_if_match_is_412(editor_client):
    make_post(status=PostStatus.IN_REVIEW, slug="wf-lock")
    etag = editor_client.get(detail("wf-lock"))["ETag"]
    editor_client.patch(detail("wf-lock"), {"title": "changed"}, format="json")
    response = editor_client.post(act("wf-lock", "publish"), HTTP_IF_MATCH=etag)
    assert response.status_code == HTTPStatus.PRECONDITION_FAILED
    assert Post.objects.get(slug="wf-lock").status == PostStatus.IN_REVIEW


# ----------------------------------------------------------------------------- caching


def test_conditional_get_304_for_list_and_detail(api_client):
    make_post(slug="cached")
    for url in (LIST, detail("cached")):
        first = api_client.get(url)
        assert first.status_code == 200
        assert first["Cache-Control"].startswith("public, max-age=")
        again = api_client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
        assert again.status_code == HTTPStatus.NOT_MODIFIED
        assert again["ETag"] == first["ETag"]
        since = api_client.get(url, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
        assert since.status_code == HTTPStatus.NOT_MODIFIED
        old = "Mon, 01 Jan 2001 00:00:00 GMT"
        assert api_client.get(url, HTTP_IF_MODIFIED_SINCE=old).status_code == 200


def test_authenticated_responses_are_private(editor_client):
    make_post(slug="priv")
    response = editor_client.get(detail("priv"))
    assert response["Cache-Control"] == "private, no-cache"


def test_a_change_invalidates_the_cached_public_answer(api_client, editor_client):
    make_post(slug="fresh", title="Before")
    etag = api_client.get(detail("fresh"))["ETag"]
    assert api_client.get(LIST).json()["results"][0]["title"] == "Before"
    editor_client.patch(detail("fresh"), {"title": "After"}, format="json")
    assert api_client.get(detail("fresh"), HTTP_IF_NONE_MATCH=etag).status_code == 200
    assert api_client.get(LIST).json()["results"][0]["title"] == "After"


def assert_scheduled_post_appears_on_time(api_client, warm_reads: int = 1):
    """A post scheduled five minutes ahead is missing from the list (read `warm_reads`
    times, so later reads come from the cache) and there one second after its time."""
    import time_machine

    start = timezone.now()
    with time_machine.travel(start, tick=False):
        make_post(slug="old-news")
        make_post(
            status=PostStatus.SCHEDULED,
            slug="breaking",
            published_at=start + datetime.timedelta(minutes=5),
        )
        for _ in range(warm_reads):
            assert {i["slug"] for i in api_client.get(LIST).json()["results"]} == {"old-news"}
    with time_machine.travel(start + datetime.timedelta(minutes=5, seconds=1), tick=False):
        slugs = {i["slug"] for i in api_client.get(LIST).json()["results"]}
    assert slugs == {"old-news", "breaking"}
    assert Post.objects.get(slug="breaking").status == PostStatus.PUBLISHED


def test_a_scheduled_post_is_never_served_late_from_the_cache(api_client):
    assert_scheduled_post_appears_on_time(api_client, warm_reads=2)


# ----------------------------------------------------------------------------- trash


def test_delete_moves_to_trash_then_restore_or_purge(editor_client, api_client):
    make_post(slug="binned")
    assert editor_client.delete(detail("binned")).status_code == HTTPStatus.NO_CONTENT
    assert api_client.get(detail("binned")).status_code == 404
    assert editor_client.get(detail("binned")).status_code == 404
    trash = editor_client.get(reverse("post-trash")).json()["results"]
    assert [item["slug"] for item in trash] == ["binned"]
    assert editor_client.post(act("binned", "restore")).status_code == 200
    assert api_client.get(detail("binned")).status_code == 200
    editor_client.delete(detail("binned"))
    assert editor_client.post(act("binned", "purge")).status_code == HTTPStatus.NO_CONTENT
    assert not Post.objects.filter(slug="binned").exists()


def test_authors_cannot_see_the_trash_or_purge(author_client, author):
    make_post(status=PostStatus.DRAFT, author=author, slug="own")
    assert author_client.delete(detail("own")).status_code == HTTPStatus.NO_CONTENT
    assert author_client.get(reverse("post-trash")).status_code == HTTPStatus.FORBIDDEN
    assert author_client.post(act("own", "purge")).status_code == HTTPStatus.FORBIDDEN
    assert Post.objects.filter(slug="own").exists()


def test_purge_trash_command_removes_expired_posts(settings):
    import time_machine
    from django.core.management import call_command

    from blog import services

    editor = EditorFactory()
    post = make_post(slug="expiring", editor=editor)
    services.post_trash(post=post, user=editor)
    call_command("purge_trash")
    assert Post.objects.filter(slug="expiring").exists()
    with time_machine.travel(
        timezone.now() + datetime.timedelta(days=settings.BLOG_TRASH_DAYS + 1)
    ):
        call_command("purge_trash")
    assert not Post.objects.filter(slug="expiring").exists()


# ----------------------------------------------------------------------------- revisions


def test_revisions_list_and_restore(editor_client):
    make_post(status=PostStatus.DRAFT, slug="rev", title="First")
    editor_client.patch(detail("rev"), {"title": "Second"}, format="json")
    revisions = editor_client.get(reverse("post-revisions", args=["rev"])).json()["results"]
    assert [r["snapshot"]["title"] for r in revisions] == ["Second", "First"]
    first = revisions[-1]["id"]
    assert editor_client.get(reverse("post-revision", args=["rev", first])).json()["number"] == 1
    restored = editor_client.post(reverse("post-restore-revision", args=["rev", first]))
    assert restored.json()["title"] == "First"
    assert len(editor_client.get(reverse("post-revisions", args=["rev"])).json()["results"]) == 3


def test_revisions_are_for_editors(author_client, author):
    make_post(status=PostStatus.DRAFT, author=author, slug="mine-rev")
    assert author_client.get(reverse("post-revisions", args=["mine-rev"])).status_code == 403


def test_cached_public_answers_still_count_against_the_throttle(api_client, settings):
    make_post(slug="counted")
    first = api_client.get(LIST)
    second = api_client.get(LIST)  # served from the cache, before DRF's dispatch
    assert second.content == first.content
    assert int(second["RateLimit-Remaining"]) == int(first["RateLimit-Remaining"]) - 1
    assert second["ETag"] == first["ETag"]
    assert api_client.get(LIST, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304


def test_cached_answers_are_never_given_to_signed_in_callers(editor_client, api_client):
    make_post(status=PostStatus.DRAFT, slug="editors-only")
    api_client.get(LIST)  # caches the anonymous answer
    assert "editors-only" in {i["slug"] for i in editor_client.get(LIST).json()["results"]}
