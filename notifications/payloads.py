"""The documented shape of every webhook body: JSON Schema (2020-12) for the envelope and for
each event type's `data`, served by the API (event-types) and checked against real payloads
in the tests. Version 1: fields may be added; none is removed or changes meaning without a
new version."""

from notifications import events

STRING, NULLABLE_STRING = {"type": "string"}, {"type": ["string", "null"]}
TIME = {"type": ["string", "null"], "format": "date-time"}
URL = {"type": "string", "format": "uri"}


def _object(properties: dict, required=None) -> dict:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required if required is not None else properties),
    }


ENVIRONMENT = _object({"slug": STRING, "name": STRING, "url": NULLABLE_STRING})
DEPLOYMENT = _object(
    {
        "id": {"type": "integer"},
        "kind": {"enum": ["deploy", "promote", "rollback"]},
        "status": STRING,
        "reason": STRING,
        "requested_by": NULLABLE_STRING,
        "requested_by_id": {"type": ["integer", "null"]},
        "requested_by_email": NULLABLE_STRING,
        "automatic": {"type": "boolean", "description": "Requested by the worker itself."},
        "created_at": TIME,
        "started_at": TIME,
        "finished_at": TIME,
        "approval_expires_at": TIME,
        "url": {**URL, "description": "The deployment's page in the dashboard."},
    }
)
BUILD = _object(
    {
        "id": {"type": "integer"},
        "tag": STRING,
        "commit_sha": STRING,
        "commit_message": STRING,
        "ref": STRING,
        "digest": NULLABLE_STRING,
        "image": STRING,
        "pipeline_url": NULLABLE_STRING,
    }
)
RELEASE_DATA = _object({"deployment": DEPLOYMENT, "environment": ENVIRONMENT, "build": BUILD})
POST = _object(
    {
        "id": {"type": "integer"},
        "title": STRING,
        "slug": STRING,
        "status": STRING,
        "version": {"type": "integer"},
        "published_at": TIME,
        "updated_at": TIME,
        "url": URL,
        "api_url": URL,
    }
)
DATA = {
    **{name: RELEASE_DATA for name, (group, _) in events.CATALOGUE.items() if group == "release"},
    "verification.failed": _object(
        {**RELEASE_DATA["properties"], "verification": {"type": "object"}}
    ),
    "backup.failed": _object(
        {
            "backup": _object(
                {
                    "id": {"type": "integer"},
                    "trigger": STRING,
                    "started_at": TIME,
                    "finished_at": TIME,
                    "error": STRING,
                    "url": URL,
                }
            ),
            "environment": ENVIRONMENT,
        }
    ),
    **{
        name: _object(
            {
                "environment": ENVIRONMENT,
                "from": TIME,
                "until": TIME,
                "reason": STRING,
                "by": NULLABLE_STRING,
                "url": URL,
            }
        )
        for name in ("environment.frozen", "environment.unfrozen")
    },
    **{name: _object({"post": POST}) for name in ("post.published", "post.updated")},
    "post.unpublished": _object({"post": POST}),
    "comment.pending": _object(
        {
            "comment": _object(
                {
                    "id": {"type": "integer"},
                    "author_name": STRING,
                    "body_excerpt": STRING,
                    "created_at": TIME,
                    "url": URL,
                }
            ),
            "post": POST,
        }
    ),
}


def schema_for(event_type: str) -> dict:
    """The whole body a receiver gets for this event type."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": event_type,
        **_object(
            {
                "type": {"const": event_type},
                "timestamp": {"type": "string", "format": "date-time"},
                "version": {"const": events.PAYLOAD_VERSION},
                "data": DATA[event_type],
            }
        ),
    }
