"""Fixtures shared by the release tests: a client for GitLab's webhook."""

import pytest
from rest_framework.test import APIClient

WEBHOOK_SECRET = "hook-secret-for-tests"


@pytest.fixture
def hook(settings):
    """An API client; the webhook secret is configured and signing is off."""
    settings.GITLAB_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.GITLAB_WEBHOOK_SIGNING_TOKEN = ""
    return APIClient()
