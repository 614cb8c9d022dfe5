"""API endpoints about the running build itself: /api/v1/version/."""

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


class VersionView(APIView):
    """Which build is running: smoke tests compare `commit` with the deployed SHA."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Running version",
        responses=inline_serializer(
            "Version",
            {
                "version": serializers.CharField(),
                "commit": serializers.CharField(),
                "build_time": serializers.CharField(allow_blank=True),
            },
        ),
    )
    def get(self, request):
        response = Response(
            {
                "version": settings.APP_VERSION,
                "commit": settings.GIT_SHA,
                "build_time": settings.BUILD_TIME,
            }
        )
        response["Cache-Control"] = "no-cache"
        return response
