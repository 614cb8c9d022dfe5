"""Realistic example bodies for the OpenAPI document, one per component (taken from the demo
data's real answers), put on every operation's request and success response by a hook."""

import copy

SHA = "4094baf8f73bd830a5509d33e8470f0ed7cb7396"
DIGEST = "sha256:b4ea8d99777ad41a61b580d407c269c3cf0591e3e583b49372bc25101456a9c8"
REPOSITORY = "registry.gitlab.com/lawvriksh/blog"
WHEN = "2026-11-30T09:15:00Z"

AUTHOR_REF = {"username": "asha", "display_name": "Asha Menon"}
POST_LIST = {
    "id": 1,
    "slug": "remedies-without-rights",
    "title": "Remedies without rights: a short history",
    "excerpt": "Courts have long held that a right without a remedy is no right at all.",
    "status": "published",
    "author": AUTHOR_REF,
    "category": {"slug": "constitutional-law", "name": "Constitutional Law"},
    "tags": [
        {"slug": "litigation", "name": "Litigation"},
        {"slug": "supreme-court", "name": "Supreme Court"},
    ],
    "published_at": "2026-10-21T09:30:00Z",
    "updated_at": WHEN,
    "reading_time": 4,
    "cover_image_url": "https://blog.example.com/media/covers/remedies.jpg",
    "cover_image_alt": "The Supreme Court of India at dusk",
    "featured": True,
    "url": "https://blog.example.com/posts/remedies-without-rights/",
}
BODY = (
    "Courts have long held that a right without a remedy is no right at all.\n\n"
    "## Why it matters\n\nRead the judgment, not the headline."
)
IMAGE_KEY = "3f6c1a2b9d8e4f00a1b2c3d4e5f60718"
IMAGE_URL = f"https://blog.example.com/media/images/{IMAGE_KEY}/"
IMAGE = {
    "key": IMAGE_KEY,
    "alt_text": "The Supreme Court of India at dusk",
    "format": "JPEG",
    "width": 1280,
    "height": 853,
    "size_bytes": 214_332,
    "url": IMAGE_URL + "original.jpg",
    "srcset": f"{IMAGE_URL}w1280.webp 1280w, {IMAGE_URL}w960.webp 960w",
    "renditions": [
        {"width": w, "height": h, "content_type": "image/webp", "url": f"{IMAGE_URL}w{w}.webp"}
        for w, h in ((1280, 853), (960, 640))
    ],
    "markdown": f"![The Supreme Court of India at dusk]({IMAGE_URL}original.jpg)",
    "created_at": WHEN,
}

