"""The environments every install has; made by migration 0002 and kept by post_migrate."""

DEFAULT_ENVIRONMENTS = [
    {"slug": "staging", "name": "Staging", "position": 10, "requires_approval": False},
    {"slug": "production", "name": "Production", "position": 20, "requires_approval": True},
]


def ensure_default_environments(environment_model) -> None:
    """Create any missing default environment (existing ones are left as edited)."""
    for data in DEFAULT_ENVIRONMENTS:
        environment_model.objects.get_or_create(slug=data["slug"], defaults=data)


def ensure_after_migrate(sender, **kwargs) -> None:
    """post_migrate receiver: a database flushed (tests, `manage.py flush`) gets them back."""
    from releases.models import Environment

    ensure_default_environments(Environment)
