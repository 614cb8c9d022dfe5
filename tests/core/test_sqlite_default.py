"""The embedded default (`make run`: local settings on SQLite, with the demo data) serves the
whole posts API: list, search, a tag filter, a page of hits and a post, with their tags. The
suite runs on PostgreSQL; this runs the API on SQLite in a subprocess, as a newcomer would."""

import json

import pytest

from tests.support.processes import clean_environment, run_manage

READ_THE_API = """
import json
from django.test import Client
from blog.models import Post
client = Client()
slug = Post.objects.visible().first().slug
answers = {}
for url in ("/api/v1/posts/?page_size=3", "/api/v1/posts/?page_size=3",
            "/api/v1/posts/?search=law&page_size=2", "/api/v1/posts/?tag=contracts",
            f"/api/v1/posts/{slug}/"):
    response = client.get(url)
    body = response.json() if response.status_code == 200 else {}
    answers[url] = [response.status_code, body.get("results", [body])]
print(json.dumps(answers))
"""


@pytest.mark.slow
def test_the_posts_api_answers_on_sqlite_with_the_demo_data(tmp_path):
    env = clean_environment(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    for command in (("migrate", "--noinput", "-v0"), ("seed_demo",)):
        result = run_manage(*command, env=env, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
    result = run_manage("shell", "-c", READ_THE_API, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    for url, (status, items) in answers.items():
        assert status == 200, url
        assert items and all(isinstance(item["tags"], list) for item in items), url
    tagged = answers["/api/v1/posts/?tag=contracts"][1]
    assert all("contracts" in [tag["slug"] for tag in item["tags"]] for item in tagged)
