"""Who may write posts and who edits every post, from the user's permissions alone (no model
imports, so the models and the workflow can both use it)."""


def is_editor(user) -> bool:
    """Editors (and superusers) may do everything to every post."""
    return bool(user and user.is_authenticated and user.has_perm("blog.publish_post"))


def can_write_posts(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm("blog.add_post"))
