"""Signed preview links through the API: whoever may edit a post creates one; anyone holding
it sees the post; DELETE revokes every link given out so far."""

from http import HTTPStatus

import pytest

from blog.models import PostStatus
from tests.blog.factories import make_post
from tests.factories import AuthorFactory

pytestmark = pytest.mark.django_db


def preview_url(slug: str) -> str:
    return f"/api/v1/posts/{slug}/preview/"


def test_an_editor_shares_a_draft_and_revokes_the_link(editor_client, client):
    make_post(status=PostStatus.DRAFT, slug="not-yet", title="Not yet public")
    answer = editor_client.post(preview_url("not-yet"))
    assert answer.status_code == HTTPStatus.CREATED
    link = answer.json()
    assert link["url"].startswith("http://testserver/preview/") and link["expires_at"]
    page = client.get(link["url"])
    assert page.status_code == 200 and "Not yet public" in page.content.decode()
    assert "not public" in page.content.decode()
    second = editor_client.post(preview_url("not-yet")).json()["url"]
    assert editor_client.delete(preview_url("not-yet")).status_code == HTTPStatus.NO_CONTENT
    for url in (link["url"], second):
        refused = client.get(url)
        assert refused.status_code == 403 and "revoked" in refused.content.decode()
    fresh = editor_client.post(preview_url("not-yet")).json()["url"]
    assert client.get(fresh).status_code == 200


def test_a_preview_of_a_published_post_says_so(editor_client, client):
    post = make_post(status=PostStatus.PUBLISHED, slug="live-one")
    url = editor_client.post(preview_url("live-one")).json()["url"]
    text = client.get(url).content.decode()
    assert "This post is published" in text and post.get_absolute_url() in text


def test_who_may_not_edit_gets_no_link(api_client, jwt_client_for):
    make_post(status=PostStatus.PUBLISHED, slug="someone-elses")
    assert api_client.post(preview_url("someone-elses")).status_code == HTTPStatus.UNAUTHORIZED
    author = jwt_client_for(AuthorFactory(username="outsider"))
    answer = author.post(preview_url("someone-elses"))
    assert answer.status_code in (HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND)
    assert author.delete(preview_url("someone-elses")).status_code in (403, 404)
