"""The contract a generated client relies on: every operation documents the shared error
body with the statuses it can answer, the headers, optional auth on anonymous reads, and
the idempotent repeat's 200."""

import pytest
from django.urls import reverse


@pytest.fixture
def schema(api_client, db):
    response = api_client.get(
        reverse("api-schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    return response.json()


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_every_operation_documents_its_errors_with_the_shared_body(schema):
    for path, method, operation in operations(schema):
        errors = {code for code in operation["responses"] if code[0] in "45"}
        assert {"400", "429", "503"} <= errors, (method, path)
        if "{" in path:
            assert "404" in errors, (method, path)
        body = operation["responses"]["429"]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/Error"}
        assert "Retry-After" in operation["responses"]["429"]["headers"]
    assert {"detail", "code"} <= set(schema["components"]["schemas"]["Error"]["properties"])


def test_anonymous_reads_are_optional_auth_and_writes_are_not(schema):
    paths = schema["paths"]
    for path in (
        "/api/v1/posts/",
        "/api/v1/posts/{slug}/",
        "/api/v1/categories/",
        "/api/v1/tags/",
    ):
        assert {} in paths[path]["get"]["security"], path
    assert {} not in paths["/api/v1/posts/"]["post"]["security"]
    assert {} not in paths["/api/v1/releases/builds/"]["get"]["security"]


def test_headers_conditional_requests_and_repeats_are_documented(schema):
    detail = schema["paths"]["/api/v1/posts/{slug}/"]
    read = {p["name"] for p in detail["get"]["parameters"] if p["in"] == "header"}
    assert "If-None-Match" in read
    assert {"ETag", "Last-Modified", "RateLimit-Remaining"} <= set(
        detail["get"]["responses"]["200"]["headers"]
    )
    assert "304" in detail["get"]["responses"]
    write = {p["name"] for p in detail["patch"]["parameters"] if p["in"] == "header"}
    assert "If-Match" in write and "412" in detail["patch"]["responses"]
    deploy = schema["paths"]["/api/v1/releases/environments/{slug}/deploy/"]["post"]
    assert {"200", "201", "409"} <= set(deploy["responses"])
    hook = schema["paths"]["/api/v1/releases/gitlab/webhook/"]["post"]
    hook_headers = {p["name"] for p in hook["parameters"]}
    assert {"X-Gitlab-Token", "X-Gitlab-Event", "webhook-signature"} <= hook_headers
    assert hook["requestBody"]["content"]["application/json"]["schema"]["properties"]
