"""The roles of the product exist on every install and hold their permissions."""

import pytest
from django.contrib.auth.models import Group

from core import roles


@pytest.mark.django_db
def test_every_role_exists_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= set(roles.ROLE_NAMES)


@pytest.mark.django_db
def test_sync_is_idempotent_and_grants_the_listed_permissions():
    roles.sync_role_permissions()
    roles.sync_role_permissions()
    assert Group.objects.filter(name__in=roles.ROLE_NAMES).count() == len(roles.ROLE_NAMES)
    for role, names in roles.ROLE_PERMISSIONS.items():
        granted = {
            f"{app}.{codename}"
            for app, codename in Group.objects.get(name=role).permissions.values_list(
                "content_type__app_label", "codename"
            )
        }
        assert granted <= set(names)
