"""GitLab CI `id_tokens` (OIDC JWTs, RS256): signature, issuer, audience, lifetime, replay."""

import datetime
import re

import jwt
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from releases.models import UsedTokenID

DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_CACHE_SECONDS = 3600
_jwks_clients: dict[str, jwt.PyJWKClient] = {}


class TokenRefused(Exception):
    """An id_token that fails a check; the message says which."""


def looks_like_gitlab_id_token(raw: str) -> bool:
    """An RS256 JWT from the configured issuer (our own JWTs are HS256)."""
    if not settings.GITLAB_OIDC_ISSUER or raw.count(".") != 2:
        return False
    try:
        header = jwt.get_unverified_header(raw)
        claims = jwt.decode(raw, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    return header.get("alg") == "RS256" and claims.get("iss") == settings.GITLAB_OIDC_ISSUER


def _jwks_client(issuer: str) -> jwt.PyJWKClient:
    """The issuer's JWKS client, found through its discovery document, cached."""
    client = _jwks_clients.get(issuer)
    if client is None:
        import json
        import urllib.request

        if not issuer.startswith(("https://", "http://")):
            raise TokenRefused("id_token refused: GITLAB_OIDC_ISSUER is not an HTTP(S) URL")
        # The scheme is checked just above.
        with urllib.request.urlopen(issuer + DISCOVERY_PATH, timeout=5) as response:  # nosec B310
            jwks_uri = json.load(response)["jwks_uri"]
        client = jwt.PyJWKClient(jwks_uri, cache_keys=True, lifespan=JWKS_CACHE_SECONDS)
        _jwks_clients[issuer] = client
    return client


def forget_jwks() -> None:
    """Drop cached JWKS clients (tests; key rotation is handled by PyJWKClient itself)."""
    _jwks_clients.clear()


# Writes that are idempotent upserts bound to the token's own commit (its `sha` claim) and,
# for a stage, its own job (`job_id`): a job reports its build, then its stage, and retries
# after a lost answer, all with one token. Repeating them re-asserts the same facts, so they
# do not consume the token. Every other write (a deployment request) is single-use.
REPORT_PATHS = re.compile(r"^/api/v1/releases/builds/(?:[^/]+/stages/)?$")


def consumes_token(method: str, path: str) -> bool:
    """Whether this request uses up the id_token at its endpoint (see REPORT_PATHS)."""
    if method in ("GET", "HEAD", "OPTIONS"):
        return False  # reads repeat: a deploy job polls its deployment
    return not (method == "POST" and REPORT_PATHS.match(path))


def verify(raw: str, *, endpoint: str, single_use: bool = True) -> dict:
    """The verified claims of an id_token; with `single_use`, it must not have been used at
    `endpoint` before (see consumes_token)."""
    issuer = settings.GITLAB_OIDC_ISSUER
    try:
        key = _jwks_client(issuer).get_signing_key_from_jwt(raw)
        claims = jwt.decode(
            raw,
            key.key,
            algorithms=["RS256"],
            audience=settings.GITLAB_OIDC_AUDIENCE,
            issuer=issuer,
            options={"require": ["exp", "iat", "nbf", "jti", "aud", "iss"]},
            leeway=30,
        )
    except jwt.PyJWTError as error:
        raise TokenRefused(f"id_token refused: {error}")
    except OSError as error:
        raise TokenRefused(f"id_token refused: the issuer's keys are unreachable ({error})")
    allowed = settings.GITLAB_OIDC_PROJECTS
    if claims.get("project_path") not in allowed and str(claims.get("project_id")) not in allowed:
        raise TokenRefused(f"id_token refused: project {claims.get('project_path')!r} not allowed")
    if not single_use:
        return claims
    expires = datetime.datetime.fromtimestamp(claims["exp"], datetime.UTC)
    try:
        with transaction.atomic():
            UsedTokenID.objects.create(jti=claims["jti"], endpoint=endpoint, expires_at=expires)
    except IntegrityError:
        raise TokenRefused("id_token refused: already used here (replay)")
    UsedTokenID.objects.filter(expires_at__lt=timezone.now()).delete()
    return claims


def scopes_for(claims: dict) -> set[str]:
    """Anything that can deploy needs a protected ref."""
    scopes = {"builds:read", "builds:write"}
    if claims.get("ref_protected") == "true":
        scopes.add("deploy:staging")
    return scopes
