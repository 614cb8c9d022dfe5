"""Computed SEO for a post: canonical URL, OpenGraph/Twitter tags and JSON-LD BlogPosting."""

import json

from django.conf import settings

from blog.models import Post, display_name_of


def absolute(path: str) -> str:
    return path if path.startswith(("http://", "https://")) else f"{settings.SITE_URL}{path}"


def canonical_url(post: Post) -> str:
    return post.canonical_url or absolute(post.get_absolute_url())


def post_seo(post: Post) -> dict:
    """Everything a page head (or a headless front-end) needs for this post."""
    title = post.meta_title or post.title
    description = post.meta_description or post.excerpt
    url = canonical_url(post)
    author = display_name_of(post.author)
    open_graph = {
        "og:type": "article",
        "og:title": title,
        "og:description": description,
        "og:url": url,
        "og:site_name": settings.SITE_NAME,
        "article:author": author,
    }
    twitter = {
        "twitter:card": "summary_large_image" if post.cover_image_url else "summary",
        "twitter:title": title,
        "twitter:description": description,
    }
    if post.cover_image_url:
        open_graph["og:image"] = post.cover_image_url
        open_graph["og:image:alt"] = post.cover_image_alt
        twitter["twitter:image"] = post.cover_image_url
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
    if post.cover_image_url:
        json_ld["image"] = post.cover_image_url
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
