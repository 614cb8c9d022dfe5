"""CI token authentication (`Authorization: Bearer lvci_…`) and scope permissions."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from core.http import client_info
from releases.services import TOKEN_PREFIX, Actor, audit, ci_token_verify


class CITokenAuthentication(authentication.BaseAuthentication):
    """Bearer tokens that start with `lvci_`; anything else is left to JWT/session auth."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, raw = header.partition(" ")
        raw = raw.strip()
        if scheme != self.keyword or not raw.startswith(TOKEN_PREFIX):
            return None
        token = ci_token_verify(raw)
        if token is None:
            audit(
                Actor(ip_address=client_info(request)["ip_address"]),
                "ci.authenticate",
                outcome="refused",
                path=request.path,
                reason="unknown or revoked token",
            )
            raise exceptions.AuthenticationFailed("Unknown or revoked CI token.")
        request.ci_token = token
        return (None, token)

    def authenticate_header(self, request):
        return self.keyword


def actor_of(request) -> Actor:
    token = getattr(request, "ci_token", None)
    user = request.user if token is None else None
    return Actor(user=user, token=token, ip_address=client_info(request)["ip_address"])


def scope_or_permission(scope: str, perm: str):
    """A CI token with `scope`, or a signed-in user with the model permission `perm`."""

    class ScopeOrPermission(permissions.BasePermission):
        message = f"Needs a CI token with the '{scope}' scope or the '{perm}' permission."

        def has_permission(self, request, view):
            token = getattr(request, "ci_token", None)
            if token is not None:
                allowed = token.has_scope(scope)
            else:
                user = request.user
                allowed = bool(user and user.is_authenticated and user.has_perm(perm))
            if not allowed and (token is not None or request.user.is_authenticated):
                audit(
                    actor_of(request),
                    "ci.authorize",
                    outcome="refused",
                    scope=scope,
                    path=request.path,
                )
            return allowed

    return ScopeOrPermission


class CITokenScheme(OpenApiAuthenticationExtension):
    """Documents CI tokens in the OpenAPI schema."""

    target_class = "releases.api.auth.CITokenAuthentication"
    name = "ciToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A CI token (`lvci_…`) made by `manage.py create_ci_token`.",
        }
