"""Template filters of the public site."""

import nh3
from django import template
from django.utils.safestring import mark_safe

register = template.Library()


@register.filter
def search_snippet(headline: str) -> str:
    """A ts_headline snippet: keep only its <mark> highlights, escape everything else."""
    # nh3 leaves only <mark>, without attributes.
    cleaned = nh3.clean(headline or "", tags={"mark"}, attributes={})
    return mark_safe(cleaned)  # nosec B308 B703
