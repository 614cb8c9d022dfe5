"""Image files checked and prepared with Pillow: sniffed type, limits, no EXIF, renditions."""

import io
import warnings
from dataclasses import dataclass, field

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

# What we accept, by the format Pillow reads from the bytes (never by name or client type).
FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "GIF": ("image/gif", "gif"),
    "WEBP": ("image/webp", "webp"),
}
# Widths of the WebP renditions (narrower than the original only, plus one at its own width).
RENDITION_WIDTHS = (320, 640, 960, 1280, 1920)
WEBP_QUALITY = 80
# libwebp effort 0-6 (default 4): 2 encodes about 3x faster for a few per cent more bytes.
WEBP_METHOD = 2
JPEG_QUALITY = 88

NOT_AN_IMAGE = (
    "This file is not a JPEG, PNG, GIF or WebP image (its content was checked, not its name)."
)
SVG_REFUSED = (
    "SVG images are not accepted: they can carry scripts. Upload a PNG, JPEG, GIF or WebP."
)
TOO_LARGE = "The file is {size} MB; the limit is {limit} MB."
TOO_MANY_PIXELS = (
    "The image is {width}×{height} pixels ({megapixels} megapixels); the limit is {limit} "
    "megapixels and {side} pixels a side."
)
BOMB = "The image declares more pixels than it could honestly hold (a decompression bomb)."
CORRUPT = "The image file is damaged or cut short: {detail}"
EMPTY = "The file is empty."


class UploadRefused(ValueError):
    """An upload that is not stored; the message says why, the code names the rule."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


@dataclass
class Rendition:
    width: int
    height: int
    data: bytes
    extension: str = "webp"
    content_type: str = "image/webp"


@dataclass
class PreparedImage:
    """The cleaned original (re-encoded, no metadata) and its renditions, ready to store."""

    format: str
    width: int
    height: int
    data: bytes
    renditions: list[Rendition] = field(default_factory=list)

    @property
    def extension(self) -> str:
        return FORMATS[self.format][1]

    @property
    def content_type(self) -> str:
        return FORMATS[self.format][0]


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f}".removesuffix(".0")


def _looks_like_markup(head: bytes) -> bool:
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return start.startswith((b"<?xml", b"<svg", b"<!doctype", b"<html")) or b"<svg" in start


def open_checked(data: bytes) -> Image.Image:
    """The decoded image if `data` passes every rule; UploadRefused otherwise."""
    if not data:
        raise UploadRefused(EMPTY, "empty")
    limit = settings.MEDIA_MAX_UPLOAD_BYTES
    if len(data) > limit:
        raise UploadRefused(
            TOO_LARGE.format(size=_megabytes(len(data)), limit=_megabytes(limit)), "too_large"
        )
    if _looks_like_markup(data[:1024]):
        raise UploadRefused(SVG_REFUSED, "svg")
    with warnings.catch_warnings():
        # Pillow warns (then errors) on huge declared sizes; both are refusals here.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise UploadRefused(BOMB, "decompression_bomb")
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise UploadRefused(NOT_AN_IMAGE, "not_an_image")
        if image.format not in FORMATS:
            raise UploadRefused(NOT_AN_IMAGE, "not_an_image")
        width, height = image.size
        max_pixels, max_side = settings.MEDIA_MAX_PIXELS, settings.MEDIA_MAX_SIDE
        # Checked on the header's numbers, before a single pixel is decoded.
        if width * height > max_pixels or max(width, height) > max_side:
            raise UploadRefused(
                TOO_MANY_PIXELS.format(
                    width=width,
                    height=height,
                    megapixels=_megabytes(width * height),
                    limit=_megabytes(max_pixels),
                    side=max_side,
                ),
                "too_many_pixels",
            )
        try:
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise UploadRefused(BOMB, "decompression_bomb")
        except (OSError, SyntaxError, ValueError) as error:
            raise UploadRefused(CORRUPT.format(detail=error), "corrupt")
    return image


def _without_metadata(image: Image.Image) -> Image.Image:
    """Pixels turned upright (EXIF orientation applied), every metadata block dropped."""
    upright = ImageOps.exif_transpose(image) or image
    transparency = upright.info.get("transparency")
    upright.info = {} if transparency is None else {"transparency": transparency}
    return upright


def _encode(image: Image.Image, image_format: str) -> bytes:
    buffer = io.BytesIO()
    if image_format == "JPEG":
        if image.mode not in ("RGB", "L", "CMYK"):
            image = image.convert("RGB")
        image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
    elif image_format == "WEBP":
        image.save(buffer, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
    else:
        # No exif/xmp/icc arguments: Pillow writes only what it is given.
        image.save(buffer, image_format)
    return buffer.getvalue()


def rendition_widths(width: int) -> list[int]:
    """The widths to generate for an image `width` pixels wide, widest first."""
    narrower = [w for w in RENDITION_WIDTHS if w < width]
    return sorted({*narrower, min(width, RENDITION_WIDTHS[-1])}, reverse=True)


def prepare(data: bytes) -> PreparedImage:
    """Check an upload, strip its metadata and make its WebP renditions (widest first)."""
    image = open_checked(data)
    image_format = image.format
    clean = _without_metadata(image)
    prepared = PreparedImage(
        format=image_format,
        width=clean.width,
        height=clean.height,
        data=_encode(clean, image_format),
    )
    source = clean.convert("RGBA" if clean.mode in ("RGBA", "LA", "P", "PA") else "RGB")
    for width in rendition_widths(clean.width):
        height = max(1, round(clean.height * width / clean.width))
        # Each rendition is scaled from the previous, larger one: far cheaper than from the
        # original every time, and the steps are small enough to keep Lanczos' quality.
        source = source.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=2.0)
        prepared.renditions.append(Rendition(width, height, _encode(source, "WEBP")))
    return prepared
