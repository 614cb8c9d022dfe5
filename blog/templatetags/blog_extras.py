"""Template filters of the public site."""

import nh3
from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from blog import images

register = template.Library()


@register.filter
def search_snippet(headline: str) -> str:
    """A ts_headline snippet: keep only its <mark> highlights, escape everything else."""
    # nh3 leaves only <mark>, without attributes.
    cleaned = nh3.clean(headline or "", tags={"mark"}, attributes={})
    return mark_safe(cleaned)  # nosec B308 B703


@register.simple_tag
def cover_image(post):
    """The post's cover: an uploaded image with its renditions, or the cover URL."""
    if post.cover_image_id:
        image = post.cover_image
        return format_html(
            '<img src="{}" srcset="{}" sizes="{}" width="{}" height="{}" alt="{}"'
            ' loading="lazy" class="cover">',
            images.url_of(image.original),
            images.srcset_of(image),
            images.SIZES,
            image.width,
            image.height,
            post.cover_image_alt or image.alt_text,
        )
    if post.cover_image_url:
        return format_html(
            '<img src="{}" alt="{}" class="cover">', post.cover_image_url, post.cover_image_alt
        )
    return ""
