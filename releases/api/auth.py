"""CI token authentication (`Authorization: Bearer lvci_…`) and scope permissions."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from core.http import client_info
from releases import oidc
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


class OIDCPrincipal:
    """A CI job authenticated by its GitLab id_token; its scopes come from the claims."""

    is_authenticated = True

    def __init__(self, claims: dict):
        self.claims = claims
        self.scopes = oidc.scopes_for(claims)
        self.name = f"{claims.get('project_path')} job {claims.get('job_id', '?')}"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def throttle_key(self) -> str:
        """Jobs of one project share a rate limit (core.throttling.MachineThrottle)."""
        project = self.claims.get("project_id") or self.claims.get("project_path")
        return f"gitlab-project-{project}"


class GitLabIDTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <id_token>` from a GitLab CI job (see releases.oidc)."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, raw = header.partition(" ")
        raw = raw.strip()
        if scheme != "Bearer" or not oidc.looks_like_gitlab_id_token(raw):
            return None
        try:
            claims = oidc.verify(
                raw,
                endpoint=f"{request.method} {request.path}",
                single_use=oidc.consumes_token(request.method, request.path),
            )
        except oidc.TokenRefused as error:
            audit(
                Actor(ip_address=client_info(request)["ip_address"]),
                "ci.authenticate",
                outcome="refused",
                path=request.path,
                reason=str(error),
            )
            raise exceptions.AuthenticationFailed(str(error))
        principal = OIDCPrincipal(claims)
        request.ci_token = principal
        return (None, principal)

    def authenticate_header(self, request):
        return "Bearer"


def actor_of(request) -> Actor:
    principal = getattr(request, "ci_token", None)
    user = request.user if principal is None else None
    ip_address = client_info(request)["ip_address"]
    if isinstance(principal, OIDCPrincipal):
        return Actor(
            ip_address=ip_address,
            oidc_subject=principal.name,
            scopes=frozenset(principal.scopes),
        )
    return Actor(user=user, token=principal, ip_address=ip_address)


def check_job_claim(request, job_id: int) -> None:
    """An id_token may only report its own job's result."""
    principal = getattr(request, "ci_token", None)
    if isinstance(principal, OIDCPrincipal) and str(principal.claims.get("job_id")) != str(job_id):
        audit(actor_of(request), "ci.authorize", outcome="refused", reason="job_id mismatch")
        raise exceptions.PermissionDenied("The job id does not match the id_token's job_id.")


def check_sha_claim(request, commit_sha: str) -> None:
    """An id_token may only report its own commit."""
    principal = getattr(request, "ci_token", None)
    if isinstance(principal, OIDCPrincipal) and principal.claims.get("sha") != commit_sha:
        audit(actor_of(request), "ci.authorize", outcome="refused", reason="sha claim mismatch")
        raise exceptions.PermissionDenied("The commit SHA does not match the id_token's sha.")


def ci_principal(request):
    """The CI token or id_token principal a request authenticated with, or None. Read from
    `request.auth`, which DRF carries over to the clones it makes (OPTIONS metadata)."""
    auth = getattr(request, "auth", None)
    if hasattr(auth, "has_scope"):
        return auth
    return getattr(request, "ci_token", None)


def scope_or_permission(scope: str, perm: str):
    """A CI token with `scope`, or a signed-in user with the model permission `perm`."""

    class ScopeOrPermission(permissions.BasePermission):
        message = f"Needs a CI token with the '{scope}' scope or the '{perm}' permission."

        def has_permission(self, request, view):
            token = ci_principal(request)
            user = request.user
            signed_in = bool(user is not None and user.is_authenticated)
            if token is not None:
                allowed = token.has_scope(scope)
            else:
                allowed = signed_in and user.has_perm(perm)
            if not allowed and (token is not None or signed_in):
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


class GitLabIDTokenScheme(OpenApiAuthenticationExtension):
    target_class = "releases.api.auth.GitLabIDTokenAuthentication"
    name = "gitlabIdToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A GitLab CI id_token (RS256) whose aud is this dashboard's URL.",
        }
