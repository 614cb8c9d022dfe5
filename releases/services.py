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

from core.compiled import CompiledQuery
from core.errors import Conflict
from releases import audited
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


def audit_event(
    actor: Actor, action: str, *, obj=None, outcome="accepted", **payload
) -> AuditEvent:
    """The audit row for this action, not yet saved."""
    user = actor.user if actor.user is not None and actor.user.is_authenticated else None
    return AuditEvent(
        actor_user=user,
        actor_token=actor.token,
        action=action,
        outcome=outcome,
        object_type=obj._meta.model_name if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        ip_address=actor.ip_address,
        payload={**payload, **({"oidc": actor.oidc_subject} if actor.oidc_subject else {})},
    )


def audit(actor: Actor, action: str, *, obj=None, outcome="accepted", **payload) -> AuditEvent:
    event = audit_event(actor, action, obj=obj, outcome=outcome, **payload)
    event.save(force_insert=True)
    return event


# --------------------------------------------------------------------------- builds


# The build `repository:tag` (at most one: unique), compiled once (core/compiled.py).
builds_tagged = CompiledQuery(
    lambda repository, tag: Build.objects.filter(repository=repository, tag=tag),
    str,
    str,
    generic_plan=True,  # a unique key: one plan suits every build
)


def build_report(*, actor: Actor, repository: str, tag: str, **fields) -> tuple[Build, bool]:
    """Create or complete the build `repository:tag`; the same report again changes nothing.

    Returns (build, created). As a stage report, no lock is held across round trips: a new
    build is one insert (with its audit row, releases/audited.py) that gives way to a row
    already there; a known build is read, merged and updated only if it was not updated
    meanwhile, else read again. Unique tags and digests are the database's to enforce: a
    digest recorded under another tag is refused (409) rather than recorded twice.
    """
    values = {name: fields[name] for name in BUILD_FIELDS if fields.get(name) not in (None, "")}
    reported = Build(repository=repository, tag=tag, **values)
    # Validate before anything is written. A report that leaves out what a new build needs
    # (its commit) may still complete a known build: it is validated once merged into it.
    incomplete = None
    try:
        reported.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        if set(error.message_dict) & {"repository", "tag", *values}:
            raise  # a value the report gives is wrong
        incomplete = error
    digest = values.get("digest")
    for _ in range(20):  # each pass means another report of this build won a race
        if incomplete is not None:
            recorded, created = next(iter(builds_tagged(repository, tag)), None), False
            if recorded is None:
                raise incomplete
        else:
            event = audit_event(actor, "build.report", created=True, tag=tag)
            try:
                recorded, created = audited.insert_or_get(
                    reported, event, conflict=("repository", "tag")
                )
            except IntegrityError:
                _check_digest_unused(repository, tag, digest)
                continue  # the digest's other build is gone: insert again
        if created:
            return recorded, True
        if recorded is None:
            continue  # deleted, or committed after this statement began: ask again
        changes = _merge_build(recorded, values)
        if not changes:
            # A retried report that changes nothing writes only its audit row.
            audit(actor, "build.report", obj=recorded, created=False, tag=tag)
            return recorded, False
        recorded.full_clean(validate_unique=False, validate_constraints=False)
        event = audit_event(actor, "build.report", created=False, tag=tag)
        try:
            updated = audited.update_if(
                recorded,
                {**changes, "updated_at": timezone.now()},
                event,
                unchanged=("updated_at",),
            )
        except IntegrityError:
            _check_digest_unused(repository, tag, digest)
            continue
        if updated is not None:
            return updated, False
    raise ReportConflict(
        f"Tag {tag} was reported by too many requests at once; send the report again.",
        code="build_contended",
    )


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


def _merge_build(build: Build, values: dict) -> dict:
    """Take the report's values into the recorded build; the fields that changed."""
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
    changes = {}
    for name, value in values.items():
        if getattr(build, name) != value:
            setattr(build, name, value)
            changes[name] = value
    return changes


# --------------------------------------------------------------------------- stages


@dataclass(frozen=True)
class StageOutcome:
    result: StageResult
    created: bool
    applied: bool  # False: an older ("stale") report than what is recorded; ignored
    reason: str = ""


def is_stale(recorded: str, reported: str) -> bool:
    """A report older than what is recorded: a lower rank, or another final status."""
    if STAGE_RANK[reported] != STAGE_RANK[recorded]:
        return STAGE_RANK[reported] < STAGE_RANK[recorded]
    return STAGE_RANK[reported] == 3 and reported != recorded


def stage_report(*, actor: Actor, build: Build, job_id: int, **fields) -> StageOutcome:
    """Record one job's result, idempotent on the job id; status only moves forward.

    No lock is held across round trips: a new job is an insert that gives way to a row
    already there; a known job is read, judged (`is_stale`) and updated only if its status
    is still the one judged, else read again. Each write and its audit row are one
    statement (releases/audited.py), and the insert reads the row in its way in the same
    statement, so CI's bursts cost one or two round trips a report (plus token and build).
    """
    values = {name: fields[name] for name in STAGE_FIELDS if name in fields}
    reported = StageResult(build=build, job_id=job_id, **values)
    # Validate before anything is written.
    reported.full_clean(exclude=["build"], validate_unique=False, validate_constraints=False)
    for _ in range(20):  # each pass means another report of this job won a race
        event = audit_event(actor, "stage.report", job_id=job_id, status=reported.status)
        recorded, created = audited.insert_or_get(reported, event, conflict=("build", "job_id"))
        if created:
            return StageOutcome(recorded, True, True)
        if recorded is None:
            continue  # removed (its build deleted), or committed after this statement began
        new_status = values.get("status", recorded.status)
        if is_stale(recorded.status, new_status):
            reason = f"job {job_id} is already {recorded.status}; a {new_status} report is stale"
            audit(actor, "stage.report", obj=recorded, outcome="ignored", reason=reason)
            return StageOutcome(recorded, False, False, reason)
        changes = {**values, "reported_at": timezone.now()}
        event = audit_event(actor, "stage.report", job_id=job_id, status=new_status)
        updated = audited.update_if(recorded, changes, event, unchanged=("status",))
        if updated is not None:
            return StageOutcome(updated, False, True)
    raise ReportConflict(
        f"Job {job_id} was reported by too many requests at once; send the report again.",
        code="stage_contended",
    )


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


# Every CI request looks its token up: compiled once per process (core/compiled.py).
_token_by_hash = CompiledQuery(
    lambda digest: CIToken.objects.filter(token_hash=digest), str, generic_plan=True
)


def ci_token_verify(raw: str) -> CIToken | None:
    """The active token with this value, or None. Compared in constant time."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    digest = hash_token(raw)
    token = next(iter(_token_by_hash(digest)), None)  # token_hash is unique
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    if not token.is_active:
        return None
    now = timezone.now()
    # "Last used" to the minute is enough, and spares a pipeline's burst a write per report.
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_USE_RESOLUTION:
        CIToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token
