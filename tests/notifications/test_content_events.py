"""Content events from the real flows: an editor publishing, editing and unpublishing in the
admin, a scheduled post falling due, a reader's comment on the public site."""

import datetime

import pytest
import time_machine
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone
from standardwebhooks import Webhook

from blog.changes import content_version
from blog.models import PostStatus
from notifications.models import Event
from tests.blog.factories import make_post
from tests.blog.test_admin import post_form_data
from tests.blog.test_site import comment_data
from tests.factories import EditorFactory
from tests.notifications.conftest import send_until_settled, subscribe
from tests.support.receivers import Receiver

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:blog_post_changelist")


def types():
    return list(Event.objects.order_by("id").values_list("type", flat=True))


def test_publish_edit_unpublish_in_the_admin(client, fast_retries):
    client.force_login(EditorFactory(username="ed"))
    post = make_post(status=PostStatus.DRAFT, title="Fresh")
    with Receiver() as receiver:
        subscription = subscribe(receiver.url, ["post.published", "post.updated"])
        client.post(CHANGELIST, {"action": "publish_now", ACTION_CHECKBOX_NAME: [post.pk]})
        post.refresh_from_db()
        change = reverse("admin:blog_post_change", args=[post.pk])
        # Clearing a published post's time is refused with a message (it was a 500).
        refused = client.post(change, post_form_data(post, title="x"))
        assert refused.status_code == 200 and b"keeps its publish time" in refused.content
        when = {"published_at_0": f"{post.published_at:%Y-%m-%d}"}
        when["published_at_1"] = f"{post.published_at:%H:%M:%S}"
        answer = client.post(change, post_form_data(post, title="Fresh, edited", **when))
        assert answer.status_code == 302
        send_until_settled()
        got = receiver.wait_for(2)
    payloads = [Webhook(subscription.secret).verify(r["body"], r["headers"]) for r in got]
    assert [p["type"] for p in payloads] == ["post.published", "post.updated"]
    assert payloads[1]["data"]["post"]["title"] == "Fresh, edited"
    assert payloads[1]["data"]["post"]["url"].endswith(post.get_absolute_url())
    client.post(CHANGELIST, {"action": "unpublish", ACTION_CHECKBOX_NAME: [post.pk]})
    assert types() == ["post.published", "post.updated", "post.unpublished"]
    # A draft's edits are nobody's business outside.
    post.refresh_from_db()
    client.post(reverse("admin:blog_post_change", args=[post.pk]), post_form_data(post))
    assert types()[-1] == "post.unpublished"


def test_a_scheduled_post_is_announced_when_it_falls_due():
    when = timezone.now() + datetime.timedelta(hours=2)
    make_post(status=PostStatus.SCHEDULED, published_at=when, title="Later")
    content_version()
    assert types() == []
    with time_machine.travel(when + datetime.timedelta(seconds=1), tick=False):
        content_version()  # the first read after its time publishes it
    (event,) = Event.objects.all()
    assert event.type == "post.published" and event.data["post"]["title"] == "Later"


def test_a_readers_comment_announces_itself_for_moderation(client):
    post = make_post()
    client.post(post.get_absolute_url(), comment_data(), follow=True)
    (event,) = Event.objects.filter(type="comment.pending")
    assert event.data["comment"]["author_name"] == "Reader"
    assert event.data["post"]["id"] == post.pk
    assert "/admin/blog/comment/" in event.data["comment"]["url"]
