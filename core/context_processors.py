"""Template context shared by every page of the public site."""

from django.conf import settings


def site(request):
    """The site's name and absolute origin, for titles, canonical URLs and meta tags."""
    return {"SITE_NAME": settings.SITE_NAME, "SITE_URL": settings.SITE_URL}
