"""A scheduled post appears at its publish time with nobody acting (clock frozen, no sleeps)."""

import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from blog import services
from blog.models import Post, PostStatus
from tests.blog.factories import make_post

pytestmark = pytest.mark.django_db

START = datetime.datetime(2027, 3, 1, 9, 0, tzinfo=datetime.UTC)


def test_scheduled_post_becomes_visible_at_its_time(client):
    with time_machine.travel(START, tick=False):
        publish_at = START + datetime.timedelta(hours=2)
        post = make_post(status=PostStatus.SCHEDULED, title="Budget day", published_at=publish_at)
        assert not Post.objects.visible().filter(pk=post.pk).exists()
        assert client.get(post.get_absolute_url()).status_code == 404
        assert "Budget day" not in client.get(reverse("blog:home")).content.decode()

    with time_machine.travel(publish_at - datetime.timedelta(seconds=1), tick=False):
        assert client.get(post.get_absolute_url()).status_code == 404

    with time_machine.travel(publish_at, tick=False):
        assert Post.objects.visible().filter(pk=post.pk).exists()
        assert client.get(post.get_absolute_url()).status_code == 200
        assert "Budget day" in client.get(reverse("blog:home")).content.decode()
        assert "Budget day" in client.get(reverse("blog:feed_rss")).content.decode()
        # Its stored status is unchanged: visibility is computed at query time.
        post.refresh_from_db()
        assert post.status == PostStatus.SCHEDULED


def test_publish_due_posts_only_tidies_the_status():
    with time_machine.travel(START, tick=False):
        due = make_post(
            status=PostStatus.SCHEDULED, published_at=START + datetime.timedelta(hours=1)
        )
        later = make_post(
            status=PostStatus.SCHEDULED, published_at=START + datetime.timedelta(days=9)
        )
    with time_machine.travel(START + datetime.timedelta(hours=2), tick=False):
        assert services.publish_due_posts() == 1
    due.refresh_from_db()
    later.refresh_from_db()
    assert (due.status, later.status) == (PostStatus.PUBLISHED, PostStatus.SCHEDULED)


def test_visible_accepts_an_explicit_clock():
    post = make_post(
        status=PostStatus.SCHEDULED, published_at=timezone.now() + datetime.timedelta(days=1)
    )
    tomorrow = timezone.now() + datetime.timedelta(days=2)
    assert Post.objects.visible(now=tomorrow).filter(pk=post.pk).exists()
    assert not Post.objects.visible().filter(pk=post.pk).exists()
