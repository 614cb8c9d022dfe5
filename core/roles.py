"""The product's roles as Django groups and the model permissions each one holds."""

from django.contrib.auth.models import Group, Permission

AUTHOR = "Author"
EDITOR = "Editor"
RELEASE_MANAGER = "Release manager"
RELEASE_APPROVER = "Release approver"
ROLE_NAMES = (AUTHOR, EDITOR, RELEASE_MANAGER, RELEASE_APPROVER)

# "app_label.codename" of each role's permissions. A permission whose model does not
# exist yet is skipped, so this table can name what later migrations bring.
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    AUTHOR: (
        "blog.view_post",
        "blog.add_post",
        "blog.change_post",
        "blog.view_category",
        "blog.view_tag",
        "blog.view_revision",
        "blog.view_image",
        "blog.add_image",
        "blog.change_image",
        "blog.delete_image",
    ),
    EDITOR: (
        "blog.view_post",
        "blog.add_post",
        "blog.change_post",
        "blog.delete_post",
        "blog.publish_post",
        "blog.view_category",
        "blog.add_category",
        "blog.change_category",
        "blog.delete_category",
        "blog.view_tag",
        "blog.add_tag",
        "blog.change_tag",
        "blog.delete_tag",
        "blog.view_comment",
        "blog.change_comment",
        "blog.delete_comment",
        "blog.moderate_comment",
        "blog.view_revision",
        "blog.view_image",
        "blog.add_image",
        "blog.change_image",
        "blog.delete_image",
        "blog.view_authorprofile",
        "blog.change_authorprofile",
        "notifications.view_subscription",
        "notifications.add_subscription",
        "notifications.change_subscription",
        "notifications.delete_subscription",
        "notifications.view_delivery",
        "notifications.view_event",
    ),
    RELEASE_MANAGER: (
        "releases.view_build",
        "releases.view_stageresult",
        "releases.view_environment",
        "releases.change_environment",
        "releases.view_deployment",
        "releases.add_deployment",
        "releases.view_auditevent",
        "releases.view_citoken",
        "releases.add_citoken",
        "releases.delete_citoken",
        "releases.view_webhookdelivery",
        "notifications.view_subscription",
        "notifications.add_subscription",
        "notifications.change_subscription",
        "notifications.delete_subscription",
        "notifications.view_delivery",
        "notifications.view_event",
    ),
    RELEASE_APPROVER: (
        "releases.view_build",
        "releases.view_stageresult",
        "releases.view_environment",
        "releases.view_deployment",
        "releases.approve_deployment",
        "releases.view_approval",
        "releases.view_auditevent",
    ),
}


def sync_role_permissions(using: str = "default") -> None:
    """Create the role groups and grant each the permissions its table names."""
    for role, names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=role)
        wanted = []
        for name in names:
            app_label, codename = name.split(".", 1)
            wanted.extend(
                Permission.objects.using(using).filter(
                    content_type__app_label=app_label, codename=codename
                )
            )
        group.permissions.add(*wanted)


def sync_roles_after_migrate(sender, **kwargs) -> None:
    """post_migrate receiver. Django sends the signal once per app with models, after that
    app's permissions exist; syncing each time is idempotent and catches every app. On the
    connection that migrated (`using`): it may be a transaction not committed yet."""
    sync_role_permissions(using=kwargs.get("using", "default"))
