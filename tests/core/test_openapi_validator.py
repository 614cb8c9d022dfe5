"""The served schema passes a third-party validator (openapi-spec-validator), which checks
what drf-spectacular's own validation does not: defaults against their own patterns."""

import pytest
from django.urls import reverse
from openapi_spec_validator import validate


@pytest.mark.django_db
def test_the_served_schema_validates_with_openapi_spec_validator(api_client):
    response = api_client.get(
        reverse("api-schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    assert response.status_code == 200
    validate(response.json())  # raises with the path of the first violation