POST_DETAIL = {
    **POST_LIST,
    "body": BODY,
    "body_html": (
        "<p>Courts have long held that a right without a remedy is no right at all.</p>\n"
        '<h2 id="why-it-matters">Why it matters</h2>\n<p>Read the judgment, not the '
        "headline.</p>"
    ),
    "meta_title": "Remedies without rights",
    "meta_description": "How Indian courts came to give every right a remedy.",
    "canonical_url": "",
    "comment_count": 3,
    "cover_image": IMAGE,
    "version": 7,
    "created_at": "2026-10-19T16:02:11Z",
    "seo": {
        "title": "Remedies without rights",
        "description": "How Indian courts came to give every right a remedy.",
        "canonical_url": "https://blog.example.com/posts/remedies-without-rights/",
        "open_graph": {"og:type": "article", "og:title": "Remedies without rights"},
        "twitter": {"twitter:card": "summary_large_image"},
        "json_ld": {"@context": "https://schema.org", "@type": "BlogPosting"},
    },
}
POST_WRITE = {
    "title": "Remedies without rights: a short history",
    "slug": "remedies-without-rights",
    "excerpt": "Courts have long held that a right without a remedy is no right at all.",
    "body": BODY,
    "cover_image_url": "https://blog.example.com/media/covers/remedies.jpg",
    "cover_image_alt": "The Supreme Court of India at dusk",
    "category": "constitutional-law",
    "meta_title": "Remedies without rights",
    "meta_description": "How Indian courts came to give every right a remedy.",
    "canonical_url": "",
    "featured": True,
    "tags": ["litigation", "supreme-court"],
}
STAGE_RESULT = {
    "stage": "test",
    "job_name": "test",
    "job_id": 8812301,
    "status": "success",
    "allow_failure": False,
    "started_at": "2026-11-30T09:02:10Z",
    "finished_at": "2026-11-30T09:06:41Z",
    "duration": 271.4,
    "job_url": "https://gitlab.com/lawvriksh/blog/-/jobs/8812301",
    "summary": "612 passed",
    "details": {"passed": 612, "failed": 0},
    "reported_at": "2026-11-30T09:06:42Z",
}
BUILD = {
    "id": 42,
    "repository": REPOSITORY,
    "tag": SHA,
    "digest": DIGEST,
    "image": f"{REPOSITORY}@{DIGEST}",
    "commit_sha": SHA,
    "commit_message": "Comments: honeypot and throttle",
    "commit_author": "Meera Iyer",
    "commit_time": "2026-11-30T08:58:03Z",
    "ref": "main",
    "pipeline_id": 1003,
    "pipeline_url": "https://gitlab.com/lawvriksh/blog/-/pipelines/1003",
    "project_path": "lawvriksh/blog",
    "status": "success",
    "deployable": True,
    "missing_stages": [],
    "stages": [
        {
            "stage": "test",
            "status": "success",
            "job_id": 8812301,
            "job_name": "test",
            "job_url": "https://gitlab.com/lawvriksh/blog/-/jobs/8812301",
            "summary": "612 passed",
            "finished_at": "2026-11-30T09:06:41Z",
            "jobs": [STAGE_RESULT],
            "warnings": [],
        }
    ],
    "created_at": "2026-11-30T09:01:30Z",
    "updated_at": "2026-11-30T09:06:42Z",
}
MIGRATION = {
    "app": "blog",
    "name": "0014_post_reading_time",
    "backward_compatible": True,
    "reversible": True,
    "issues": [],
    "warnings": [],
    "ignored": False,
}
BUILD_REF = {"id": 42, "tag": SHA, "digest": DIGEST}
DEPLOYMENT = {
    "id": 118,
    "environment": "production",
    "build": BUILD_REF,
    "image": f"{REPOSITORY}@{DIGEST}",
    "kind": "promote",
    "status": "awaiting_approval",
    "reason": "Weekly release: comment honeypot",
    "requested_by": "meera",
    "requested_by_ci": "",
    "approval": None,
    "created_at": WHEN,
    "approval_expires_at": "2026-11-30T13:15:00Z",
    "started_at": None,
    "finished_at": None,
    "smoke_result": {},
    "backup": None,
    "migration_changes": {"known": True, "apply": [MIGRATION], "leave_behind": []},
    "migrations_acknowledged": "",
    "reverse_migrations": False,
    "verification": {},
    "request_id": "5f0c6a4e9b1d4c2f",
    "log": "",
}
ENVIRONMENT = {
    "slug": "production",
    "name": "Production",
    "position": 20,
    "base_url": "https://blog.example.com",
    "requires_approval": True,
    "frozen": False,
    "frozen_until": None,
    "freeze_reason": "",
    "frozen_from": None,
    "freeze_windows": [],
    "pinned": False,
    "pinned_reason": "",
    "deploy_backend": "swarm",
    "required_stages": ["lint", "test", "security", "build"],
    "current_build": {
        "id": 41,
        "tag": "13426dd16ba59536db4042053536c00cb0f22138",
        "digest": "sha256:e7ab176ac6fc6d0c96c6a0c25c674233ee194714b0024833f0b4ff06706eb3d4",
        "commit_sha": "13426dd16ba59536db4042053536c00cb0f22138",
        "deployed_at": "2026-11-28T21:30:40Z",
        "deployment": 112,
    },
    "queue": [{"id": 118, "kind": "promote", "status": "awaiting_approval"}],
}
SUBSCRIPTION = {
    "id": 3,
    "name": "Release channel",
    "url": "https://hooks.example.com/lawvriksh/releases",
    "format": "standard",
    "events": ["deployment.succeeded", "deployment.failed", "approval.requested"],
    "active": True,
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "paused_at": None,
    "paused_reason": "",
    "failure_streak": 0,
    "created_at": "2026-11-02T10:00:00Z",
    "updated_at": WHEN,
}
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIiwidXNlcl9pZCI6M30"
    ".Zk2vYl3cJm9n1Kx0b4c0Q2l7p0fN9sQ2m1m8m5GkQ1E"
)

