"""A typed client generated from the served schema (openapi-python-client, at test time,
never committed) drives a realistic flow against the live server with no hand-written HTTP:
log in, write and update a draft with If-Match, submit, publish, list with filters and
search, comment anonymously, moderate, report a build and its stages with a CI token, deploy
it to staging and poll the deployment until it ends."""

import importlib
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from releases import services, tasks
from releases.models import Environment, entry_stages
from tests.factories import DEFAULT_PASSWORD, EditorFactory

GENERATOR = Path(sys.executable).parent / "openapi-python-client"


@pytest.fixture
def client_package(live_server, tmp_path):
    schema = tmp_path / "schema.json"
    with urllib.request.urlopen(f"{live_server.url}/api/v1/schema/?format=json") as answer:
        schema.write_bytes(answer.read())
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(schema),
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / "lawvriksh_client"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout, done.stdout  # every operation was understood
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module("lawvriksh_client")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n.startswith("lawvriksh_client")]:
            del sys.modules[name]


def value(field):
    """An enum member's value, or the string a field typed as a plain string holds."""
    return getattr(field, "value", field)


def module(package, name):
    return importlib.import_module(f"{package.__name__}.{name}")


@pytest.mark.django_db(transaction=True)
def test_a_generated_client_runs_the_whole_flow(client_package, live_server):
    api = lambda name: module(client_package, f"api.{name}")  # noqa: E731
    models = module(client_package, "models")
    Client, AuthenticatedClient = client_package.Client, client_package.AuthenticatedClient
    anonymous = Client(base_url=live_server.url, raise_on_unexpected_status=True)

    EditorFactory(username="writer")
    tokens = api("auth.auth_token_create").sync(
        client=anonymous,
        body=models.TokenObtainPairRequest(username="writer", password=DEFAULT_PASSWORD),
    )
    editor = AuthenticatedClient(
        base_url=live_server.url, token=tokens.access, raise_on_unexpected_status=True
    )

    draft = api("posts.posts_create").sync(
        client=editor,
        body=models.PostWriteRequest(
            title="Typed clients", body="Generated from the schema: zeppelin.", tags=["api"]
        ),
    )
    assert isinstance(draft, models.PostDetail) and value(draft.status) == "draft"
    read = api("posts.posts_retrieve").sync_detailed(draft.slug, client=editor)
    etag = read.headers["ETag"]
    stale = api("posts.posts_partial_update").sync_detailed(
        draft.slug,
        client=editor,
        body=models.PatchedPostWriteRequest(excerpt="late"),
        if_match='"not-the-etag"',
    )
    assert stale.status_code == 412 and stale.parsed.code == "stale"
    updated = api("posts.posts_partial_update").sync(
        draft.slug,
        client=editor,
        body=models.PatchedPostWriteRequest(excerpt="How a client is generated."),
        if_match=etag,
    )
    assert updated.excerpt == "How a client is generated."
    assert value(api("posts.posts_submit_create").sync(draft.slug, client=editor).status) == (
        "in_review"
    )
    published = api("posts.posts_publish_create").sync(draft.slug, client=editor)
    assert value(published.status) == "published"

    # Anonymous reads: the schema marks them optional-auth ({}); openapi-python-client
    # 0.29 still types them AuthenticatedClient (its issue #1372), and a Client works.
    listed = api("posts.posts_list").sync(client=anonymous, tag="api", search="zeppelin")
    assert [post.slug for post in listed.results] == [draft.slug]

    comment = api("posts.posts_comments_create").sync(
        draft.slug,
        client=anonymous,
        body=models.CommentCreateRequest(
            author_name="Reader", author_email="reader@example.com", body="Useful."
        ),
    )
    assert value(comment.status) == "pending"
    approved = api("comments.comments_approve_create").sync(comment.id, client=editor)
    assert value(approved.status) == "approved"
    shown = api("posts.posts_comments_list").sync(draft.slug, client=anonymous)
    assert [c.body for c in shown.results] == ["Useful."]

    _, raw = services.ci_token_create(
        name="pipeline", scopes=["builds:read", "builds:write", "deploy:staging"]
    )
    ci = AuthenticatedClient(base_url=live_server.url, token=raw, raise_on_unexpected_status=True)
    sha = "c" * 40
    build = api("releases.releases_builds_create").sync(
        client=ci,
        body=models.BuildReportRequest(
            repository="registry.example/blog",
            tag=sha,
            commit_sha=sha,
            digest="sha256:" + "d" * 64,
            ref="main",
        ),
    )
    for job_id, stage in enumerate(entry_stages(), start=1):
        api("releases.releases_builds_stages_create").sync(
            sha,  # by tag, as a pipeline knows it
            client=ci,
            body=models.StageReportRequest(
                stage=stage, job_id=job_id, status=models.StageStatusEnum.SUCCESS
            ),
        )
    assert api("releases.releases_builds_retrieve").sync(sha, client=ci).deployable is True
    Environment.objects.filter(slug="staging").update(deploy_settings={"check_commit": False})
    deployment = api("releases.releases_environments_deploy_create").sync(
        "staging", client=ci, body=models.DeployRequestRequest(build=sha, reason="pipeline")
    )
    assert deployment.status == "queued" and deployment.image.endswith(build.digest)
    worker = threading.Thread(
        target=tasks.run_environment_queue.call,
        args=[Environment.objects.get(slug="staging").pk],
    )
    worker.start()
    get = api("releases.releases_deployments_retrieve")
    for _ in range(600):  # bounded; ends as soon as the deployment does
        status = get.sync(deployment.id, client=ci).status
        if status in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.05)
    worker.join(60)
    assert status == "succeeded"
