"""factory-boy factories for users and roles, shared by every test package."""

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from factory.django import DjangoModelFactory, Password

from core import roles

User = get_user_model()
DEFAULT_PASSWORD = "correct-horse-battery-staple"


def _add_roles(user, create, names):
    if create and names:
        user.groups.add(*Group.objects.filter(name__in=names))


class UserFactory(DjangoModelFactory[User]):
    """A user with a known password; `UserFactory(roles=[roles.EDITOR])` adds groups."""

    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = Password(DEFAULT_PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        _add_roles(self, create, extracted)


class AuthorFactory(UserFactory):
    """A staff member of the Author role (authors work in the admin)."""

    is_staff = True

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        _add_roles(self, create, extracted or [roles.AUTHOR])


class EditorFactory(UserFactory):
    """A staff member of the Editor role."""

    is_staff = True

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        _add_roles(self, create, extracted or [roles.EDITOR])
