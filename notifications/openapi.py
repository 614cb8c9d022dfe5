"""The outbound webhooks in the OpenAPI document's `webhooks` section (OpenAPI 3.1): one entry
per event type, with the Standard Webhooks headers and the body's schema from payloads."""

from notifications import events, payloads

SIGNATURE_HEADERS = {
    "webhook-id": "The event's id: the same on every retry and replay (de-duplicate on it).",
    "webhook-timestamp": "Unix seconds when this attempt was signed (refuse old ones).",
    "webhook-signature": (
        "`v1,<base64 HMAC-SHA256>` of `id.timestamp.body` with the subscription's `whsec_` "
        "secret (Standard Webhooks); verify it with any Standard Webhooks library."
    ),
}
RECEIVER_ANSWERS = {
    "2XX": {"description": "Received: the delivery is done (the body is not read)."},
    "default": {
        "description": (
            "Anything else, a timeout or a refused connection: retried with exponential "
            "backoff (full jitter); the subscription is paused after repeated failures."
        )
    },
}


def webhook(event_type: str) -> dict:
    """The path item for one event type, as the receiver sees it."""
    schema = {
        key: value for key, value in payloads.schema_for(event_type).items() if key != "$schema"
    }
    return {
        "post": {
            "operationId": "webhook_" + event_type.replace(".", "_"),
            "summary": event_type,
            "description": (
                f"{events.CATALOGUE[event_type][1]} Sent to every active subscription whose "
                "`events` include this type (or are empty). Subscriptions with `format: slack` "
                'get a chat message (`{"text": …}`) instead of this body, unsigned.'
            ),
            "tags": ["webhooks"],
            "parameters": [
                {
                    "name": name,
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string"},
                    "description": text,
                }
                for name, text in SIGNATURE_HEADERS.items()
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": schema}},
            },
            "responses": RECEIVER_ANSWERS,
        }
    }


def add_webhooks(result, generator, request, public):
    """drf-spectacular postprocessing hook: our outbound webhooks, one per event type."""
    result["webhooks"] = {name: webhook(name) for name in events.EVENT_TYPES}
    return result
