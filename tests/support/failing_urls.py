"""The project's URLs plus /boom/, which always answers 500 (verification tests)."""

from django.urls import path

from config.urls import handler404, handler500, urlpatterns as project  # noqa: F401


def boom(request):
    raise RuntimeError("this route is broken on purpose")


urlpatterns = [path("boom/", boom), *project]
