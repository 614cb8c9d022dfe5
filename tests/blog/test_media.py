"""The media library: uploads checked by content and stripped of EXIF, renditions made once,
images in posts served with srcset, deletes refused while used; filesystem and S3 storage."""

import io
import struct
import zlib

import pytest
from django.core.files.storage import storages
from django.urls import reverse
from PIL import Image as PILImage

from blog import imaging
from blog.models import Image, PostStatus
from tests.blog.factories import make_post
from tests.support.s3 import s3_server, s3_storage

pytestmark = pytest.mark.django_db
MEDIA = "/api/v1/media/"
GPS_IFD = 0x8825


def jpeg_with_gps(size=(1500, 1000)) -> bytes:
    """A photo as a phone takes it: EXIF with a camera model and a GPS position."""
    image = PILImage.new("RGB", size, (200, 120, 40))
    exif = PILImage.Exif()
    exif[0x0110] = "Phone 12"  # Model
    exif[GPS_IFD] = {1: "N", 2: (28.0, 36.0, 50.0), 3: "E", 4: (77.0, 12.0, 30.0)}
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def png_bomb(width=30_000, height=30_000) -> bytes:
    """A tiny PNG whose header declares 900 megapixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * (width // 8)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * 16))
        + chunk(b"IEND", b"")
    )


SVG_WITH_SCRIPT = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(document.cookie)</script></svg>"
)


def upload(client, data: bytes, name="photo.jpg", alt_text=""):
    return client.post(
        MEDIA,
        {"image": _named(data, name), "alt_text": alt_text},
        format="multipart",
    )


def _named(data: bytes, name: str):
    buffer = io.BytesIO(data)
    buffer.name = name
    return buffer


def stored_files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "data, name, code, words",
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n", "scan.jpg", "not_an_image", "not a"),
        (SVG_WITH_SCRIPT, "logo.svg", "svg", "scripts"),
        (SVG_WITH_SCRIPT, "logo.png", "svg", "scripts"),
        (png_bomb(), "bomb.png", "decompression_bomb", "decompression bomb"),
        (b"", "empty.jpg", "empty", "empty"),
    ],
)
def test_refused_uploads_say_why_and_store_nothing(
    author_client, media_storage, data, name, code, words
):
    response = upload(author_client, data, name)
    assert response.status_code == 400, response.content
    if code != "empty":  # DRF refuses an empty file itself, before our checks
        assert response.json()["code"] == code
        assert words in response.json()["detail"]
    assert Image.objects.count() == 0
    assert not media_storage.exists() or stored_files(media_storage) == []


def test_an_oversize_file_is_refused_with_the_limit(author_client, media_storage, settings):
    settings.MEDIA_MAX_UPLOAD_BYTES = 100_000
    data = jpeg_with_gps(size=(1200, 900)) + b"\x00" * 120_000
    response = upload(author_client, data)
    assert response.status_code == 400
    assert response.json()["code"] == "too_large"
    assert "the limit is 0.1 MB" in response.json()["detail"]
    assert Image.objects.count() == 0


def test_too_many_pixels_is_refused_before_decoding(author_client, media_storage, settings):
    settings.MEDIA_MAX_PIXELS = 1_000_000
    response = upload(author_client, jpeg_with_gps(size=(1500, 1000)))
    assert response.status_code == 400
    assert response.json()["code"] == "too_many_pixels"
    assert "1500×1000" in response.json()["detail"]


def test_readers_cannot_upload(api_client, media_storage):
    assert upload(api_client, jpeg_with_gps()).status_code in (401, 403)
    assert Image.objects.count() == 0


# --------------------------------------------------------------------------- what is stored


def test_an_upload_is_stored_without_exif_with_webp_renditions(author_client, media_storage):
    original = PILImage.open(io.BytesIO(jpeg_with_gps()))
    assert GPS_IFD in original.getexif()  # the test photo does carry a position

    response = upload(author_client, jpeg_with_gps(), alt_text="A courtroom")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["width"], body["height"], body["format"]) == (1500, 1000, "JPEG")
    assert [r["width"] for r in body["renditions"]] == [1500, 1280, 960, 640, 320]
    assert all(r["content_type"] == "image/webp" for r in body["renditions"])
    assert body["srcset"].endswith("320w")

    image = Image.objects.get(key=body["key"])
    storage = storages["default"]
    with storage.open(image.original) as stored:
        cleaned = PILImage.open(io.BytesIO(stored.read()))
        assert cleaned.format == "JPEG"
        assert dict(cleaned.getexif()) == {}
        assert "exif" not in cleaned.info
    for rendition in image.renditions:
        with storage.open(rendition["name"]) as stored:
            picture = PILImage.open(io.BytesIO(stored.read()))
            assert picture.format == "WEBP"
            assert picture.size == (rendition["width"], rendition["height"])
            assert dict(picture.getexif()) == {}
    # One folder per image: the original and five renditions, nothing else.
    assert len(stored_files(media_storage)) == 6


def test_renditions_follow_the_original_width():
    assert imaging.rendition_widths(300) == [300]
    assert imaging.rendition_widths(1000) == [1000, 960, 640, 320]
    assert imaging.rendition_widths(4000) == [1920, 1280, 960, 640, 320]


def test_a_png_with_transparency_keeps_it(author_client, media_storage):
    picture = PILImage.new("RGBA", (700, 400), (0, 0, 0, 0))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    body = upload(author_client, buffer.getvalue(), "logo.png").json()
    image = Image.objects.get(key=body["key"])
    with storages["default"].open(image.renditions[0]["name"]) as stored:
        assert PILImage.open(io.BytesIO(stored.read())).mode == "RGBA"


# --------------------------------------------------------------------------- in posts


def test_a_post_shows_its_images_with_srcset_and_the_files_are_served(
    author_client, editor_client, media_storage, client, settings
):
    body = upload(author_client, jpeg_with_gps(), alt_text="The court at noon").json()
    post = make_post(
        status=PostStatus.DRAFT,
        body=f"Intro.\n\n![The court at noon]({body['url']})\n",
        cover_image=Image.objects.get(key=body["key"]),
    )
    assert list(post.images.values_list("key", flat=True)) == [body["key"]]
    publish = editor_client.post(f"/api/v1/posts/{post.slug}/publish/")
    assert publish.status_code == 200, publish.content

    api = client.get(f"/api/v1/posts/{post.slug}/").json()
    assert api["cover_image"]["key"] == body["key"]
    assert [r["width"] for r in api["cover_image"]["renditions"]] == [1500, 1280, 960, 640, 320]
    page = client.get(post.get_absolute_url())
    html = page.content.decode()
    assert 'srcset="' in html and "1280w" in html and 'loading="lazy"' in html
    assert 'sizes="(max-width: 46rem) 100vw, 46rem"' in html
    assert 'width="1500" height="1000"' in html
    rendition_url = body["renditions"][1]["url"]
    assert rendition_url.startswith(settings.SITE_URL + "/media/images/")
    served = client.get(rendition_url.removeprefix(settings.SITE_URL))
    assert served.status_code == 200
    assert served["Cache-Control"] == "public, max-age=31536000, immutable"
    assert PILImage.open(io.BytesIO(b"".join(served.streaming_content))).format == "WEBP"


def test_publishing_needs_alt_text_on_uploaded_images(author_client, editor_client, media_storage):
    body = upload(author_client, jpeg_with_gps()).json()
    post = make_post(status=PostStatus.DRAFT, body=f"![]({body['url']})")
    refused = editor_client.post(f"/api/v1/posts/{post.slug}/publish/")
    assert refused.status_code == 400
    assert "alt text" in refused.content.decode()
    post.refresh_from_db()
    assert post.status == PostStatus.DRAFT

    # Described in the library, the image gets its alt text on the page: publishing works.
    described = editor_client.patch(
        f"{MEDIA}{body['key']}/", {"alt_text": "An empty courtroom"}, format="json"
    )
    assert described.status_code == 200
    edit = editor_client.patch(
        f"/api/v1/posts/{post.slug}/",
        {"body": post.body + "\n"},
        format="json",
        HTTP_IF_MATCH=editor_client.get(f"/api/v1/posts/{post.slug}/")["ETag"],
    )
    assert edit.status_code == 200, edit.content
    assert editor_client.post(f"/api/v1/posts/{post.slug}/publish/").status_code == 200
    post.refresh_from_db()
    assert 'alt="An empty courtroom"' in post.body_html


def test_an_image_in_use_cannot_be_deleted_until_it_is_not(
    author_client, editor_client, media_storage, django_capture_on_commit_callbacks
):
    body = upload(author_client, jpeg_with_gps(), alt_text="Gavel").json()
    image = Image.objects.get(key=body["key"])
    post = make_post(status=PostStatus.DRAFT, title="On gavels", cover_image=image)
    refused = editor_client.delete(f"{MEDIA}{image.key}/")
    assert refused.status_code == 409
    assert refused.json()["posts"] == [post.slug]
    assert "On gavels" in refused.json()["detail"]
    assert len(stored_files(media_storage)) == 6

    edit = editor_client.patch(
        f"/api/v1/posts/{post.slug}/",
        {"cover_image": None},
        format="json",
        HTTP_IF_MATCH=editor_client.get(f"/api/v1/posts/{post.slug}/")["ETag"],
    )
    assert edit.status_code == 200, edit.content
    with django_capture_on_commit_callbacks(execute=True):
        assert editor_client.delete(f"{MEDIA}{image.key}/").status_code == 204
    assert not Image.objects.exists()
    assert stored_files(media_storage) == []


def test_authors_see_and_delete_only_their_own_uploads(
    author_client, editor_client, media_storage
):
    mine = upload(author_client, jpeg_with_gps()).json()
    theirs = upload(editor_client, jpeg_with_gps()).json()
    listed = [row["key"] for row in author_client.get(MEDIA).json()["results"]]
    assert listed == [mine["key"]]
    assert author_client.delete(f"{MEDIA}{theirs['key']}/").status_code == 404
    assert sorted(r["key"] for r in editor_client.get(MEDIA).json()["results"]) == sorted(
        [mine["key"], theirs["key"]]
    )


def test_the_editor_upload_endpoint_answers_markdown(media_storage, client, editor):
    client.force_login(editor)
    url = reverse("admin:blog_image_upload")
    response = client.post(url, {"image": _named(jpeg_with_gps(), "court.jpg")})
    assert response.status_code == 201
    assert response.json()["markdown"].startswith("![](")
    refused = client.post(url, {"image": _named(SVG_WITH_SCRIPT, "x.jpg")})
    assert refused.status_code == 400 and refused.json()["code"] == "svg"


def test_the_live_preview_renders_like_the_public_page(media_storage, client, editor):
    client.force_login(editor)
    response = client.post(
        reverse("admin:blog_post_render"),
        {"body": "# Title\n\nSome *words* here.\n\n<script>alert(1)</script>"},
    )
    assert response.status_code == 200
    result = response.json()
    assert "<em>words</em>" in result["html"] and "<script>" not in result["html"]
    assert result["words"] == 4 and result["reading_minutes"] == 1


# --------------------------------------------------------------------------- object storage


def test_uploads_go_to_s3_compatible_storage(
    author_client, settings, django_capture_on_commit_callbacks
):
    with s3_server() as (endpoint, client):
        client.create_bucket(Bucket="lawvriksh-media")
        settings.STORAGES = {
            **settings.STORAGES,
            "default": s3_storage(endpoint, "lawvriksh-media", location="media"),
        }
        response = upload(author_client, jpeg_with_gps(), alt_text="A courtroom")
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["url"].startswith(f"{endpoint}/lawvriksh-media/media/images/{body['key']}/")
        keys = sorted(
            item["Key"] for item in client.list_objects_v2(Bucket="lawvriksh-media")["Contents"]
        )
        assert keys == sorted(
            [f"media/images/{body['key']}/original.jpg"]
            + [f"media/images/{body['key']}/w{w}.webp" for w in (1500, 1280, 960, 640, 320)]
        )
        stored = client.get_object(
            Bucket="lawvriksh-media", Key=f"media/images/{body['key']}/original.jpg"
        )["Body"].read()
        assert dict(PILImage.open(io.BytesIO(stored)).getexif()) == {}

        image = Image.objects.get(key=body["key"])
        with django_capture_on_commit_callbacks(execute=True):
            deleted = author_client.delete(f"{MEDIA}{image.key}/")
        assert deleted.status_code == 204
        assert client.list_objects_v2(Bucket="lawvriksh-media").get("KeyCount") == 0
