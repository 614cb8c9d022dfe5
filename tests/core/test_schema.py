"""The OpenAPI schema and the interactive docs."""

from http import HTTPStatus

import pytest
from django.core.management import call_command
from django.urls import reverse


@pytest.mark.django_db
def test_schema_is_openapi_3_and_lists_the_endpoints(api_client):
    response = api_client.get(
        reverse("api-schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    assert response.status_code == HTTPStatus.OK
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/version/" in schema["paths"]
    assert "/api/v1/auth/token/" in schema["paths"]
    assert "jwtAuth" in schema["components"]["securitySchemes"]
    for path in (
        "/api/v1/posts/",
        "/api/v1/posts/{slug}/",
        "/api/v1/posts/{slug}/publish/",
        "/api/v1/posts/{slug}/schedule/",
        "/api/v1/posts/changes/",
        "/api/v1/posts/{post_slug}/comments/",
        "/api/v1/comments/{id}/approve/",
        "/api/v1/categories/",
        "/api/v1/tags/",
        "/api/v1/authors/",
        "/api/v1/auth/logout/",
    ):
        assert path in schema["paths"], path
    parameters = {p["name"] for p in schema["paths"]["/api/v1/posts/"]["get"]["parameters"]}
    assert {"tag", "category", "author", "search", "ordering", "page_size"} <= parameters


@pytest.mark.django_db
def test_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert out.read_text().startswith("openapi: 3")


@pytest.mark.django_db
def test_interactive_docs_are_served_without_a_cdn(client):
    response = client.get(reverse("api-docs"))
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn.jsdelivr.net" not in html
    # The page's own script is a separate file (no inline script under the CSP); it loads
    # the schema.
    script = client.get(reverse("api-docs") + "?script=").content.decode()
    assert reverse("api-schema") in script
