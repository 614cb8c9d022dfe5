"""Every write to the build registry: build and stage reports, CI tokens, audit events.

The CI API, the admin, management commands (and later GitLab's webhooks) call these.
"""

import datetime
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict
from releases.models import STAGE_RANK, AuditEvent, Build, CIToken, StageResult

TOKEN_PREFIX = "lvci_"
DIGEST_IMMUTABLE = (
    "Tag {tag} of {repository} already has digest {current}; a tag's image never changes. "
    "Report the new image under a new tag."
)
SHA_MISMATCH = "Tag {tag} was reported for commit {current}, not {reported}."
DIGEST_IN_USE = (
    "Digest {digest} of {repository} is already recorded as tag {other}: one image is one "
    "build. Report stages and deployments against tag {other}."
)

BUILD_FIELDS = (
    "digest",
    "migrations",
    "commit_sha",
    "commit_message",
    "commit_author",
    "commit_time",
    "ref",
    "pipeline_id",
    "pipeline_url",
    "project_path",
)
STAGE_FIELDS = (
    "stage",
    "job_name",
    "status",
    "allow_failure",
    "started_at",
    "finished_at",
    "duration",
    "job_url",
    "summary",
    "details",
)


class ReportConflict(Conflict):
    """A report contradicting what is recorded (e.g. a new digest for a tag): 409."""


@dataclass(frozen=True)
class Actor:
    """Who acts: a user, a CI token, or neither (a verified webhook); and from where."""

    user: object = None
    token: CIToken | None = None
    ip_address: str | None = None
    oidc_subject: str = ""  # a CI job authenticated by its GitLab id_token
    scopes: frozenset = frozenset()  # an id_token's scopes (a CI token carries its own)
    system: bool = False  # the deployment worker itself (automatic rollbacks)

    def has_scope(self, scope: str) -> bool:
        if self.token is not None:
            return self.token.has_scope(scope)
        return scope in self.scopes


def audit(actor: Actor, action: str, *, obj=None, outcome="accepted", **payload) -> AuditEvent:
    user = actor.user if actor.user is not None and actor.user.is_authenticated else None
    return AuditEvent.objects.create(
        actor_user=user,
        actor_token=actor.token,
        action=action,
        outcome=outcome,
        object_type=obj._meta.model_name if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        ip_address=actor.ip_address,
        payload={**payload, **({"oidc": actor.oidc_subject} if actor.oidc_subject else {})},
    )


# --------------------------------------------------------------------------- builds


def build_report(*, actor: Actor, repository: str, tag: str, **fields) -> tuple[Build, bool]:
    """Create or complete the build `repository:tag`; the same report again changes nothing.

    Returns (build, created). Safe under concurrent reports: the unique constraint decides
    which insert wins, the others update the winner's row.
    """
    values = {name: fields[name] for name in BUILD_FIELDS if fields.get(name) not in (None, "")}
    for attempt in range(3):
        try:
            with transaction.atomic():
                _check_digest_unused(repository, tag, values.get("digest"))
                build, created = Build.objects.select_for_update().get_or_create(
                    repository=repository, tag=tag, defaults=values
                )
                if not created:
                    _merge_build(build, values)
                build.full_clean()
                build.save()
                audit(actor, "build.report", obj=build, created=created, tag=tag)
                return build, created
        except IntegrityError:
            # Another report inserted the same build (or digest) between our read and
            # insert: read it again and merge into it.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _check_digest_unused(repository: str, tag: str, digest: str | None) -> None:
    """The same image under a second tag is refused (409) rather than recorded twice."""
    if not digest:
        return
    other = (
        Build.objects.filter(repository=repository, digest=digest)
        .exclude(tag=tag)
        .values_list("tag", flat=True)
        .first()
    )
    if other is not None:
        raise ReportConflict(
            DIGEST_IN_USE.format(digest=digest, repository=repository, other=other),
            code="digest_in_use",
        )