EXAMPLES = {
    "Image": IMAGE,
    "PatchedImageRequest": {"alt_text": "The Supreme Court of India at dusk"},
    "PostList": POST_LIST,
    "PostDetail": POST_DETAIL,
    "PostWriteRequest": POST_WRITE,
    "PatchedPostWriteRequest": {"title": "Remedies without rights: a short history (updated)"},
    "ScheduleRequest": {"publish_at": "2026-12-07T04:30:00Z"},
    "PreviewLink": {
        "url": "https://blog.example.com/preview/eyJwb3N0IjoxLCJnIjowfQ:1vQ2kX:abc123/",
        "expires_at": "2026-12-03T09:15:00Z",
    },
    "Author": {
        "username": "asha",
        "display_name": "Asha Menon",
        "bio": "Advocate writing on constitutional remedies.",
        "avatar_url": "https://blog.example.com/media/avatars/asha.jpg",
        "post_count": 3,
    },
    "Category": {
        "slug": "constitutional-law",
        "name": "Constitutional Law",
        "description": "Rights, remedies and the courts that enforce them.",
        "parent": None,
        "post_count": 12,
    },
    "Tag": {"slug": "supreme-court", "name": "Supreme Court", "post_count": 8},
    "Comment": {
        "id": 57,
        "author_name": "Ravi Kumar",
        "body": "The Puttaswamy section is the clearest summary I have read.",
        "created_at": WHEN,
    },
    "CommentCreateRequest": {
        "author_name": "Ravi Kumar",
        "author_email": "ravi@example.com",
        "body": "The Puttaswamy section is the clearest summary I have read.",
        "website": "",
    },
    "CommentCreated": {"id": 57, "status": "pending"},
    "CommentModeration": {
        "id": 57,
        "post": "remedies-without-rights",
        "author_name": "Ravi Kumar",
        "author_email": "ravi@example.com",
        "body": "The Puttaswamy section is the clearest summary I have read.",
        "status": "approved",
        "ip_address": "203.0.113.24",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "created_at": WHEN,
        "moderated_at": "2026-11-30T10:02:00Z",
    },
    "Revision": {
        "id": 212,
        "number": 7,
        "created_at": WHEN,
        "created_by": "meera",
        "note": "Publish now",
        "snapshot": {key: value for key, value in POST_WRITE.items()},
    },
    "ChangesPage": {
        "results": [
            {
                "cursor": "19.1",
                "action": "upsert",
                "id": 1,
                "slug": POST_LIST["slug"],
                "post": POST_LIST,
            }
        ],
        "next_cursor": "19.1",
        "has_more": False,
    },
    "TokenObtainPairRequest": {"username": "meera", "password": "correct horse battery"},
    "TokenObtainPair": {"access": JWT, "refresh": JWT},
    "TokenRefreshRequest": {"refresh": JWT},
    "TokenRefresh": {"access": JWT, "refresh": JWT},
    "TokenVerifyRequest": {"token": JWT},
    "TokenBlacklistRequest": {"refresh": JWT},
    "Version": {"version": "1.4.0", "commit": SHA, "build_time": "2026-11-30T09:04:55Z"},
    "Build": BUILD,
    "BuildHistory": {**BUILD, "history": [STAGE_RESULT], "migrations": [MIGRATION]},
    "BuildReportRequest": {
        "repository": REPOSITORY,
        "tag": SHA,
        "digest": DIGEST,
        "commit_sha": SHA,
        "commit_message": "Comments: honeypot and throttle",
        "commit_author": "Meera Iyer",
        "commit_time": "2026-11-30T08:58:03Z",
        "ref": "main",
        "pipeline_id": 1003,
        "pipeline_url": "https://gitlab.com/lawvriksh/blog/-/pipelines/1003",
        "project_path": "lawvriksh/blog",
        "migrations": [MIGRATION],
    },
    "StageResult": STAGE_RESULT,
    "StageReportRequest": {
        key: value for key, value in STAGE_RESULT.items() if key != "reported_at"
    },
    "MigrationChanges": {"known": True, "why": "", "apply": [MIGRATION], "leave_behind": []},
    "Deployment": DEPLOYMENT,
    "Environment": ENVIRONMENT,
    "DeployRequestRequest": {
        "build": SHA,
        "reason": "Hotfix: comment throttle",
        "acknowledge_migrations": "",
        "break_glass": False,
        "supersede": False,
    },
    "PromoteRequestRequest": {
        "reason": "Weekly release: comment honeypot",
        "break_glass": False,
        "acknowledge_migrations": "",
    },
    "RollbackRequestRequest": {
        "reason": "Error rate doubled after the release",
        "mark_bad": True,
        "pin": False,
        "reverse_migrations": False,
        "acknowledge_migrations": "",
    },
    "DecisionRequest": {"comment": "Checked the change set and the stage results."},
    "ReasonRequest": {"reason": "Fixed by the next build"},
    "RequiredReasonRequest": {"reason": "Error rate doubled after the release"},
    "FreezeRequestRequest": {
        "until": "2026-12-02T04:30:00Z",
        "starts": None,
        "reason": "Quarter-end filing window",
    },
    "Subscription": SUBSCRIPTION,
    "PatchedSubscriptionRequest": {"active": False},
    "PatchedCategoryRequest": {"description": "Rights, remedies and the courts."},
    "PatchedTagRequest": {"name": "Supreme Court of India"},
    "Delivery": {
        "id": 901,
        "event_id": "msg_2qTzR8vH7nYc4kLp",
        "event_type": "deployment.succeeded",
        "channel": "webhook",
        "subscription": 3,
        "status": "succeeded",
        "attempts": 2,
        "next_attempt_at": WHEN,
        "last_error": "",
        "delivered_at": "2026-11-30T09:15:07Z",
        "created_at": WHEN,
        "attempt_log": [
            {
                "number": 1,
                "started_at": "2026-11-30T09:15:01Z",
                "duration_ms": 5003,
                "status_code": None,
                "succeeded": False,
                "error": "timed out after 5 s",
                "response_excerpt": "",
            },
            {
                "number": 2,
                "started_at": "2026-11-30T09:15:07Z",
                "duration_ms": 84,
                "status_code": 200,
                "succeeded": True,
                "error": "",
                "response_excerpt": "ok",
            },
        ],
    },
    "EventType": {
        "type": "deployment.succeeded",
        "group": "release",
        "description": "A deployment (or rollback) succeeded.",
        "allowed": True,
        "schema": {"type": "object", "title": "deployment.succeeded"},
    },
    "DoraMetrics": {
        "environment": "production",
        "days": 30,
        "deployments": 9,
        "deployment_frequency_per_day": 0.3,
        "lead_time_hours_median": 20.5,
        "change_failure_rate": 0.111,
        "time_to_restore_hours_median": 0.4,
        "changes": 9,
        "failed_changes": 1,
        "lead_time_samples": 8,
        "restore_samples": 1,
        "weekly": [
            {
                "week_ending": "2026-11-30",
                "environment": "production",
                "days": 7,
                "deployments": 2,
                "deployment_frequency_per_day": 0.286,
                "lead_time_hours_median": 18.0,
                "change_failure_rate": 0.0,
                "time_to_restore_hours_median": None,
                "changes": 2,
                "failed_changes": 0,
                "lead_time_samples": 2,
                "restore_samples": 0,
            }
        ],
    },
}


