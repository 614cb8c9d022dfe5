"""What a caller locked out by django-axes sees: a clear message and when to try again,
as JSON for the API and as a page otherwise (429 Too Many Requests)."""

from django.conf import settings
from django.http import HttpResponse, JsonResponse

LOCKED = (
    "Too many failed logins for this account from your address. Try again in {minutes} "
    "minutes, or ask an administrator to unlock it."
)


def locked_out(request, credentials, *args, **kwargs):
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = LOCKED.format(minutes=minutes)
    retry = {"Retry-After": str(int(settings.AXES_COOLOFF_TIME.total_seconds()))}
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message, "code": "locked_out"}, status=429, headers=retry)
    return HttpResponse(
        message, status=429, content_type="text/plain; charset=utf-8", headers=retry
    )
