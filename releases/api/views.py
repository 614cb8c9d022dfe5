"""The CI API: report builds and stage results, read builds and environments."""

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from core.compiled import CompiledQuery, set_prefetched
from core.http import parse_id
from core.throttling import RateLimitHeadersMixin
from releases import deployments, metrics, schema, services
from releases.api.auth import (
    CITokenAuthentication,
    GitLabIDTokenAuthentication,
    actor_of,
    check_job_claim,
    check_sha_claim,
    scope_or_permission,
)
from releases.api.serializers import (
    DoraMetricsSerializer,
    BuildHistorySerializer,
    BuildReportSerializer,
    BuildSerializer,
    DecisionSerializer,
    DeploymentSerializer,
    DeployRequestSerializer,
    EnvironmentSerializer,
    FreezeRequestSerializer,
    MigrationChangesSerializer,
    PromoteRequestSerializer,
    ReasonSerializer,
    RequiredReasonSerializer,
    RollbackRequestSerializer,
    StageReportSerializer,
    StageResultSerializer,
)
from releases.models import Build, Deployment, Environment, StageResult, entry_stages

LIST_WINDOW = 500  # status/deployable are derived: they filter the newest builds only
# CI's most frequent request, a stage report, validates and answers through one serializer
# of each per process: neither keeps state between calls (`run_validation` and
# `to_representation` only read their fields), and copying a dozen fields for a fresh
# serializer is a tenth of the request's CPU here.
_STAGE_REPORT = StageReportSerializer()
_BUILD_REPORT = BuildReportSerializer()
_STAGE_RESULT = StageResultSerializer()

# Builds are named in paths by id or by tag (what a pipeline knows: $CI_COMMIT_SHA).
BUILD_KEY = OpenApiParameter(
    "id", str, OpenApiParameter.PATH, description="The build's id, or its tag."
)
REPOSITORY = OpenApiParameter(
    "repository", str, description="Needed when several repositories share the tag."
)
CanReadBuilds = scope_or_permission("builds:read", "releases.view_build")
CanWriteBuilds = scope_or_permission("builds:write", "releases.add_build")


class _CIView(RateLimitHeadersMixin):
    authentication_classes = [
        CITokenAuthentication,
        GitLabIDTokenAuthentication,
        *api_settings.DEFAULT_AUTHENTICATION_CLASSES,
    ]
    # Bodies over RELEASES_MAX_BODY_BYTES are answered 413 by core.middleware.


@extend_schema_view(
    list=extend_schema(
        summary="Builds, newest first",
        parameters=[
            OpenApiParameter("ref", str, description="Branch or tag name."),
            OpenApiParameter("branch", str, description="The same as `ref`."),
            OpenApiParameter("status", str, description="pending, running, success, failed"),
            OpenApiParameter("deployable", bool),
        ],
    ),
    retrieve=extend_schema(summary="One build with its stage history"),
)
class BuildViewSet(
    _CIView, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Image versions the pipeline built, with every stage's result."""

    serializer_class = BuildSerializer
    queryset = Build.objects.none()

    def get_permissions(self):
        if self.action in ("create", "report_stage"):
            return [CanWriteBuilds()]
        if self.action in ("mark_bad", "unmark_bad"):
            return [IsAuthenticated()]  # the service's authorize decides who (users only)
        return [CanReadBuilds()]

    def get_queryset(self):
        results = Prefetch(
            "stage_results", queryset=StageResult.objects.order_by("stage", "-job_id")
        )
        return Build.objects.prefetch_related(results)

    def get_serializer_class(self):
        return BuildHistorySerializer if self.action == "retrieve" else BuildSerializer

    def list(self, request, *args, **kwargs):
        queryset = self.get_queryset()
        if ref := request.query_params.get("ref") or request.query_params.get("branch"):
            queryset = queryset.filter(ref=ref)
        wanted_status = request.query_params.get("status")
        deployable = request.query_params.get("deployable")
        if deployable is not None and deployable not in ("true", "1", "false", "0"):
            raise ValidationError({"deployable": ["true or false."]})
        if wanted_status or deployable:
            builds = list(queryset[:LIST_WINDOW])
            if wanted_status:
                builds = [b for b in builds if b.overall_status() == wanted_status]
            if deployable in ("true", "1", "false", "0"):
                want, required = deployable in ("true", "1"), entry_stages()
                builds = [b for b in builds if b.is_deployable(required) == want]
            queryset = builds
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(BuildSerializer(page, many=True).data)

    @extend_schema(
        summary="Report a build (idempotent on repository + tag)",
        request=BuildReportSerializer,
        responses={200: BuildSerializer, 201: BuildSerializer, 409: None},
    )
    def create(self, request):
        data = dict(_BUILD_REPORT.run_validation(request.data))
        check_sha_claim(request, data["commit_sha"])
        build, created = services.build_report(actor=actor_of(request), **data)
        # The answer is the build as written, with its stage results read once (a build the
        # report created has none yet: nothing to read).
        results = [] if created else _results_of(build.pk)
        set_prefetched(build, "stage_results", results)
        return Response(
            BuildSerializer(build).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        summary="Report a stage result (idempotent on the job id; never moves back)",
        request=StageReportSerializer,
        responses={200: StageResultSerializer, 201: StageResultSerializer},
        parameters=[BUILD_KEY, REPOSITORY],
    )
    @action(detail=True, methods=["post"], url_path="stages")
    def report_stage(self, request, pk=None):
        build = self._build_by_id_or_tag(pk, request)
        check_sha_claim(request, build.commit_sha)
        data = dict(_STAGE_REPORT.run_validation(request.data))
        check_job_claim(request, data["job_id"])
        outcome = services.stage_report(
            actor=actor_of(request), build=build, job_id=data.pop("job_id"), **data
        )
        body = {
            **_STAGE_RESULT.to_representation(outcome.result),
            "applied": outcome.applied,
            "ignored_reason": outcome.reason,
        }
        return Response(body, status=status.HTTP_201_CREATED if outcome.created else 200)

    @extend_schema(parameters=[BUILD_KEY, REPOSITORY])
    def retrieve(self, request, pk=None):
        """A build by id or by tag (as the stage endpoint takes it)."""
        build = self._build_by_id_or_tag(pk, request)
        build = self.get_queryset().get(pk=build.pk)
        return Response(BuildHistorySerializer(build).data)

    @extend_schema(
        summary="Mark a build bad: every environment refuses it until unmarked",
        request=RequiredReasonSerializer,
        responses=BuildSerializer,
        parameters=[BUILD_KEY, REPOSITORY],
    )
    @action(detail=True, methods=["post"], url_path="mark-bad")
    def mark_bad(self, request, pk=None):
        return self._set_bad(request, pk, bad=True)

    @extend_schema(
        summary="Unmark a bad build", request=ReasonSerializer, responses=BuildSerializer
    )
    @action(detail=True, methods=["post"], url_path="unmark-bad")
    def unmark_bad(self, request, pk=None):
        return self._set_bad(request, pk, bad=False)

    def _set_bad(self, request, key, *, bad: bool):
        build = self._build_by_id_or_tag(key, request)
        body = (RequiredReasonSerializer if bad else ReasonSerializer)(data=request.data)
        body.is_valid(raise_exception=True)
        deployments.set_bad(
            actor=actor_of(request), build=build, bad=bad, reason=body.validated_data["reason"]
        )
        return Response(BuildSerializer(self.get_queryset().get(pk=build.pk)).data)

    def _build_by_id_or_tag(self, key, request):
        repository = request.query_params.get("repository") or request.data.get("repository")
        builds = builds_named(key, repository=repository)
        if len(builds) > 1:
            raise ValidationError(
                {"repository": ["Several repositories have this tag; name the repository."]}
            )
        if not builds:
            get_object_or_404(Build.objects.none())
        return builds[0]


CanDeploy = scope_or_permission("deploy:staging", deployments.ACTION_PERMISSIONS["deploy"])


# Every stage report names its build: these lookups are compiled once (core/compiled.py).
# Each names one key (the id, a build's results, the tag's index), so each is prepared with
# one generic plan per connection as well.
_build_by_id = CompiledQuery(lambda pk: Build.objects.filter(pk=pk), int, generic_plan=True)
_results_of = CompiledQuery(
    lambda build_id: StageResult.objects.filter(build_id=build_id).order_by("stage", "-job_id"),
    int,
    generic_plan=True,
)
_builds_by_tag = CompiledQuery(
    lambda tag: Build.objects.filter(tag=tag)[:2], str, generic_plan=True
)


def builds_named(key: str, repository: str | None = None) -> list[Build]:
    """The build with this id, else up to two builds with this tag (two: ambiguous)."""
    if (build_id := parse_id(key)) is not None:
        if build := _build_by_id(build_id):
            return build
    if not repository:
        return _builds_by_tag(key)
    return services.builds_tagged(str(repository), key)


def _build_named(key: str) -> Build:
    builds = builds_named(key)
    if len(builds) != 1:
        raise ValidationError({"build": [f"No single build with id or tag {key!r}."]})
    return builds[0]


@extend_schema_view(
    list=extend_schema(summary="Environments in promotion order"),
    retrieve=extend_schema(summary="One environment"),
)
class EnvironmentViewSet(_CIView, viewsets.ReadOnlyModelViewSet):
    serializer_class = EnvironmentSerializer
    lookup_field = "slug"
    queryset = Environment.objects.all()

    def get_permissions(self):
        if self.action in ("deploy", "promote", "rollback"):
            return [CanDeploy()]
        if self.action in ("freeze", "unfreeze", "pin", "unpin"):
            return [IsAuthenticated()]  # the service's authorize decides who (users only)
        return [CanReadBuilds()]

    @extend_schema(
        summary="Freeze: deploys and promotes are refused until `until` (rollbacks go on)",
        request=FreezeRequestSerializer,
        responses=EnvironmentSerializer,
    )
    @action(detail=True, methods=["post"])
    def freeze(self, request, slug=None):
        environment = self.get_object()
        body = FreezeRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        deployments.set_freeze(
            actor=actor_of(request),
            environment=environment,
            until=body.validated_data["until"],
            starts=body.validated_data.get("starts"),
            reason=body.validated_data["reason"],
        )
        return self._environment(environment)

    @extend_schema(
        summary="Lift a freeze", request=ReasonSerializer, responses=EnvironmentSerializer
    )
    @action(detail=True, methods=["post"])
    def unfreeze(self, request, slug=None):
        environment = self.get_object()
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        deployments.set_freeze(
            actor=actor_of(request),
            environment=environment,
            until=None,
            reason=body.validated_data["reason"],
        )
        return self._environment(environment)

    @extend_schema(
        summary="Pin: only rollbacks until unpinned",
        request=RequiredReasonSerializer,
        responses=EnvironmentSerializer,
    )
    @action(detail=True, methods=["post"])
    def pin(self, request, slug=None):
        return self._set_pin(request, pinned=True)

    @extend_schema(summary="Unpin", request=ReasonSerializer, responses=EnvironmentSerializer)
    @action(detail=True, methods=["post"])
    def unpin(self, request, slug=None):
        return self._set_pin(request, pinned=False)

    def _set_pin(self, request, *, pinned: bool):
        environment = self.get_object()
        body = (RequiredReasonSerializer if pinned else ReasonSerializer)(data=request.data)
        body.is_valid(raise_exception=True)
        deployments.set_pin(
            actor=actor_of(request),
            environment=environment,
            pinned=pinned,
            reason=body.validated_data["reason"],
        )
        return self._environment(environment)

    def _environment(self, environment):
        return Response(EnvironmentSerializer(Environment.objects.get(pk=environment.pk)).data)

    @extend_schema(
        summary="The migrations deploying (or rolling back to) a build applies or leaves behind",
        parameters=[
            OpenApiParameter(
                "build",
                {"type": "string", "minLength": 1, "maxLength": 128},
                required=True,
                description="Id or tag.",
            )
        ],
        responses={200: MigrationChangesSerializer},
    )
    @action(detail=True, methods=["get"], url_path="migration-changes")
    def migration_changes(self, request, slug=None):
        environment = self.get_object()
        key = request.query_params.get("build", "")
        if not key or len(key) > 128:
            raise ValidationError({"build": ["Name a build by id or tag."]})
        return Response(schema.changes(environment, _build_named(key)))

    def _answer(self, deployment, created=True):
        return Response(
            DeploymentSerializer(deployment).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        request=DeployRequestSerializer,
        responses={201: DeploymentSerializer, 200: DeploymentSerializer},
        description="201: a new request. 200: the same build was already requested here and is "
        "still active: that request is returned (two people clicking at once make one).",
    )
    @action(detail=True, methods=["post"])
    def deploy(self, request, slug=None):
        environment = self.get_object()
        body = DeployRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        deployment, created = deployments.request_deployment(
            actor=actor_of(request),
            environment=environment,
            build=_build_named(body.validated_data["build"]),
            reason=body.validated_data["reason"],
            break_glass=body.validated_data["break_glass"],
            supersede=body.validated_data["supersede"],
            acknowledge=body.validated_data["acknowledge_migrations"],
        )
        return self._answer(deployment, created)

    @extend_schema(
        request=PromoteRequestSerializer,
        responses={201: DeploymentSerializer, 200: DeploymentSerializer},
        description="201: a new request. 200: the same build was already requested here and is "
        "still active: that request is returned (two people clicking at once make one).",
    )
    @action(detail=True, methods=["post"])
    def promote(self, request, slug=None):
        environment = self.get_object()
        body = PromoteRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        deployment, created = deployments.promote(
            actor=actor_of(request),
            environment=environment,
            reason=body.validated_data["reason"],
            break_glass=body.validated_data["break_glass"],
            acknowledge=body.validated_data["acknowledge_migrations"],
        )
        return self._answer(deployment, created)

    @extend_schema(request=RollbackRequestSerializer, responses={201: DeploymentSerializer})
    @action(detail=True, methods=["post"])
    def rollback(self, request, slug=None):
        environment = self.get_object()
        body = RollbackRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        deployment = deployments.rollback(
            actor=actor_of(request),
            environment=environment,
            reason=data["reason"],
            build=_build_named(data["build"]) if data.get("build") else None,
            mark_bad=data["mark_bad"],
            pin=data["pin"],
            acknowledge=data["acknowledge_migrations"],
            reverse_migrations=data["reverse_migrations"],
        )
        return self._answer(deployment)


@extend_schema_view(
    list=extend_schema(
        summary="Deployments, newest first",
        parameters=[
            OpenApiParameter("environment", str, description="Environment slug."),
            OpenApiParameter("status", str),
        ],
    ),
    retrieve=extend_schema(summary="One deployment"),
)
class DeploymentViewSet(_CIView, viewsets.ReadOnlyModelViewSet):
    """The deployment ledger, and the approver's and requester's actions on it."""

    serializer_class = DeploymentSerializer
    queryset = Deployment.objects.none()

    def get_permissions(self):
        return [scope_or_permission("builds:read", "releases.view_deployment")()]

    def get_queryset(self):
        queryset = Deployment.objects.select_related(
            "environment", "build", "requested_by", "approval__decided_by"
        )
        if slug := self.request.query_params.get("environment"):
            queryset = queryset.filter(environment__slug=slug)
        if wanted := self.request.query_params.get("status"):
            queryset = queryset.filter(status=wanted)
        return queryset

    def _decide(self, request, approve):
        body = DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        deployment = deployments.decide(
            actor=actor_of(request),
            deployment=self.get_object(),
            approve=approve,
            comment=body.validated_data.get("comment", ""),
        )
        return Response(DeploymentSerializer(deployment).data)

    @extend_schema(request=DecisionSerializer, responses=DeploymentSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._decide(request, True)

    @extend_schema(request=DecisionSerializer, responses=DeploymentSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._decide(request, False)

    @extend_schema(request=None, responses=DeploymentSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        # Who may cancel is decided by the service (releases.deployments.authorize).
        deployment = deployments.cancel(actor=actor_of(request), deployment=self.get_object())
        return Response(DeploymentSerializer(deployment).data)


class DoraMetricsView(_CIView, APIView):
    """DORA figures for one environment over a window of days."""

    def get_permissions(self):
        return [scope_or_permission("builds:read", "releases.view_deployment")()]

    @extend_schema(
        summary="DORA metrics",
        parameters=[
            OpenApiParameter("environment", str, description="Slug; default production."),
            OpenApiParameter("days", int, description="1-365, default 30."),
            OpenApiParameter(
                "weeks",
                {"type": "integer", "minimum": 0, "maximum": 52},
                description="Also the figures week by week for the last N weeks (0-52, "
                "default 0): what the Releases page charts.",
            ),
        ],
        responses={200: DoraMetricsSerializer},
    )
    def get(self, request):
        environment = get_object_or_404(
            Environment, slug=request.query_params.get("environment", "production")
        )
        try:
            days = int(request.query_params.get("days", 30))
        except ValueError:
            raise ValidationError({"days": ["A whole number."]})
        if not 1 <= days <= 365:
            raise ValidationError({"days": ["From 1 to 365."]})
        raw_weeks = request.query_params.get("weeks", "0")
        weeks = int(raw_weeks) if raw_weeks.isascii() and raw_weeks.isdigit() else -1
        if not 0 <= weeks <= 52:
            raise ValidationError({"weeks": ["A whole number from 0 to 52."]})
        return Response(
            {
                **metrics.dora(environment, days=days),
                "weekly": metrics.weekly(environment, weeks=weeks) if weeks else [],
            }
        )
