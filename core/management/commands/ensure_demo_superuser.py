"""Create (or repair) the quick start's demo admin and release approver; print the logins."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from core import roles

LOCAL_SETTINGS = "config.settings.local"


class Command(BaseCommand):
    help = "Local mode only: make sure the demo superuser exists and print its login."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", default="admin")

    def handle(self, *args, username, password, **options):
        if settings.SETTINGS_MODULE != LOCAL_SETTINGS or not settings.DEBUG:
            raise CommandError(
                "The demo superuser is for the local quick start only "
                f"(DJANGO_SETTINGS_MODULE={LOCAL_SETTINGS} with DEBUG on); "
                "use 'manage.py createsuperuser' elsewhere."
            )
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com"}
        )
        if created or not user.check_password(password) or not user.is_superuser:
            user.is_staff = user.is_superuser = user.is_active = True
            user.set_password(password)
            user.save()
        self.stdout.write(
            f"Demo admin login: username {username!r}, password {password!r} (local mode only)"
        )
        # Four eyes: a production deployment needs a second person to approve it.
        approver, _ = User.objects.get_or_create(
            username="approver", defaults={"email": "approver@example.com"}
        )
        approver.is_staff = True
        approver.set_password("approver")
        approver.save()
        approver.groups.add(Group.objects.get(name=roles.RELEASE_APPROVER))
        self.stdout.write(
            "Demo release approver login: username 'approver', password 'approver' "
            "(local mode only)"
        )