def _request_from_response(name: str, components: dict):
    """`XRequest`: X's example without the fields clients do not send."""
    base = name.removesuffix("Request")
    if base not in EXAMPLES or name not in components:
        return None
    writable = components[name].get("properties", {})
    example = {key: value for key, value in EXAMPLES[base].items() if key in writable}
    return example


def example_for(name: str, components: dict):
    """The example for a component by name, or None when there is none."""
    if name in EXAMPLES:
        return copy.deepcopy(EXAMPLES[name])
    if name.startswith("Paginated") and name.endswith("List"):
        item = example_for(name.removeprefix("Paginated").removesuffix("List"), components)
        if item is None:
            return None
        return {
            "count": 31,
            "next": "https://blog.example.com/api/v1/things/?page=2",
            "previous": None,
            "results": [item],
        }
    if name.endswith("Request"):
        return _request_from_response(name, components)
    return None


def example_of_schema(schema: dict, components: dict):
    """The example for a body schema: a component reference or a list of one."""
    if "$ref" in schema:
        return example_for(schema["$ref"].rsplit("/", 1)[-1], components)
    if schema.get("type") == "array" and "$ref" in schema.get("items", {}):
        item = example_of_schema(schema["items"], components)
        return None if item is None else [item]
    return None


def add_examples(result, generator, request, public):
    """drf-spectacular postprocessing hook: an example on every JSON request and 2xx body."""
    components = result.get("components", {}).get("schemas", {})
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            media = operation.get("requestBody", {}).get("content", {})
            bodies = [media.get("application/json")]
            for code, response in operation.get("responses", {}).items():
                if code.startswith("2"):
                    bodies.append(response.get("content", {}).get("application/json"))
            for body in filter(None, bodies):
                if "example" in body or "examples" in body:
                    continue
                example = example_of_schema(body.get("schema", {}), components)
                if example is not None:
                    body["example"] = example
    return result
