"""Property-based fuzzing of the served API (schemathesis against /api/v1/schema/): as an
anonymous reader, an editor, a release manager and a CI token, no request gives a server
error, no undocumented status, content type or header, no response breaks the documented
schema, and no request the schema forbids is accepted. Seeds are fixed so a failure reproduces;
the campaign is bounded so the suite stays fast."""

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from core.roles import RELEASE_MANAGER
from releases import services
from releases.models import Build, StageResult
from tests.blog.factories import make_post
from tests.factories import EditorFactory, UserFactory

SEED = 20261130
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "6"))
# Every check the contract asks for: no 5xx; only documented statuses, content types and
# headers; bodies matching their schemas; and what the schema forbids is refused
# (negative_data_rejection). Left out: positive_data_acceptance — business rules a schema
# cannot express (a slug already taken, a build that must exist, a freeze that must end in
# the future) answer 400 or 409 to schema-valid data; README "The contract" says so.
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
    ]
)
SCHEMATHESIS = Path(sys.executable).parent / "st"


def jwt_for(user) -> str:
    return str(RefreshToken.for_user(user).access_token)


@pytest.fixture
def identities(transactional_db):
    """Data to find, and the four callers' Authorization headers (None: anonymous)."""
    editor = EditorFactory(username="fuzz-editor")
    for n in range(3):
        make_post(editor=editor, title=f"Fuzzed post {n}", tags=["fuzz"])
    sha = "f" * 40
    build = Build.objects.create(
        repository="registry.example/blog", tag=sha, commit_sha=sha, digest="sha256:" + "e" * 64
    )
    StageResult.objects.create(build=build, stage="lint", job_id=1, status="success")
    manager = UserFactory(username="fuzz-manager", is_staff=True, roles=[RELEASE_MANAGER])
    _, ci_token = services.ci_token_create(
        name="fuzz", scopes=["builds:read", "builds:write", "deploy:staging"]
    )
    return {
        "anonymous": None,
        "editor": f"Bearer {jwt_for(editor)}",
        "release-manager": f"Bearer {jwt_for(manager)}",
        "ci-token": f"Bearer {ci_token}",
    }


def fuzz(base_url: str, schema: Path, authorization: str | None, *extra: str):
    command = [
        str(SCHEMATHESIS),
        "run",
        str(schema),
        "--url",
        base_url,  # the schema's paths start with /api/v1/
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--phases",
        "examples,coverage,fuzzing",
        "--generation-database",
        "none",
        "--request-timeout",
        "30",
        "--workers",
        "1",
        "--no-color",
        *extra,
    ]
    if authorization:
        command += ["--header", f"Authorization:{authorization}"]
    return subprocess.run(command, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
@pytest.mark.parametrize("who", ["anonymous", "editor", "release-manager", "ci-token"])
def test_no_server_error_and_no_schema_violation(live_server, identities, who, tmp_path):
    # The schema as anyone reads it (a CI token is for the CI API, not the schema view).
    schema = tmp_path / "openapi.json"
    with urllib.request.urlopen(f"{live_server.url}/api/v1/schema/?format=json") as response:
        schema.write_bytes(response.read())
    result = fuzz(live_server.url, schema, identities[who])
    failures = result.stdout[: result.stdout.find("=== SUMMARY")]
    output = failures[-20000:] + result.stdout[-1500:] + result.stderr[-2000:]
    assert result.returncode == 0, output
    assert "No issues found" in result.stdout or " passed" in result.stdout, output
