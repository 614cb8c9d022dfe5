"""The OpenAPI contract beyond what drf-spectacular infers: the shared error body on every
operation with the statuses it can really answer, the headers (RateLimit-*, Retry-After,
ETag/Last-Modified, If-None-Match/If-Match), and optional auth on anonymous reads."""

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

ERROR_SCHEMA = {
    "type": "object",
    "description": (
        "Every error answer. `detail` says what is wrong; `code` names the rule (e.g. "
        "`stale`, `frozen`, `not_awaiting`, `throttled`); a 400 for bad fields has one "
        "entry per field instead, each a list of messages."
    ),
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "current_version": {"type": "integer", "description": "412 `stale`: the post's version."},
        "current_etag": {"type": "string", "description": "412 `stale`: the post's ETag."},
    },
    # A field's messages (400): a list of strings, or an object for a nested field.
    "additionalProperties": True,
    "example": {"detail": "Staging is frozen until 18:00 UTC: release freeze.", "code": "frozen"},
}
ERRORS = {
    "304": "Not modified: the ETag in If-None-Match (or If-Modified-Since) still holds.",
    "400": "Bad input: field messages, or `detail`.",
    "401": "Credentials missing, expired or invalid.",
    "403": "Not allowed for this user, token scope or role (`detail` says which rule).",
    "404": "No such object (or not visible to you).",
    "409": "Refused by a rule in this state (`code` names it).",
    "412": "If-Match does not match: someone changed it since you read it (`code: stale`).",
    "413": "The request body is too large.",
    "429": "Too many requests: wait Retry-After seconds.",
    "503": "The database cannot be reached right now: retry after Retry-After seconds.",
}
RATE_HEADERS = {
    "RateLimit-Limit": "Requests allowed in the window.",
    "RateLimit-Remaining": "Requests left in the window.",
    "RateLimit-Reset": "Seconds until the window resets.",
}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
BLANK_OR_URL = r"^$|^(https?|ftps?)://[^\s/?#]+\S*$"


class ContractAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema with the project's cross-cutting contract added."""

    def _is_blog_read(self) -> bool:
        """The posts list and detail: the reads answered conditionally (blog.api.conditional)."""
        return (
            self.method == "GET"
            and type(self.view).__name__ == "PostViewSet"
            and getattr(self.view, "action", None) in ("list", "retrieve")
        )

    def _takes_if_match(self) -> bool:
        return self.method in {"PUT", "PATCH", "POST"} and (
            type(self.view).__name__ == "PostViewSet"
            and "{slug}" in self.path
            and getattr(self.view, "action", None) != "preview"
        )

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        header = OpenApiParameter.HEADER
        if self._is_blog_read():
            parameters += [
                OpenApiParameter(
                    "If-None-Match", str, header, description="An ETag you hold: 304 if current."
                ),
                OpenApiParameter("ETag", str, header, response=["200"], description="Validator."),
                OpenApiParameter(
                    "Last-Modified", str, header, response=["200"], description="HTTP date."
                ),
            ]
        if self._takes_if_match():
            parameters.append(
                OpenApiParameter(
                    "If-Match",
                    str,
                    header,
                    description="The ETag you read: the write is refused (412) if it changed.",
                )
            )
        for name, text in RATE_HEADERS.items():
            parameters.append(
                OpenApiParameter(name, OpenApiTypes.INT, header, response=True, description=text)
            )
        parameters.append(
            OpenApiParameter(
                "Retry-After",
                OpenApiTypes.INT,
                header,
                response=["429", "503"],
                description="Seconds to wait.",
            )
        )
        return parameters

    def get_auth(self):
        auth = super().get_auth()
        if auth and {} not in auth and self._anonymous_allowed():
            auth = [*auth, {}]  # optional: anonymous calls are allowed (reads, comments)
        return auth

    def _anonymous_allowed(self) -> bool:
        raw = HttpRequest()
        raw.method = self.method
        request = Request(raw)
        request.user = AnonymousUser()
        try:
            return all(p.has_permission(request, self.view) for p in self.view.get_permissions())
        except Exception:  # a permission that needs more of the request: say not
            return False

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        error = self.registry.register_on_missing(
            ResolvedComponent(
                name="Error", type=ResolvedComponent.SCHEMA, object="Error", schema=ERROR_SCHEMA
            )
        )
        error_ref = {"$ref": "#/components/schemas/Error"} if error is None else error.ref
        for code in {*self._error_codes(), *(c for c in responses if c[0] in "45")}:
            if "content" in responses.get(code, {}):
                continue  # the view documents its own body for this status
            if code == "304":
                responses[code] = {"description": ERRORS[code]}
                continue
            responses[code] = {
                "description": ERRORS[code],
                "content": {"application/json": {"schema": error_ref}},
            }
            headers = self._get_response_headers_for_code(code, direction)
            if headers:
                responses[code]["headers"] = headers
        return dict(sorted(responses.items()))

    def _error_codes(self) -> list[str]:
        # 401 (bad credentials are refused anywhere, even where none are needed) and 403
        # (a role, a scope, a preview link) can answer every operation.
        codes = ["400", "401", "403", "429", "503"]
        if self._is_blog_read():
            codes.append("304")
        if "{" in self.path or self.method == "GET":
            codes.append("404")  # no such object, or a page past the end of a list
        if self.method in UNSAFE:
            codes += ["409", "413"]
        if self._takes_if_match():
            codes.append("412")
        return codes


def _blank_or_formatted(alternatives) -> bool:
    return any(a.get("maxLength") == 0 for a in alternatives) and any(
        "format" in a for a in alternatives
    )


def _blank_or_url(alternatives) -> dict:
    """One schema for a URL field that may be blank: Django's URLValidator schemes, or ''."""
    return {
        "type": "string",
        "maxLength": max(a.get("maxLength", 0) for a in alternatives) or 2000,
        "pattern": BLANK_OR_URL,
        "description": "An http(s) or ftp(s) URL, or empty.",
    }


def for_openapi_31(result, generator, request, public):
    """drf-spectacular postprocessing hook. OpenAPI 3.1 has no `nullable`: the few schemas
    that still carry it (DRF's pagination links) get `null` in their type list. A blank-or-URL
    field (drf-spectacular's `oneOf` of a URI and '') becomes one string with a pattern:
    `format` is only an annotation in 3.1, so '' matched both branches of the `oneOf`."""

    def walk(node):
        if isinstance(node, dict):
            if node.pop("nullable", False) is True and isinstance(node.get("type"), str):
                node["type"] = [node["type"], "null"]
            if _blank_or_formatted(node.get("oneOf", [])):
                for key, value in _blank_or_url(node.pop("oneOf")).items():
                    node.setdefault(key, value)  # the field's own description wins
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(result)
    return result
