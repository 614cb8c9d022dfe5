"""Computed SEO for a post: canonical URL, OpenGraph/Twitter tags and JSON-LD BlogPosting."""

import json

from django.conf import settings

from blog import images
from blog.models import Post, display_name_of


def absolute(path: str) -> str:
    return path if path.startswith(("http://", "https://")) else f"{settings.SITE_URL}{path}"


def canonical_url(post: Post) -> str:
    return post.canonical_url or absolute(post.get_absolute_url())


def cover_of(post: Post) -> tuple[str, str]:
    """The cover's absolute address and alt text: the uploaded image first, else the URL."""
    if post.cover_image_id:
        image = post.cover_image
        return absolute(images.url_of(image.original)), post.cover_image_alt or image.alt_text
    return post.cover_image_url, post.cover_image_alt


def post_seo(post: Post) -> dict:
    """Everything a page head (or a headless front-end) needs for this post."""
    title = post.meta_title or post.title
    description = post.meta_description or post.excerpt
    url = canonical_url(post)
    author = display_name_of(post.author)
    cover, cover_alt = cover_of(post)
    open_graph = {
        "og:type": "article",
        "og:title": title,
        "og:description": description,
        "og:url": url,
        "og:site_name": settings.SITE_NAME,
        "article:author": author,
    }
    twitter = {
        "twitter:card": "summary_large_image" if cover else "summary",
        "twitter:title": title,
        "twitter:description": description,
    }
    if cover:
        open_graph["og:image"] = cover
        open_graph["og:image:alt"] = cover_alt
        twitter["twitter:image"] = cover
    if post.published_at:
        open_graph["article:published_time"] = post.published_at.isoformat()
    open_graph["article:modified_time"] = post.updated_at.isoformat()
    json_ld = {
        "@context": "https://schema.org",
        "@type": "BlogPosting",
        "headline": post.title[:110],
        "description": description,
        "url": url,
        "mainEntityOfPage": {"@type": "WebPage", "@id": url},
        "author": {"@type": "Person", "name": author},
        "publisher": {"@type": "Organization", "name": settings.SITE_NAME},
        "dateModified": post.updated_at.isoformat(),
        "wordCount": len((post.body or "").split()),
    }
    if post.published_at:
        json_ld["datePublished"] = post.published_at.isoformat()
    if cover:
        json_ld["image"] = cover
    return {
        "title": title,
        "description": description,
        "canonical_url": url,
        "open_graph": open_graph,
        "twitter": twitter,
        "json_ld": json_ld,
    }


def json_ld_script(data: dict) -> str:
    """JSON-LD safe to embed in a <script> element (no "</script>" break-out)."""
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
