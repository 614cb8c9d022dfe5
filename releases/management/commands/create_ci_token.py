"""Create a scoped CI token; the token is printed once, alone on the last line."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from releases.models import CIToken
from releases.services import ci_token_create


class Command(BaseCommand):
    help = "Create a CI token. Store it as a masked CI variable: it is never shown again."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--scopes",
            default="builds:write",
            help=f"Comma-separated, from: {', '.join(CIToken.SCOPES)}.",
        )

    def handle(self, *args, name, scopes, **options):
        wanted = [scope.strip() for scope in scopes.split(",") if scope.strip()]
        try:
            token, raw = ci_token_create(name=name, scopes=wanted)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages))
        self.stderr.write(
            f"Created CI token {token.name!r} with scopes {', '.join(token.scopes)}."
        )
        self.stdout.write(raw)
