"""Small request helpers shared by the site and the API."""

from django.conf import settings


def has_credentials(request) -> bool:
    """The request carries an Authorization header or a session cookie (without either,
    it is anonymous for certain: nothing to look up)."""
    return "HTTP_AUTHORIZATION" in request.META or settings.SESSION_COOKIE_NAME in request.COOKIES


def client_info(request) -> dict:
    """The caller's address and user agent, as kept with comments for moderation."""
    return {
        "ip_address": request.META.get("REMOTE_ADDR"),
        "user_agent": request.META.get("HTTP_USER_AGENT", ""),
    }


def parse_id(raw) -> int | None:
    """A database id from text: ASCII digits only (`"¹".isdigit()` is True, yet int() fails),
    within a bigint; None for anything else."""
    if not isinstance(raw, str) or not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        return None
    return int(raw)
