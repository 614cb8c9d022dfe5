"""The media library's rules: store, describe and delete images; find and enrich them in posts."""

import re
import uuid
from html import escape

from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import Q

from blog import errors, imaging
from blog.models import Image, Post
from blog.roles import can_write_posts, is_editor

# An image of ours inside a URL: …/images/<32 hex key>/… whatever the storage's address.
KEY_IN_URL = re.compile(r"/images/([0-9a-f]{32})/")
IMG_TAG = re.compile(r"<img\b[^>]*>")
SRC = re.compile(r'\bsrc="([^"]*)"')
ALT = re.compile(r'\balt="([^"]*)"')
# What the public pages tell the browser about the space an image takes.
SIZES = "(max-width: 46rem) 100vw, 46rem"


def media_storage():
    return storages["default"]


def url_of(name: str) -> str:
    return media_storage().url(name)


def srcset_of(image: Image) -> str:
    return ", ".join(f"{url_of(r['name'])} {r['width']}w" for r in image.renditions)


def markdown_of(image: Image) -> str:
    """What to put in a post body to show `image` (brackets in the alt text softened)."""
    alt = image.alt_text.replace("[", "(").replace("]", ")")
    return f"![{alt}]({url_of(image.original)})"


def renditions_of(image: Image) -> list[dict]:
    """The renditions as API clients see them: width, height, type and address."""
    return [
        {
            "width": r["width"],
            "height": r["height"],
            "content_type": "image/webp",
            "url": url_of(r["name"]),
        }
        for r in image.renditions
    ]


# --------------------------------------------------------------------------- the library


def _check_may_upload(user) -> None:
    if not can_write_posts(user):
        raise PermissionDenied(errors.CANNOT_WRITE_POSTS)


def image_upload(*, user, data: bytes, original_name: str = "", alt_text: str = "") -> Image:
    """Check, clean and store an upload with its renditions; UploadRefused stores nothing."""
    _check_may_upload(user)
    prepared = imaging.prepare(data)
    key = uuid.uuid4().hex
    storage = media_storage()
    stored = []
    try:
        original = storage.save(
            f"images/{key}/original.{prepared.extension}", ContentFile(prepared.data)
        )
        stored.append(original)
        renditions = []
        for rendition in prepared.renditions:
            name = storage.save(
                f"images/{key}/w{rendition.width}.{rendition.extension}",
                ContentFile(rendition.data),
            )
            stored.append(name)
            renditions.append(
                {
                    "width": rendition.width,
                    "height": rendition.height,
                    "name": name,
                    "size_bytes": len(rendition.data),
                }
            )
        return Image.objects.create(
            key=key,
            original=original,
            alt_text=(alt_text or "").strip()[:300],
            format=prepared.format,
            width=prepared.width,
            height=prepared.height,
            size_bytes=len(prepared.data),
            original_name=(original_name or "")[-200:],
            renditions=renditions,
            uploaded_by=user if user.is_authenticated else None,
        )
    except BaseException:
        # Nothing half-stored: files without a row would never be found or deleted.
        for name in stored:
            storage.delete(name)
        raise


def image_describe(*, image: Image, user, alt_text: str) -> Image:
    """Change an image's alt text (the uploader or an editor)."""
    _check_may_change(user, image)
    image.alt_text = (alt_text or "").strip()[:300]
    image.save(update_fields=["alt_text"])
    return image


def _check_may_change(user, image: Image) -> None:
    _check_may_upload(user)
    if not is_editor(user) and image.uploaded_by_id != user.pk:
        raise PermissionDenied(errors.NOT_YOUR_IMAGE)


def where_used(image: Image) -> list[Post]:
    """The posts (trashed ones too) that show `image` as cover or in their body."""
    return list(
        Post.objects.filter(Q(cover_image=image) | Q(images=image))
        .distinct()
        .order_by("title")
        .only("pk", "title", "slug", "deleted_at")
    )


def in_use_refusal(image: Image) -> errors.ImageInUse | None:
    """The refusal to delete `image`, naming the posts that use it; None when unused."""
    used_in = where_used(image)
    if not used_in:
        return None
    titles = ", ".join(
        f"“{post.title}”" + (" (in the trash)" if post.deleted_at else "") for post in used_in
    )
    return errors.ImageInUse(errors.IMAGE_IN_USE.format(posts=titles), posts=used_in)


@transaction.atomic
def image_delete(*, image: Image, user) -> None:
    """Delete an image nobody uses, files included; refused with the posts that use it."""
    _check_may_change(user, image)
    locked = Image.objects.select_for_update().get(pk=image.pk)
    refusal = in_use_refusal(locked)
    if refusal:
        raise refusal
    names = [locked.original, *(r["name"] for r in locked.renditions)]
    locked.delete()
    storage = media_storage()
    # Files go once the row is surely gone; a failed delete leaves only unreachable files.
    transaction.on_commit(lambda: [storage.delete(name) for name in names])


def images_visible_to(user):
    """The library a user may pick from: everything for editors, their own for authors."""
    if is_editor(user):
        return Image.objects.all()
    if can_write_posts(user):
        return Image.objects.filter(uploaded_by=user)
    return Image.objects.none()


# --------------------------------------------------------------------------- images in posts


def keys_in(html: str) -> list[str]:
    return list(dict.fromkeys(KEY_IN_URL.findall(html)))


def enrich_html(html: str) -> str:
    """Give every <img> of ours its renditions (srcset, sizes, size) and lazy loading."""
    by_key = {image.key: image for image in Image.objects.filter(key__in=keys_in(html))}

    def rewrite(match: re.Match) -> str:
        tag = match.group(0)
        src = SRC.search(tag)
        found = KEY_IN_URL.search(src.group(1)) if src else None
        image = by_key.get(found.group(1)) if found else None
        if image is None:
            return tag if "loading=" in tag else tag.replace("<img", '<img loading="lazy"', 1)
        alt = ALT.search(tag)
        alt_text = alt.group(1) if alt and alt.group(1) else escape(image.alt_text)
        return (
            f'<img src="{escape(url_of(image.original))}" alt="{alt_text}"'
            f' srcset="{escape(srcset_of(image))}" sizes="{SIZES}"'
            f' width="{image.width}" height="{image.height}" loading="lazy"'
            + (f' title="{t.group(1)}"' if (t := re.search(r'\btitle="([^"]*)"', tag)) else "")
            + ">"
        )

    return IMG_TAG.sub(rewrite, html)


def record_usage(post: Post) -> None:
    """Keep `post.images` equal to the images its body shows."""
    post.images.set(Image.objects.filter(key__in=keys_in(post.body_html)))


def missing_alt_text(post: Post) -> list[str]:
    """The library images `post` shows without alt text (what stops it going live)."""
    problems = []
    if post.cover_image_id and not (post.cover_image_alt or post.cover_image.alt_text):
        problems.append(f"the cover image ({post.cover_image})")
    for tag in IMG_TAG.findall(post.body_html or ""):
        src, alt = SRC.search(tag), ALT.search(tag)
        if src and KEY_IN_URL.search(src.group(1)) and not (alt and alt.group(1).strip()):
            problems.append(f"the image {src.group(1)}")
    return problems


def check_alt_text(post: Post) -> None:
    problems = missing_alt_text(post)
    if problems:
        raise errors.WorkflowError(
            {"alt_text": errors.ALT_TEXT_NEEDED.format(what="; ".join(problems))},
            code="alt_text_needed",
        )
