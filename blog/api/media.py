"""The media library over the API: upload (multipart), list, describe, delete; renditions."""

from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from blog import errors, images, imaging
from blog.roles import can_write_posts
from blog.seo import absolute
from blog.models import Image
from core.parsers import ObjectJSONParser
from core.throttling import RateLimitHeadersMixin


class CanWritePosts(BasePermission):
    message = "You do not have permission to write posts."

    def has_permission(self, request, view):
        return can_write_posts(request.user)


class RenditionSerializer(serializers.Serializer):
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    content_type = serializers.CharField()
    url = serializers.CharField()


class ImageSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="The cleaned original (no EXIF).")
    srcset = serializers.SerializerMethodField(help_text="For an <img srcset> attribute.")
    renditions = serializers.SerializerMethodField(help_text="WebP renditions, widest first.")
    markdown = serializers.SerializerMethodField(help_text="What to put in a post body.")
    alt_text = serializers.CharField(max_length=300, allow_blank=True, required=False)

    class Meta:
        model = Image
        fields = [
            "key",
            "alt_text",
            "format",
            "width",
            "height",
            "size_bytes",
            "url",
            "srcset",
            "renditions",
            "markdown",
            "created_at",
        ]
        read_only_fields = [name for name in fields if name != "alt_text"]

    # Absolute addresses: API clients show the images on other sites (SITE_URL's host).
    def get_url(self, image) -> str:
        return absolute(images.url_of(image.original))

    def get_srcset(self, image) -> str:
        return ", ".join(f"{r['url']} {r['width']}w" for r in self.get_renditions(image))

    @extend_schema_field(RenditionSerializer(many=True))
    def get_renditions(self, image) -> list[dict]:
        return [{**r, "url": absolute(r["url"])} for r in images.renditions_of(image)]

    def get_markdown(self, image) -> str:
        return images.markdown_of(image)


class ImageUploadSerializer(serializers.Serializer):
    image = serializers.FileField(help_text="JPEG, PNG, GIF or WebP, checked by its content.")
    alt_text = serializers.CharField(max_length=300, allow_blank=True, required=False)


class ImageInUseSerializer(serializers.Serializer):
    detail = serializers.CharField()
    posts = serializers.ListField(child=serializers.CharField(), help_text="Their slugs.")


REFUSED = OpenApiResponse(description="Not an accepted image, or over a limit; `code` says.")


@extend_schema_view(
    list=extend_schema(summary="The media library (editors: all; authors: their uploads)"),
    retrieve=extend_schema(summary="One image with its renditions"),
    create=extend_schema(
        summary="Upload an image",
        request={"multipart/form-data": ImageUploadSerializer},
        responses={201: ImageSerializer, 400: REFUSED},
    ),
    partial_update=extend_schema(summary="Change the alt text"),
    destroy=extend_schema(
        summary="Delete an image no post uses",
        responses={204: None, 409: ImageInUseSerializer},
    ),
)
class ImageViewSet(
    RateLimitHeadersMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Images for posts: stored cleaned (EXIF gone) with WebP renditions made once."""

    serializer_class = ImageSerializer
    permission_classes = [CanWritePosts]
    lookup_field = "key"
    lookup_value_regex = "[0-9a-f]{32}"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_parsers(self):
        # Uploads are multipart; everything else is the API's strict JSON.
        request = getattr(self, "request", None)  # None while the schema is generated
        if getattr(self, "action", None) == "create" or (request and request.method == "POST"):
            return [MultiPartParser()]
        return [ObjectJSONParser()]

    def get_queryset(self):
        return images.images_visible_to(self.request.user)

    def create(self, request, *args, **kwargs):
        upload = ImageUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        try:
            image = images.image_upload(
                user=request.user,
                data=upload.validated_data["image"].read(),
                original_name=upload.validated_data["image"].name,
                alt_text=upload.validated_data.get("alt_text", ""),
            )
        except imaging.UploadRefused as refusal:
            return Response(
                {"detail": str(refusal), "code": refusal.code}, status=status.HTTP_400_BAD_REQUEST
            )
        return Response(ImageSerializer(image).data, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer):
        images.image_describe(
            image=serializer.instance,
            user=self.request.user,
            alt_text=serializer.validated_data.get("alt_text", serializer.instance.alt_text),
        )

    def destroy(self, request, *args, **kwargs):
        image = self.get_object()
        try:
            images.image_delete(image=image, user=request.user)
        except errors.ImageInUse as refusal:
            return Response(
                {"detail": str(refusal), "posts": [post.slug for post in refusal.posts]},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(status=status.HTTP_204_NO_CONTENT)
