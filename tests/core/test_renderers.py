"""The orjson renderer (core/renderers.py) writes what DRF's JSONRenderer writes."""

import datetime
import decimal
import json
import uuid

import pytest
from django.urls import reverse
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from core.renderers import FastJSONRenderer
from tests.blog.factories import TagFactory, make_post

AWARE = datetime.datetime(2026, 12, 2, 4, 5, 6, 789123, tzinfo=datetime.UTC)
PAYLOADS = [
    {"a": 1, "b": [1, 2.5, None, True, False], "c": {"nested": "x"}},
    {"text": "Arbitration — § 34, 中文, émigré, 😀", "quote": 'say "hi"\\ \n\t'},
    {"separators": "line\u2028paragraph\u2029end"},  # escaped, as DRF does
    {"when": AWARE, "naive": AWARE.replace(tzinfo=None), "day": datetime.date(2026, 1, 2)},
    {"noon": datetime.time(12, 30, 1, 500)},
    {"money": decimal.Decimal("12.50"), "id": uuid.UUID(int=7), "lazy": gettext_lazy("Draft")},
    ReturnDict({"k": ReturnList([1, "two"], serializer=None)}, serializer=None),
    {"tuple": (1, "a"), "empty": {}, "none": None},
    {"huge": 2**70},  # beyond 64 bits: DRF's renderer
    {1: "an integer key"},  # not a string: DRF's renderer
    [{"list": "at the top"}],
    "a bare string",
    0,
]


@pytest.mark.parametrize("data", PAYLOADS, ids=[str(n) for n in range(len(PAYLOADS))])
def test_the_same_bytes_as_drfs_renderer(data):
    assert FastJSONRenderer().render(data) == JSONRenderer().render(data)


def test_indented_output_and_none_as_drf_writes_them():
    context = {"indent": 4}
    data = {"a": [1, {"b": "c"}]}
    indented = FastJSONRenderer().render(data, "application/json", context)
    assert indented == JSONRenderer().render(data, "application/json", context)
    assert b"\n    " in indented
    assert FastJSONRenderer().render(None) == b""


def test_an_unencodable_value_fails_as_with_drf():
    with pytest.raises(TypeError):
        JSONRenderer().render({"x": object()})
    with pytest.raises(TypeError):
        FastJSONRenderer().render({"x": object()})


@pytest.mark.django_db
def test_the_apis_answers_are_encoded_by_it(api_client, settings):
    settings.API_RESPONSE_CACHE_SECONDS = 0
    make_post(title="Über «quotes» 😀", tags=[TagFactory(slug="courts")])
    page = api_client.get(reverse("post-list"))  # rendered by blog.api.conditional
    assert page.status_code == 200
    assert page.content == JSONRenderer().render(json.loads(page.content))
    assert "😀".encode() in page.content  # UTF-8, not \\u escapes, as DRF's
    missing = api_client.get(reverse("post-detail", args=["none-such"]))  # DRF's Response
    assert missing.status_code == 404
    assert isinstance(missing.accepted_renderer, FastJSONRenderer)
    assert missing.content == JSONRenderer().render(missing.data)
