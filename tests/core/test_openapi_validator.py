"""The served schema passes a third-party validator (openapi-spec-validator), which checks
what drf-spectacular's own validation does not (defaults against their own patterns); every
operation carries an example that is valid against its own schema; the outbound webhooks are
documented in the 3.1 `webhooks` section."""

import pytest
from django.urls import reverse
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from notifications import events, payloads


@pytest.mark.django_db
def test_the_served_schema_validates_with_openapi_spec_validator(api_client):
    response = api_client.get(
        reverse("api-schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    assert response.status_code == 200
    validate(response.json())  # raises with the path of the first violation


def served_schema(api_client) -> dict:
    response = api_client.get(
        reverse("api-schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    assert response.status_code == 200
    return response.json()


def operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield f"{method.upper()} {path}", operation


def json_bodies(operation: dict):
    """(where, media object) for the JSON request body and every 2xx JSON answer."""
    request = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if request:
        yield "request", request
    for code, response in operation["responses"].items():
        media = response.get("content", {}).get("application/json")
        if code.startswith("2") and media:
            yield code, media


@pytest.mark.django_db
def test_every_operation_has_a_request_and_a_response_example(api_client):
    document = served_schema(api_client)
    missing = [
        f"{name} {where}"
        for name, operation in operations(document)
        for where, media in json_bodies(operation)
        if "example" not in media and "examples" not in media
    ]
    assert missing == []


@pytest.mark.django_db
def test_every_example_is_valid_against_its_own_schema(api_client):
    document = served_schema(api_client)
    checked, wrong = 0, []
    for name, operation in operations(document):
        for where, media in json_bodies(operation):
            examples = [media["example"]] if "example" in media else []
            examples += [e["value"] for e in media.get("examples", {}).values() if "value" in e]
            # The body schema with the document's components, so its $refs resolve.
            schema = {**media["schema"], "components": document["components"]}
            for example in examples:
                checked += 1
                errors = list(OAS31Validator(schema).iter_errors(example))
                wrong += [f"{name} {where}: {e.json_path}: {e.message}" for e in errors]
    assert checked > 80
    assert wrong == []


@pytest.mark.django_db
def test_the_outbound_webhooks_are_in_the_webhooks_section(api_client):
    document = served_schema(api_client)
    assert document["openapi"].startswith("3.1")
    assert set(document["webhooks"]) == set(events.EVENT_TYPES)
    delivery = document["webhooks"]["deployment.succeeded"]["post"]
    headers = {p["name"] for p in delivery["parameters"] if p["in"] == "header"}
    assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    body = delivery["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["type"] == {"const": "deployment.succeeded"}
    # The same schema the tests check every real payload against (tests/notifications).
    expected = payloads.schema_for("deployment.succeeded")
    assert body["properties"]["data"] == expected["properties"]["data"]
