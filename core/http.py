"""Small request helpers shared by the site and the API."""


def client_info(request) -> dict:
    """The caller's address and user agent, as kept with comments for moderation."""
    return {
        "ip_address": request.META.get("REMOTE_ADDR"),
        "user_agent": request.META.get("HTTP_USER_AGENT", ""),
    }