def _merge_build(build: Build, values: dict) -> None:
    digest = values.get("digest")
    if digest and build.digest and digest != build.digest:
        raise ReportConflict(
            DIGEST_IMMUTABLE.format(
                tag=build.tag, repository=build.repository, current=build.digest
            ),
            code="digest_immutable",
        )
    sha = values.get("commit_sha")
    if sha and build.commit_sha and sha != build.commit_sha:
        raise ReportConflict(
            SHA_MISMATCH.format(tag=build.tag, current=build.commit_sha, reported=sha),
            code="sha_mismatch",
        )
    for name, value in values.items():
        setattr(build, name, value)


# --------------------------------------------------------------------------- stages


@dataclass(frozen=True)
class StageOutcome:
    result: StageResult
    created: bool
    applied: bool  # False: an older ("stale") report than what is recorded; ignored
    reason: str = ""


def stage_report(*, actor: Actor, build: Build, job_id: int, **fields) -> StageOutcome:
    """Record one job's result, idempotent on the job id; status only moves forward."""
    values = {name: fields[name] for name in STAGE_FIELDS if name in fields}
    # Validate before anything is written.
    StageResult(build=build, job_id=job_id, **values).full_clean(
        exclude=["build"], validate_unique=False, validate_constraints=False
    )
    with transaction.atomic():
        try:
            with transaction.atomic():
                result, created = StageResult.objects.select_for_update().get_or_create(
                    build=build, job_id=job_id, defaults=values
                )
        except IntegrityError:  # a concurrent report of the same job inserted it first
            result, created = (
                StageResult.objects.select_for_update().get(build=build, job_id=job_id),
                False,
            )
        if created:
            audit(actor, "stage.report", obj=result, job_id=job_id, status=result.status)
            return StageOutcome(result, True, True)
        new_status = values.get("status", result.status)
        if STAGE_RANK[new_status] < STAGE_RANK[result.status] or (
            STAGE_RANK[new_status] == STAGE_RANK[result.status] == 3
            and new_status != result.status
        ):
            reason = f"job {job_id} is already {result.status}; a {new_status} report is stale"
            audit(actor, "stage.report", obj=result, outcome="ignored", reason=reason)
            return StageOutcome(result, False, False, reason)
        for name, value in values.items():
            setattr(result, name, value)
        result.reported_at = timezone.now()
        # The fields were validated above; the row is locked and its build is ours.
        result.save()
        audit(actor, "stage.report", obj=result, job_id=job_id, status=result.status)
        return StageOutcome(result, False, True)


# --------------------------------------------------------------------------- CI tokens


TOKEN_USE_RESOLUTION = datetime.timedelta(minutes=1)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def ci_token_create(*, name: str, scopes, created_by=None) -> tuple[CIToken, str]:
    """A new token; the raw value is returned once and never stored."""
    unknown = sorted(set(scopes) - set(CIToken.SCOPES))
    if unknown:
        raise ValidationError({"scopes": f"Unknown scopes: {', '.join(unknown)}."})
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = CIToken.objects.create(
        name=name,
        prefix=raw[: len(TOKEN_PREFIX) + 6],
        token_hash=hash_token(raw),
        scopes=sorted(set(scopes)),
        created_by=created_by,
    )
    audit(Actor(user=created_by), "ci_token.create", obj=token, scopes=token.scopes)
    return token, raw


def ci_token_revoke(*, token: CIToken, user=None) -> None:
    CIToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    audit(Actor(user=user), "ci_token.revoke", obj=token)


def ci_token_verify(raw: str) -> CIToken | None:
    """The active token with this value, or None. Compared in constant time."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    digest = hash_token(raw)
    token = CIToken.objects.filter(token_hash=digest).first()
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    if not token.is_active:
        return None
    now = timezone.now()
    # "Last used" to the minute is enough, and spares a pipeline's burst a write per report.
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_USE_RESOLUTION:
        CIToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
