"""Template filters of the public site."""

import nh3
from django import template
from django.utils.safestring import mark_safe

register = template.Library()


@register.filter
def search_snippet(headline: str) -> str:
    """A ts_headline snippet: keep only its <mark> highlights, escape everything else."""
    return mark_safe(nh3.clean(headline or "", tags={"mark"}, attributes={}))
