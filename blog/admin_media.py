"""The media library in the admin: upload with alt text, thumbnails, where used, safe delete."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from blog import errors, images, imaging
from blog.models import Image


class ImageUploadForm(forms.ModelForm):
    """A new image: the file (checked by blog.imaging) and what it shows."""

    file = forms.FileField(
        label="Image",
        help_text="JPEG, PNG, GIF or WebP. Location and camera data (EXIF) are removed.",
    )

    class Meta:
        model = Image
        fields = ["alt_text"]

    def clean_file(self):
        upload = self.cleaned_data["file"]
        data = upload.read()
        try:
            imaging.open_checked(data)
        except imaging.UploadRefused as refusal:
            raise forms.ValidationError(str(refusal), code=refusal.code)
        self.data_bytes = data
        return upload


def upload_error(refusal: Exception, status: int) -> JsonResponse:
    return JsonResponse(
        {"detail": str(refusal), "code": getattr(refusal, "code", "refused")}, status=status
    )


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ("thumbnail", "alt_text", "dimensions", "size", "uploaded_by", "created_at")
    list_display_links = ("thumbnail", "alt_text")
    search_fields = ("alt_text", "original_name", "key")
    list_select_related = ("uploaded_by",)
    readonly_fields = ("preview", "dimensions", "size", "rendition_list", "used_in", "markdown")
    list_per_page = 40

    class Media:
        css = {"all": ("blog/admin.css",)}

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ImageUploadForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["file", "alt_text"]
        return [
            "preview",
            "alt_text",
            "markdown",
            "dimensions",
            "size",
            "rendition_list",
            "used_in",
        ]

    def get_queryset(self, request):
        return images.images_visible_to(request.user).select_related("uploaded_by")

    def save_model(self, request, obj, form, change):
        if change:
            images.image_describe(image=obj, user=request.user, alt_text=obj.alt_text)
            return
        upload = form.cleaned_data["file"]
        created = images.image_upload(
            user=request.user,
            data=form.data_bytes,
            original_name=upload.name,
            alt_text=form.cleaned_data.get("alt_text", ""),
        )
        obj.pk, obj.key = created.pk, created.key
        obj.refresh_from_db()

    def delete_view(self, request, object_id, extra_context=None):
        image = self.get_object(request, object_id)
        if image is not None:
            refusal = images.in_use_refusal(image)
            if refusal:
                self.message_user(request, str(refusal), messages.ERROR)
                return HttpResponseRedirect(reverse("admin:blog_image_change", args=[image.pk]))
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request, obj):
        images.image_delete(image=obj, user=request.user)

    def delete_queryset(self, request, queryset):
        for image in queryset:
            try:
                images.image_delete(image=image, user=request.user)
            except (errors.ImageInUse, PermissionDenied) as refusal:
                self.message_user(request, str(refusal), messages.ERROR)

    # ----------------------------------------------------------------- the editor's upload

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("upload/", wrap(self.upload_view), name="blog_image_upload"),
        ] + super().get_urls()

    def upload_view(self, request):
        """POST one file (the editor's drag and drop, paste or picker): JSON with the
        image's address and the Markdown to insert, or the reason it was refused."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        upload = request.FILES.get("image")
        if upload is None:
            return JsonResponse({"detail": "Send the file in the field “image”."}, status=400)
        try:
            image = images.image_upload(
                user=request.user,
                data=upload.read(),
                original_name=upload.name,
                alt_text=request.POST.get("alt_text", ""),
            )
        except imaging.UploadRefused as refusal:
            return upload_error(refusal, 400)
        except PermissionDenied as refusal:
            return upload_error(refusal, 403)
        return JsonResponse(
            {
                "key": image.key,
                "url": images.url_of(image.original),
                "alt_text": image.alt_text,
                "markdown": images.markdown_of(image),
                "change_url": reverse("admin:blog_image_change", args=[image.pk]),
            },
            status=201,
        )

    # ----------------------------------------------------------------- display

    @admin.display(description="Image")
    def thumbnail(self, image):
        smallest = image.renditions[-1]["name"] if image.renditions else image.original
        return format_html(
            '<img src="{}" alt="" class="media-thumb" loading="lazy">', images.url_of(smallest)
        )

    @admin.display(description="Preview")
    def preview(self, image):
        return format_html(
            '<img src="{}" srcset="{}" sizes="30rem" alt="{}" class="media-preview">',
            images.url_of(image.original),
            images.srcset_of(image),
            image.alt_text,
        )

    @admin.display(description="Size")
    def dimensions(self, image):
        return f"{image.width} × {image.height} px, {image.format}"

    @admin.display(description="File")
    def size(self, image):
        return f"{image.size_bytes / 1000:,.0f} kB"

    @admin.display(description="Renditions (WebP)")
    def rendition_list(self, image):
        return format_html_join(
            ", ",
            '<a href="{}">{} px</a> ({} kB)',
            (
                (images.url_of(r["name"]), r["width"], round(r["size_bytes"] / 1000))
                for r in image.renditions
            ),
        )

    @admin.display(description="Used in")
    def used_in(self, image):
        posts = images.where_used(image)
        if not posts:
            return "Not used by any post."
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            ((reverse("admin:blog_post_change", args=[p.pk]), p.title) for p in posts),
        )

    @admin.display(description="Markdown")
    def markdown(self, image):
        return format_html("<code>{}</code>", images.markdown_of(image))
