"""The server refuses what its schema forbids: JSON numbers in string fields, 0/1 for
booleans, strings for integers, a number for a slug, an empty date filter, an empty slug
for "no parent", a boolean filter that is not true or false."""

import pytest

from blog.models import Category
from core.roles import RELEASE_MANAGER
from releases import services
from tests.factories import EditorFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor_api(jwt_client_for):
    return jwt_client_for(EditorFactory(username="strict-editor"))


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": 0}, "name"),
        ({"name": "Ok", "slug": 12}, "slug"),
        ({"name": "Ok", "parent": ""}, "parent"),
        ({"name": "Ok", "parent": 0}, "parent"),
    ],
)
def test_categories_take_their_own_types(editor_api, body, field):
    Category.objects.create(name="Zero", slug="0")  # a number must not find it by its slug
    answer = editor_api.post("/api/v1/categories/", body, format="json")
    assert answer.status_code == 400 and field in answer.json(), answer.content


def test_a_post_takes_strings_and_booleans_only(editor_api):
    for body, field in (
        ({"title": 5}, "title"),
        ({"title": "T", "featured": 1}, "featured"),
        ({"title": "T", "tags": [0]}, "tags"),
    ):
        answer = editor_api.post("/api/v1/posts/", body, format="json")
        assert answer.status_code == 400 and field in answer.json(), (body, answer.content)
    good = editor_api.post("/api/v1/posts/", {"title": "T", "featured": True}, format="json")
    assert good.status_code == 201


def test_ci_reports_take_integers_not_strings(jwt_client_for):
    client = jwt_client_for(UserFactory(username="strict-rm", roles=[RELEASE_MANAGER]))
    _, raw = services.ci_token_create(name="strict", scopes=["builds:write", "builds:read"])
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    sha = "a" * 40
    build = {"repository": "r.example/b", "tag": sha, "commit_sha": sha, "pipeline_id": "12"}
    answer = client.post("/api/v1/releases/builds/", build, format="json")
    assert answer.status_code == 400 and "pipeline_id" in answer.json()
    build["pipeline_id"] = 12
    assert client.post("/api/v1/releases/builds/", build, format="json").status_code == 201
    stage = {"stage": "lint", "job_id": "3", "status": "success"}
    answer = client.post(f"/api/v1/releases/builds/{sha}/stages/", stage, format="json")
    assert answer.status_code == 400 and "job_id" in answer.json()
    assert client.get("/api/v1/releases/builds/?deployable=null").status_code == 400


@pytest.mark.parametrize("value", ["null", "1", "yes", ""])
def test_the_featured_filter_takes_true_or_false_only(api_client, value):
    answer = api_client.get(f"/api/v1/posts/?featured={value}")
    assert answer.status_code == 400 and "featured" in answer.json()
    assert api_client.get("/api/v1/posts/?featured=false").status_code == 200


def test_an_empty_date_filter_is_refused(api_client):
    answer = api_client.get("/api/v1/posts/?updated_since=")
    assert answer.status_code == 400 and "updated_since" in answer.json()
    assert api_client.get("/api/v1/posts/?updated_since=2026-01-01T00:00:00Z").status_code == 200


def test_a_broken_body_is_400_even_with_a_stale_if_match(editor_api):
    from tests.blog.factories import make_post

    make_post(slug="both-wrong")
    for method, body in (("patch", {"tags": [0]}), ("put", {})):
        answer = getattr(editor_api, method)(
            "/api/v1/posts/both-wrong/", body, format="json", HTTP_IF_MATCH='"stale"'
        )
        assert answer.status_code == 400, (method, answer.content)
    fine = editor_api.patch(
        "/api/v1/posts/both-wrong/", {"title": "T"}, format="json", HTTP_IF_MATCH='"stale"'
    )
    assert fine.status_code == 412
