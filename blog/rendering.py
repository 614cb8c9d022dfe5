"""Markdown to sanitised HTML, and what is derived from a body: excerpt, reading time."""

import html as html_entities
import math
import re

import markdown
import nh3

WORDS_PER_MINUTE = 200
EXCERPT_LENGTH = 280

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em",
    "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins",
    "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "small", "span", "strong", "sub",
    "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height", "loading"},
    "code": {"class"},
    "div": {"class"},
    "span": {"class"},
    "td": {"align"},
    "th": {"align"},
    "h1": {"id"},
    "h2": {"id"},
    "h3": {"id"},
    "h4": {"id"},
}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
MARKDOWN_EXTENSIONS = ["fenced_code", "tables", "sane_lists", "toc", "smarty"]


def render_markdown(body: str) -> str:
    """Render Markdown and sanitise the result: no scripts, handlers or javascript: URLs."""
    html = markdown.markdown(body, extensions=MARKDOWN_EXTENSIONS, output_format="html")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        # Links in posts point to other sites: don't leak the referrer or pass window.opener.
        link_rel="noopener noreferrer",
    )


def plain_text(html: str) -> str:
    """The visible text of an HTML fragment, whitespace folded."""
    text = html_entities.unescape(nh3.clean(html, tags=set()))
    return re.sub(r"\s+", " ", text).strip()


def make_excerpt(html: str, length: int = EXCERPT_LENGTH) -> str:
    """The first `length` characters of the text, cut at a word boundary."""
    text = plain_text(html)
    if len(text) <= length:
        return text
    cut = text[:length].rsplit(" ", 1)[0].rstrip(",.;:!?-")
    return f"{cut}…"


def reading_time_minutes(html: str) -> int:
    """Whole minutes to read the text at 200 words a minute, at least one."""
    words = len(plain_text(html).split())
    return max(1, math.ceil(words / WORDS_PER_MINUTE))
