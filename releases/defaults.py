"""The environments every install has; made by migration 0002 and kept by post_migrate."""

DEFAULT_ENVIRONMENTS = [
    {"slug": "staging", "name": "Staging", "position": 10, "requires_approval": False},
    {"slug": "production", "name": "Production", "position": 20, "requires_approval": True},
]


# Defaults of fields added after migration 0002 (whose historical model lacks them): set on
# existing installs by the migration that added them (0009), on new rows by post_migrate.
LATER_DEFAULTS = {"production": {"backup_before_deploy": True}}


def ensure_default_environments(
    environment_model, *, current_model: bool = False, using: str = "default"
) -> None:
    """Create any missing default environment (existing ones are left as edited)."""
    for data in DEFAULT_ENVIRONMENTS:
        defaults = {**data, **(LATER_DEFAULTS.get(data["slug"], {}) if current_model else {})}
        environment_model.objects.using(using).get_or_create(slug=data["slug"], defaults=defaults)


def ensure_after_migrate(sender, **kwargs) -> None:
    """post_migrate receiver: a database flushed (tests, `manage.py flush`) gets them back."""
    from releases.models import Environment

    ensure_default_environments(
        Environment, current_model=True, using=kwargs.get("using", "default")
    )
