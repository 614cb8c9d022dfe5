"""A route listed in API_DEPRECATIONS answers with Deprecation, Sunset and Link headers."""

import datetime

import pytest

pytestmark = pytest.mark.django_db


def test_nothing_is_deprecated_today(client):
    response = client.get("/api/v1/version/")
    assert "Deprecation" not in response.headers and "Sunset" not in response.headers


def test_a_deprecated_route_says_so_and_when_it_goes(client, settings):
    settings.API_DEPRECATIONS = {
        "api-version": {
            "since": datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC),
            "sunset": datetime.datetime(2027, 6, 1, tzinfo=datetime.UTC),
            "link": "https://blog.example/api-changelog",
        }
    }
    response = client.get("/api/v1/version/")
    assert response.status_code == 200
    assert response.headers["Deprecation"] == "@1796083200"
    assert response.headers["Sunset"] == "Tue, 01 Jun 2027 00:00:00 GMT"
    assert response.headers["Link"].startswith('<https://blog.example/api-changelog>; rel="deprec')
    assert "Deprecation" not in client.get("/api/v1/posts/").headers
