"""The public comment form, with a honeypot field bots fill in and people never see."""

from django import forms

from blog.models import COMMENT_MAX_LENGTH

HONEYPOT_FIELD = "website"


class CommentForm(forms.Form):
    """Name, email and text; `website` is the honeypot (hidden from people by CSS)."""

    author_name = forms.CharField(label="Name", max_length=80)
    author_email = forms.EmailField(label="Email (not published)")
    body = forms.CharField(
        label="Comment", widget=forms.Textarea(attrs={"rows": 6}), max_length=COMMENT_MAX_LENGTH
    )
    website = forms.CharField(
        required=False,
        label="Leave this field empty",
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )
