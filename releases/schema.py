"""What a deployment does to an environment's schema: the migrations it applies and those it
leaves behind (a rollback), each with its build's classification, and what the worker's
migrate steps record as applied there."""

from releases.models import Backup, Build, Environment

# How much of a plan entry a deployment keeps (the linter's warnings stay on the build).
ENTRY_KEYS = ("app", "name", "backward_compatible", "reversible", "issues")


def _key(entry: dict) -> tuple[str, str]:
    return entry["app"], entry["name"]


def _brief(entry: dict) -> dict:
    return {key: entry[key] for key in ENTRY_KEYS if key in entry}


def label(entry: dict) -> str:
    """`blog.0007_drop_subtitle (DROP_COLUMN)`: the name and why it is not compatible."""
    codes = sorted({issue["code"] for issue in entry.get("issues", [])})
    return f"{entry['app']}.{entry['name']}" + (f" ({', '.join(codes)})" if codes else "")


def applied_plan(environment: Environment) -> list[dict] | None:
    """The migrations the environment's database has, as far as the dashboard knows: what
    its migrate steps recorded, else the plan of the build it runs; None when unknown."""
    if environment.applied_migrations is not None:
        return environment.applied_migrations
    from releases.deployments import current_deployment

    current = current_deployment(environment)
    return current.build.migrations if current is not None else None


def changes(environment: Environment, build: Build) -> dict:
    """{"known", "apply", "leave_behind", "why"}: the migrations `build` would apply there
    and the applied ones it does not know (they stay: a rollback never drops a schema)."""
    applied = applied_plan(environment)
    if build.migrations is None:
        return {"known": False, "why": f"build {build.tag[:12]} reported no migration plan"}
    if applied is None:
        return {"known": False, "why": f"what {environment}'s database has applied is unknown"}
    applied_keys = {_key(entry) for entry in applied}
    target_keys = {_key(entry) for entry in build.migrations}
    return {
        "known": True,
        "apply": [_brief(e) for e in build.migrations if _key(e) not in applied_keys],
        "leave_behind": [_brief(e) for e in applied if _key(e) not in target_keys],
    }


def incompatible(entries) -> list[dict]:
    return [entry for entry in entries if not entry.get("backward_compatible", False)]


def blocking(changes: dict, rollback: bool) -> list[dict]:
    """The migrations that stop this action unless acknowledged: the incompatible ones it
    applies, or for a rollback the incompatible ones it leaves behind (none when unknown)."""
    if not changes.get("known"):
        return []
    return incompatible(changes["leave_behind"] if rollback else changes["apply"])


def irreversible(entries) -> list[dict]:
    return [entry for entry in entries if not entry.get("reversible", False)]


def reverse_targets(build: Build, leave_behind: list[dict]) -> list[str]:
    """`app:migration` arguments that unapply `leave_behind`: per app, back to the last
    migration `build` knows there, or `zero` when it knows none."""
    targets = []
    for app in dict.fromkeys(entry["app"] for entry in leave_behind):
        known = [entry["name"] for entry in build.migrations or [] if entry["app"] == app]
        targets.append(f"{app}:{known[-1] if known else 'zero'}")
    return targets


def record_applied(environment: Environment, build: Build) -> None:
    """After a forward migrate step: the database has what it had plus the build's plan
    (unknown again when the build reported no plan)."""
    if build.migrations is None:
        applied = None
    else:
        before = environment.applied_migrations or []
        new = {_key(entry) for entry in build.migrations}
        applied = [_brief(e) for e in before if _key(e) not in new] + [
            _brief(e) for e in build.migrations
        ]
    Environment.objects.filter(pk=environment.pk).update(applied_migrations=applied)
    environment.applied_migrations = applied


def record_reversed(environment: Environment, reversed_entries: list[dict]) -> None:
    """After a reverse step: those migrations are gone from the database."""
    gone = {_key(entry) for entry in reversed_entries}
    applied = [entry for entry in applied_plan(environment) or [] if _key(entry) not in gone]
    Environment.objects.filter(pk=environment.pk).update(applied_migrations=applied)
    environment.applied_migrations = applied


def backup_before(environment: Environment, leave_behind: list[dict]) -> Backup | None:
    """The backup taken before these migrations were applied: each was last applied by some
    deployment (one reversed and applied again counts from the second time); the earliest
    of those deployments' backups (else the last good backup before it) has none of them."""
    missing = {_key(entry) for entry in leave_behind}
    applying = None
    for deployment in environment.deployments.exclude(migration_changes={}).order_by(
        "-created_at", "-id"
    ):
        applied_here = {_key(e) for e in deployment.migration_changes.get("apply", [])}
        if applied_here & missing:
            applying, missing = deployment, missing - applied_here
        if not missing:
            break
    if applying is not None and applying.backup_id and applying.backup.succeeded:
        return applying.backup
    good = environment.backups.filter(succeeded=True)
    if applying is not None:
        good = good.filter(started_at__lte=applying.started_at or applying.created_at)
    return good.order_by("-started_at").first()


def image_knowing(environment: Environment, entries: list[dict]) -> str:
    """The newest image deployed there whose plan has all these migrations: the one that can
    unapply them (an older one does not have their code)."""
    keys = {_key(entry) for entry in entries}
    for deployment in environment.deployments.select_related("build").order_by("-created_at"):
        plan = deployment.build.migrations or []
        if keys <= {_key(entry) for entry in plan}:
            return deployment.image
    return ""
