"""Admin login and the JWT endpoint are locked after repeated failures (django-axes), with a
clear message, and unlocked by the documented command."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from tests.factories import DEFAULT_PASSWORD, EditorFactory

LIMIT = 5


def admin_login(client, password):
    return client.post(
        reverse("admin:login"),
        {"username": "locked-editor", "password": password, "next": "/admin/"},
    )


@pytest.mark.django_db
def test_the_admin_login_locks_after_repeated_failures_and_unlocks_by_command(client):
    EditorFactory(username="locked-editor")
    for _ in range(LIMIT - 1):
        assert admin_login(client, "wrong").status_code == 200  # the form, with its error
    locked = admin_login(client, "wrong")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    # Even the right password is refused while locked.
    assert admin_login(client, DEFAULT_PASSWORD).status_code == 429
    call_command("axes_reset_username", "locked-editor", verbosity=0)
    assert admin_login(client, DEFAULT_PASSWORD).status_code == 302  # signed in


@pytest.mark.django_db
def test_the_jwt_endpoint_locks_after_repeated_failures(api_client):
    EditorFactory(username="locked-editor")
    url = "/api/v1/auth/token/"
    for _ in range(LIMIT - 1):
        response = api_client.post(url, {"username": "locked-editor", "password": "x"})
        assert response.status_code == 401
    locked = api_client.post(url, {"username": "locked-editor", "password": "x"})
    assert locked.status_code == 429
    assert locked.json()["code"] == "locked_out"
    right = api_client.post(url, {"username": "locked-editor", "password": DEFAULT_PASSWORD})
    assert right.status_code == 429
    assert int(right["Retry-After"]) > 0
