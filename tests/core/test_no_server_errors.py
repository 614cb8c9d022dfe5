"""No 500 for anything a client can send: each class of input that once gave one, on every
kind of endpoint it can reach (public pages, the blog API, the CI API, the webhook, the
admin's release actions). Each answer is a clear 4xx (or a 2xx for an authenticated webhook)
and nothing changes."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from core.roles import RELEASE_MANAGER
from releases import services
from releases.models import Build, Deployment, StageResult, WebhookDelivery
from tests.blog.factories import make_post
from tests.factories import EditorFactory, UserFactory
from tests.releases.test_gitlab import deliver, fixture

NUL_URLS = [
    "/search/?q=%00",
    "/authors/%00/",
    "/tags/%00/",
    "/categories/%00/",
    "/posts/%00/",
    "/tags/%00/feed/",
    "/api/v1/posts/?search=%00",
    "/api/v1/posts/?tag=%00",
    "/api/v1/posts/?author=%00",
    "/api/v1/posts/%00/",
    "/api/v1/posts/?ordering=a%00",
    "/api/v1/tags/%00/",
    "/api/v1/releases/builds/%00/",
    "/api/v1/releases/builds/?ref=%00",
    "/api/v1/releases/environments/%00/",
    "/api/v1/posts/?%00=1",
]
NOT_OBJECTS = ["[]", '"text"', "1", "null", "true", "[" * 3000 + "]" * 3000]
POST_ENDPOINTS = [
    "/api/v1/posts/",
    "/api/v1/comments/",
    "/api/v1/auth/token/",
    "/api/v1/releases/builds/",
    "/api/v1/releases/builds/abc/stages/",
    "/api/v1/releases/environments/staging/deploy/",
    "/api/v1/releases/environments/production/promote/",
]


@pytest.fixture
def callers(db):
    """Anonymous, an editor (session) and a CI token with every scope."""
    make_post(title="Visible")
    editor = APIClient()
    editor.force_authenticate(EditorFactory(username="fuzzy-editor"))
    _, raw = services.ci_token_create(
        name="ci", scopes=["builds:write", "builds:read", "deploy:staging"]
    )
    ci = APIClient()
    ci.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return {"anonymous": APIClient(), "editor": editor, "ci": ci}


@pytest.mark.django_db
@pytest.mark.parametrize("url", NUL_URLS)
def test_a_nul_byte_in_a_path_or_query_is_a_400(callers, url):
    for name, client in callers.items():
        response = client.get(url)
        assert response.status_code == 400, (name, url, response.status_code)
        if url.startswith("/api/"):
            assert "not allowed" in response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body", NOT_OBJECTS, ids=["array", "string", "number", "null", "bool", "deep"]
)
def test_a_json_body_that_is_not_an_object_is_a_400(callers, body):
    for url in POST_ENDPOINTS:
        for name, client in callers.items():
            response = client.post(url, data=body, content_type="application/json")
            assert 400 <= response.status_code < 500, (name, url, response.status_code)
    assert not Build.objects.exists() and not Deployment.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        '{"stage": "test", "job_id": 1, "status": "\\ud800"}',
        '{"stage": "test", "job_id": 1, "status": "success", "details": {"a": "\\u0000"}}',
        '{"stage": "te\\u0000st", "job_id": 1, "status": "success"}',
    ],
    ids=["lone-surrogate-choice", "nul-in-json-field", "nul-in-text"],
)
def test_unstorable_characters_in_a_json_body_are_a_400(callers, body):
    sha = "c" * 40
    ci = callers["ci"]
    ci.post("/api/v1/releases/builds/", {"repository": "r/x", "tag": sha, "commit_sha": sha})
    response = ci.post(
        f"/api/v1/releases/builds/{sha}/stages/", data=body, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert not StageResult.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("raw_id", ["¹", "٣", "1" * 30, "-1", "0x10"])
def test_odd_ids_are_a_404_not_a_500(callers, raw_id, client):
    ci = callers["ci"]
    assert ci.get(f"/api/v1/releases/builds/{raw_id}/stages/").status_code in (404, 405)
    assert ci.post(
        f"/api/v1/releases/builds/{raw_id}/stages/",
        {"stage": "x", "job_id": 1, "status": "success"},
    ).status_code in (400, 404)
    assert callers["editor"].get(f"/api/v1/posts/{raw_id}/").status_code == 404
    client.force_login(UserFactory(username="rm-ids", is_staff=True, roles=[RELEASE_MANAGER]))
    act = reverse("admin:releases_act")
    assert client.get(act, {"action": "mark_bad", "build": raw_id}).status_code == 404


@pytest.mark.django_db
def test_a_digest_reported_under_a_second_tag_is_a_409_naming_the_first(callers):
    ci = callers["ci"]
    digest = "sha256:" + "b" * 64
    first = {"repository": "r/x", "tag": "a" * 40, "commit_sha": "a" * 40, "digest": digest}
    assert ci.post("/api/v1/releases/builds/", first).status_code == 201
    response = ci.post("/api/v1/releases/builds/", {**first, "tag": "v1.2.0"})
    assert response.status_code == 409
    assert response.json()["code"] == "digest_in_use"
    assert "a" * 40 in response.json()["detail"]
    assert Build.objects.count() == 1


ODD_PIPELINE_SHAPES = {
    "object_attributes-string": lambda p: {**p, "object_attributes": "pipeline"},
    "builds-strings": lambda p: {**p, "builds": ["a", "b"]},
    "builds-object": lambda p: {**p, "builds": {"id": 1}},
    "project-list": lambda p: {**p, "project": [1, 2]},
    "sha-number": lambda p: {**p, "object_attributes": {**p["object_attributes"], "sha": 5}},
    "huge-job-id": lambda p: {**p, "builds": [{**p["builds"][0], "id": 10**30}]},
    "huge-timestamp": lambda p: {
        **p,
        "builds": [{**p["builds"][0], "started_at": "999999999-01-01 00:00:00 UTC"}],
    },
    "status-number": lambda p: {**p, "builds": [{**p["builds"][0], "status": 7}]},
    "nul-in-name": lambda p: {**p, "builds": [{**p["builds"][0], "name": "a\x00b"}]},
}


@pytest.mark.django_db
@pytest.mark.parametrize("shape", sorted(ODD_PIPELINE_SHAPES))
def test_an_authenticated_webhook_of_unexpected_shape_is_2xx_with_the_reason(hook, shape):
    payload = ODD_PIPELINE_SHAPES[shape](fixture("pipeline_hook.json"))
    response = deliver(hook, "Pipeline Hook", payload)
    assert response.status_code == 200, response.content
    answer = response.json()
    delivery = WebhookDelivery.objects.get(pk=answer["delivery"])
    assert delivery.outcome in ("ignored", "failed", "processed")
    if delivery.outcome != "processed":
        assert delivery.detail and answer["detail"] == delivery.detail


@pytest.mark.django_db
@pytest.mark.parametrize("body", [b"not json at all", b"[1, 2]", b"\xff\xfe\x00garbage"])
def test_an_authenticated_non_json_delivery_is_stored_and_answered_2xx(hook, body):
    response = hook.post(
        "/api/v1/releases/gitlab/webhook/",
        data=body,
        content_type="application/json",
        HTTP_X_GITLAB_EVENT="Pipeline Hook",
        HTTP_X_GITLAB_TOKEN="hook-secret-for-tests",
    )
    assert response.status_code == 200
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == "ignored" and "JSON" in delivery.detail
    assert not Build.objects.exists()


@pytest.mark.django_db
def test_a_bad_secret_is_still_a_401_even_with_a_non_json_body(hook):
    response = hook.post(
        "/api/v1/releases/gitlab/webhook/",
        data=b"not json",
        content_type="application/json",
        HTTP_X_GITLAB_TOKEN="wrong",
    )
    assert response.status_code == 401
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db
def test_unsigned_deliveries_are_refused_once_a_signing_token_is_configured(hook, settings):
    settings.GITLAB_WEBHOOK_SIGNING_TOKEN = "whsec_" + "c2VjcmV0LXNpZ25pbmcta2V5"
    response = deliver(hook, "Pipeline Hook", fixture("pipeline_hook.json"))
    assert response.status_code == 401
    assert "unsigned" in response.json()["detail"]
    assert not Build.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"action": "deploy"},
        {"action": "deploy", "environment": "staging"},
        {"action": "approve"},
        {"action": "cancel", "reason": "x"},
        {"action": "promote", "reason": "x"},
        {"action": "freeze", "reason": "x"},
        {"action": "mark_bad", "reason": "x"},
        {"action": "rollback", "environment": "nowhere", "reason": "x"},
        {"action": "deploy", "environment": "staging", "build": "1\x00", "reason": "x"},
    ],
)
def test_admin_release_actions_with_missing_or_malformed_parameters(client, params):
    client.force_login(UserFactory(username="rm-admin", is_staff=True, roles=[RELEASE_MANAGER]))
    act = reverse("admin:releases_act")
    for method in (client.get, client.post):
        response = method(act, params, follow=True)
        assert response.status_code in (200, 400, 403, 404), (params, response.status_code)
        if response.status_code == 200:
            text = " ".join(str(m) for m in response.context["messages"])
            assert "Cannot" in text or "Confirm" in response.content.decode()
    assert not Deployment.objects.exists()


@pytest.mark.django_db
def test_api_search_highlight_escapes_the_authors_markup(callers):
    make_post(title="Markup", body="<b>bold</b> <img src=x onerror=alert(1)> keyword here")
    results = callers["anonymous"].get("/api/v1/posts/", {"search": "keyword"}).json()
    [hit] = [r for r in results["results"] if r["title"] == "Markup"]
    highlight = hit.get("highlight") or ""
    assert "<mark>" in highlight
    without_marks = highlight.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in without_marks and ">" not in without_marks, highlight
