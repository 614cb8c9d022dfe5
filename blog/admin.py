"""The editors' admin: posts with workflow buttons, revisions, previews, comment moderation."""

import difflib
import re

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import ngettext

from blog import errors, images, services
from blog.admin_media import ImageAdmin  # noqa: F401 - registers the media library
from blog.rendering import plain_text, reading_time_minutes, render_markdown
from blog.models import (
    AuthorProfile,
    Category,
    Comment,
    CommentStatus,
    Post,
    PostStatus,
    Revision,
    Tag,
)
from blog.search import refresh_search_vectors
from blog.seo import absolute
from blog.workflow import TRANSITIONS, available_actions, is_editor, may_edit

admin.site.site_header = "LawVriksh Blog admin"
admin.site.site_title = "LawVriksh Blog admin"
admin.site.index_title = "Content and releases"

STATUS_COLOURS = {
    "draft": "#6c757d",
    "in_review": "#b58105",
    "scheduled": "#0b5cad",
    "published": "#1e7e34",
    "archived": "#444",
}


class TrashFilter(admin.SimpleListFilter):
    """Editors can open the trash (posts deleted within BLOG_TRASH_DAYS) and restore."""

    title = "trash"
    parameter_name = "trash"

    def lookups(self, request, model_admin):
        return [("yes", "In the trash")] if is_editor(request.user) else []

    def queryset(self, request, queryset):
        return queryset  # PostAdmin.get_queryset picks the trash


class PostAdminForm(forms.ModelForm):
    """The post form; carries the version it was opened at so stale saves are refused."""

    # The version the editor opened; named apart from the model's non-editable field.
    opened_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Post
        fields = "__all__"

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        if self.instance.pk and not self.is_bound:
            self.initial["opened_version"] = self.instance.version

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk and self.request is not None:
            try:
                services.post_lock_for_edit(
                    post=self.instance,
                    user=self.request.user,
                    expected_version=cleaned.get("opened_version") or 0,
                )
            except errors.StaleEdit as error:
                raise forms.ValidationError(str(error), code="stale")
            except PermissionDenied as error:
                raise forms.ValidationError(str(error), code="permission")
        # The status is not a field here, so the model's own check of this rule is skipped.
        unpublished = (PostStatus.DRAFT, PostStatus.IN_REVIEW)
        if self.instance.pk and self.instance.status not in unpublished:
            if "published_at" in self.fields and not cleaned.get("published_at"):
                self.add_error("published_at", PUBLISH_TIME_NEEDED)
        return cleaned


PUBLISH_TIME_NEEDED = (
    "A post that has been published or scheduled keeps its publish time; to take it down, "
    "use Unpublish."
)


class PostChangeList(ChangeList):
    """The post list without the columns it never shows (bodies, rendered HTML, the search
    vector): the page's rows are a few hundred bytes instead of kilobytes each."""

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        return queryset.defer("body", "body_html", "search_vector")


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    form = PostAdminForm
    change_form_template = "admin/blog/post/change_form.html"
    list_display = (
        "title",
        "status_badge",
        "author",
        "category",
        "published_at",
        "updated_at",
        "featured",
    )
    # Publish time as a filter (today, past 7 days, this month, this year), not a date
    # hierarchy: the hierarchy's DISTINCT-years and MIN/MAX queries read the whole table
    # on every list page (120 ms at 100,000 posts).
    list_filter = (
        "status",
        ("published_at", admin.DateFieldListFilter),
        "featured",
        "category",
        "tags",
        "author",
        TrashFilter,
    )
    search_fields = ("title", "slug", "excerpt")
    # One COUNT per page, not two ("Show all" instead of the unfiltered total).
    show_full_result_count = False
    autocomplete_fields = ("author", "category", "tags", "cover_image")
    prepopulated_fields = {"slug": ("title",)}
    list_select_related = ("author", "category")
    list_per_page = 50

    class Media:
        css = {"all": ("blog/admin.css",)}

    actions = [
        "submit_for_review",
        "publish_now",
        "schedule",
        "unpublish",
        "archive",
        "restore_from_trash",
    ]
    # Status and publish time first, then the writing; the rest below.
    fieldsets = (
        ("Publishing", {"fields": ("status", "published_at", "preview_link")}),
        (None, {"fields": ("title", "slug", "author", "body", "excerpt", "opened_version")}),
        ("Cover image", {"fields": ("cover_image", "cover_image_alt", "cover_image_url")}),
        ("Classification", {"fields": ("category", "tags", "featured")}),
        (
            "SEO",
            {
                "fields": ("meta_title", "meta_description", "canonical_url"),
                "classes": ["collapse"],
            },
        ),
        (
            # The body as readers see it is the editor's live preview (blog/static/blog/editor.js).
            "Record",
            {
                "fields": (
                    "reading_time",
                    "revisions_link",
                    "created_at",
                    "updated_at",
                )
            },
        ),
    )

    # ----------------------------------------------------------------- who sees what

    def get_changelist(self, request, **kwargs):
        return PostChangeList

    def get_queryset(self, request):
        if request.GET.get(TrashFilter.parameter_name) == "yes" and is_editor(request.user):
            return super().get_queryset(request).in_trash()
        return super().get_queryset(request).editable_by(request.user)

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or may_edit(request.user, obj))

    def has_delete_permission(self, request, obj=None):
        return is_editor(request.user) and super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        fields = [
            "status",
            "preview_link",
            "reading_time",
            "revisions_link",
            "created_at",
            "updated_at",
        ]
        if not is_editor(request.user):
            fields.append("author")
        return fields

    def get_changeform_initial_data(self, request):
        # A new post is the signed-in user's unless an editor picks another author.
        return {"author": request.user.pk, **super().get_changeform_initial_data(request)}

    def get_form(self, request, obj=None, **kwargs):
        form_class = super().get_form(request, obj, **kwargs)

        class RequestBoundForm(form_class):
            def __init__(self, *args, **kw):
                super().__init__(*args, request=request, **kw)

        return RequestBoundForm

    def get_actions(self, request, action_location=admin.ActionLocation.CHANGE_LIST):
        actions = super().get_actions(request, action_location=action_location)
        if not is_editor(request.user):
            for name in ("publish_now", "schedule", "unpublish", "archive", "restore_from_trash"):
                actions.pop(name, None)
        return actions

    # ----------------------------------------------------------------- saving through the service

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        content = {f: data[f] for f in services.CONTENT_FIELDS if f in data}
        tags = data.get("tags")
        if change:
            services.post_update(
                post=obj,
                user=request.user,
                expected_version=data.get("opened_version") or 0,
                tags=list(tags) if tags is not None else None,
                **content,
            )
            # Saved: the unsaved copy is no longer ahead of the post.
            services.autosave_discard(post=obj, user=request.user)
        else:
            created = services.post_create(
                user=request.user,
                author=data.get("author") or request.user,
                tags=list(tags or []),
                **content,
            )
            obj.pk = created.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        # "Delete" in the admin is the API's DELETE: to the trash (restorable, and the
        # change feed hears of it); purging is an editor's separate step.
        services.post_trash(post=obj, user=request.user)

    def delete_queryset(self, request, queryset):
        for post in queryset:
            services.post_trash(post=post, user=request.user)

    @admin.action(description="Restore from trash", permissions=["change"])
    def restore_from_trash(self, request, queryset):
        restored = 0
        for post in Post.objects.in_trash().filter(pk__in=queryset.values("pk")):
            services.post_restore_from_trash(post=post, user=request.user)
            restored += 1
        self.message_user(request, f"{restored} posts restored from the trash.", messages.SUCCESS)

    def save_related(self, request, form, formsets, change):
        # Tags were saved by the service with the post; only inlines (none today) remain.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    # ----------------------------------------------------------------- display helpers

    def view_on_site(self, post):
        """The public page once visible; until then the signed preview."""
        if post.is_visible():
            return post.get_absolute_url()
        return reverse("blog:post_preview", args=[services.preview_token(post)])

    @admin.display(description="Status", ordering="status")
    def status_badge(self, post):
        label = post.get_status_display()
        if post.status == "scheduled" and post.is_visible():
            label = "Scheduled (live)"
        return format_html(
            '<span style="color:#fff;background:{};padding:2px 6px;border-radius:3px">{}</span>',
            STATUS_COLOURS.get(post.status, "#444"),
            label,
        )

    @admin.display(description="Preview link")
    def preview_link(self, post):
        if not post.pk:
            return "Save the post to get a preview link."
        url = absolute(reverse("blog:post_preview", args=[services.preview_token(post)]))
        hours = settings.BLOG_PREVIEW_MAX_AGE // 3600
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a><br>'
            "<small>Anyone with this link can read the post for {} hours.</small>",
            url,
            url,
            hours,
        )

    @admin.display(description="Revisions")
    def revisions_link(self, post):
        if not post.pk:
            return "—"
        url = reverse("admin:blog_post_revisions", args=[post.pk])
        return format_html(
            '<a href="{}">{} revisions — compare and restore</a>', url, post.revisions.count()
        )

    # ----------------------------------------------------------------- bulk actions

    def _bulk(self, request, queryset, action, publish_at=None):
        changed, skipped = services.posts_transition_many(
            posts=queryset, user=request.user, action=action, publish_at=publish_at
        )
        label = TRANSITIONS[action].label.lower()
        if changed:
            self.message_user(
                request,
                ngettext("%(n)d post: %(what)s.", "%(n)d posts: %(what)s.", len(changed))
                % {"n": len(changed), "what": label},
                messages.SUCCESS,
            )
        if skipped:
            reasons = "; ".join(f"“{post.title}”: {reason}" for post, reason in skipped.items())
            self.message_user(
                request,
                ngettext(
                    "%(n)d post skipped — %(why)s", "%(n)d posts skipped — %(why)s", len(skipped)
                )
                % {"n": len(skipped), "why": reasons},
                messages.WARNING,
            )

    @admin.action(description="Submit for review", permissions=["change"])
    def submit_for_review(self, request, queryset):
        self._bulk(request, queryset, "submit")

    @admin.action(description="Publish now", permissions=["change"])
    def publish_now(self, request, queryset):
        self._bulk(request, queryset, "publish")

    @admin.action(description="Unpublish (back to draft)", permissions=["change"])
    def unpublish(self, request, queryset):
        self._bulk(request, queryset, "unpublish")

    @admin.action(description="Archive", permissions=["change"])
    def archive(self, request, queryset):
        self._bulk(request, queryset, "archive")

    @admin.action(description="Schedule…", permissions=["change"])
    def schedule(self, request, queryset):
        """Two steps, like delete_selected: ask for the time, then schedule."""
        form = ScheduleForm(request.POST if "publish_at" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._bulk(request, queryset, "schedule", publish_at=form.cleaned_data["publish_at"])
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Schedule posts",
            "posts": queryset,
            "form": form,
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/blog/post/schedule.html", context)

    # ----------------------------------------------------------------- per-post pages

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:post_id>/transition/<str:action>/",
                wrap(self.transition_view),
                name="blog_post_transition",
            ),
            path(
                "<int:post_id>/revisions/", wrap(self.revisions_view), name="blog_post_revisions"
            ),
            path("<int:post_id>/autosave/", wrap(self.autosave_view), name="blog_post_autosave"),
            path("render/", wrap(self.render_view), name="blog_post_render"),
            path(
                "<int:post_id>/revisions/<int:revision_id>/restore/",
                wrap(self.restore_view),
                name="blog_post_restore",
            ),
        ] + super().get_urls()

    def _post_for(self, request, post_id):
        post = get_object_or_404(self.get_queryset(request), pk=post_id)
        if not self.has_view_or_change_permission(request, post):
            raise PermissionDenied
        return post

    def transition_view(self, request, post_id, action):
        """One workflow action on its own (no content save): POST with the post's version."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        post = self._post_for(request, post_id)
        return self._transition_and_redirect(
            request,
            post,
            action,
            publish_at_text=request.POST.get("publish_at", ""),
            expected_version=_int(request.POST.get("version")),
        )

    def _transition_and_redirect(
        self, request, post, action, *, publish_at_text, expected_version, saved=False
    ):
        """Run a workflow action through the service, say how it went, and go back to the
        post (or to the list when the user may no longer edit it). With `saved`, the
        content was just saved and the messages say so."""
        prefix = "Saved. " if saved else ""
        publish_at = None
        # Without a time of its own, Schedule takes the post's publish time (the form's).
        if action == "schedule" and publish_at_text is not None:
            form = ScheduleForm({"publish_at": publish_at_text})
            if not form.is_valid():
                level = messages.WARNING if saved else messages.ERROR
                self.message_user(request, prefix + errors.SCHEDULE_NEEDS_FUTURE, level)
                return HttpResponseRedirect(reverse("admin:blog_post_change", args=[post.pk]))
            publish_at = form.cleaned_data["publish_at"]
        try:
            services.post_transition(
                post=post,
                user=request.user,
                action=action,
                publish_at=publish_at,
                expected_version=expected_version,
            )
        except (errors.WorkflowError, errors.StaleEdit, PermissionDenied) as error:
            if saved:
                self.message_user(request, f"Saved. Not done: {_message(error)}", messages.WARNING)
            else:
                self.message_user(request, _message(error), messages.ERROR)
        else:
            status = post.get_status_display().lower()
            self.message_user(
                request,
                (
                    f"Saved; “{post.title}” is now {status}."
                    if saved
                    else f"“{post.title}” is now {status}."
                ),
                messages.SUCCESS,
            )
        # One indexed lookup (`post in queryset` loaded every editable post: 3.9 s at 20k).
        still_editable = self.get_queryset(request).filter(pk=post.pk).exists()
        if still_editable and self.has_view_or_change_permission(request, post):
            return HttpResponseRedirect(reverse("admin:blog_post_change", args=[post.pk]))
        return HttpResponseRedirect(reverse("admin:blog_post_changelist"))

    def render_view(self, request):
        """POST `body`: the HTML readers would get (the same pipeline as a save), with the
        word count and reading time; the editor's live preview calls it as the text changes."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_add_permission(request) and not self.has_change_permission(request):
            raise PermissionDenied
        html = images.enrich_html(render_markdown(request.POST.get("body", "")))
        return JsonResponse(
            {
                "html": html,
                "words": len(plain_text(html).split()),
                "reading_minutes": reading_time_minutes(html),
            }
        )

    def autosave_view(self, request, post_id):
        """POST: keep the form's typed text (blog/static/blog/unsaved.js calls it every few
        seconds while the editor types); with `_discard`, forget it. JSON either way."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        post = self._post_for(request, post_id)
        if request.POST.get("_discard"):
            services.autosave_discard(post=post, user=request.user)
            return JsonResponse({"discarded": True})
        try:
            autosave = services.autosave_store(
                post=post, user=request.user, content=request.POST.dict()
            )
        except PermissionDenied as error:
            return JsonResponse({"detail": str(error) or "Not allowed."}, status=403)
        except ValidationError as error:
            return JsonResponse({"detail": " ".join(error.messages)}, status=400)
        return JsonResponse({"saved_at": autosave.saved_at.isoformat()})

    def revisions_view(self, request, post_id):
        post = self._post_for(request, post_id)
        revisions = list(post.revisions.select_related("created_by"))
        diff = None
        a, b = _int(request.GET.get("a")), _int(request.GET.get("b"))
        if a and b:
            older = get_object_or_404(Revision, post=post, number=min(a, b))
            newer = get_object_or_404(Revision, post=post, number=max(a, b))
            diff = revision_diff(older, newer)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Revisions of “{post.title}”",
            "post": post,
            "revisions": revisions,
            "diff": diff,
            "a": a,
            "b": b,
            "can_restore": may_edit(request.user, post),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/blog/post/revisions.html", context)

    def restore_view(self, request, post_id, revision_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        post = self._post_for(request, post_id)
        revision = get_object_or_404(Revision, post=post, pk=revision_id)
        try:
            services.revision_restore(
                revision=revision,
                user=request.user,
                expected_version=_int(request.POST.get("version")) or 0,
            )
        except (errors.WorkflowError, errors.StaleEdit, PermissionDenied) as error:
            self.message_user(request, _message(error), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:blog_post_revisions", args=[post.pk]))
        self.message_user(request, f"Restored revision {revision.number}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:blog_post_change", args=[post.pk]))

    def response_change(self, request, obj):
        """A workflow button submits the whole form: the content was saved (save_model), and
        only then does the action run, so nothing typed is lost."""
        action = request.POST.get("_workflow")
        if not action:
            return super().response_change(request, obj)
        return self._transition_and_redirect(
            request,
            obj,
            action,
            publish_at_text=None,  # the publish time field, just saved with the form
            expected_version=obj.version,
            saved=True,
        )

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            autosave = services.autosave_to_offer(post=obj, user=request.user)
            context["autosave"] = autosave
            context["autosave_content"] = autosave.content if autosave else None
            context["workflow_actions"] = available_actions(request.user, obj)
            context["post_version"] = obj.version
            context["now"] = timezone.localtime()
        context["editor"] = {
            "render_url": reverse("admin:blog_post_render"),
            "upload_url": reverse("admin:blog_image_upload"),
        }
        return super().render_change_form(request, context, add, change, form_url, obj)


class ScheduleForm(forms.Form):
    """The publish time asked for by the Schedule action and button."""

    publish_at = forms.DateTimeField(
        label="Publish at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
    )

    def clean_publish_at(self):
        value = self.cleaned_data["publish_at"]
        if value <= timezone.now():
            raise forms.ValidationError(errors.SCHEDULE_NEEDS_FUTURE)
        return value


def revision_diff(older: Revision, newer: Revision) -> list[dict]:
    """Per changed field, its words removed and added between two revisions, inline."""
    changes = []
    for field in sorted(set(older.snapshot) | set(newer.snapshot)):
        before, after = older.snapshot.get(field), newer.snapshot.get(field)
        if before != after:
            changes.append({"field": field, "inline": word_diff(_text(before), _text(after))})
    return changes


_WORDS = re.compile(r"\s+|[^\s]+")


def word_diff(before: str, after: str):
    """HTML of `after` with the words removed from `before` in <del> and added in <ins>;
    whole words only, so a change never splits one."""
    old, new = _WORDS.findall(before), _WORDS.findall(after)
    parts = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            parts.append(format_html("{}", "".join(new[b1:b2])))
            continue
        if a2 > a1:
            parts.append(format_html("<del>{}</del>", "".join(old[a1:a2])))
        if b2 > b1:
            parts.append(format_html("<ins>{}</ins>", "".join(new[b1:b2])))
    return format_html_join("", "{}", ((part,) for part in parts))  # parts are safe already


def _text(value) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value if value is not None else "")


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _message(error: Exception) -> str:
    if hasattr(error, "messages"):
        return " ".join(error.messages)
    return str(error)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "parent")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("parent",)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "slug")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # Tag names are part of each post's search vector.
        refresh_search_vectors(list(obj.posts.values_list("pk", flat=True)))


@admin.register(AuthorProfile)
class AuthorProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "display_name")
    search_fields = ("user__username", "display_name")
    autocomplete_fields = ("user",)


class ModerationQueueFilter(admin.SimpleListFilter):
    """Moderators start from the pending queue; "All" is a choice of its own."""

    title = "moderation"
    parameter_name = "queue"
    ALL = "all"

    def lookups(self, request, model_admin):
        return [*CommentStatus.choices, (self.ALL, "All")]

    def queryset(self, request, queryset):
        value = self.value() or CommentStatus.PENDING
        return queryset if value == self.ALL else queryset.filter(status=value)

    def choices(self, changelist):
        current = self.value() or CommentStatus.PENDING
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = (
        "short_body",
        "moderate_buttons",
        "author_name",
        "post",
        "status",
        "created_at",
        "ip_address",
    )
    list_filter = (ModerationQueueFilter, "created_at")
    search_fields = ("author_name", "author_email", "body", "post__title")
    list_select_related = ("post",)
    readonly_fields = (
        "post",
        "user",
        "author_name",
        "author_email",
        "body",
        "ip_address",
        "user_agent",
        "created_at",
        "status",
        "moderated_by",
        "moderated_at",
    )
    actions = ["approve", "reject", "mark_spam"]

    def has_add_permission(self, request):
        return False  # comments come from readers

    class Media:
        css = {"all": ("blog/admin.css",)}

    @admin.display(description="Comment")
    def short_body(self, comment):
        return comment.body[:200] + ("…" if len(comment.body) > 200 else "")

    ROW_ACTIONS = (
        (CommentStatus.APPROVED, "Approve"),
        (CommentStatus.REJECTED, "Reject"),
        (CommentStatus.SPAM, "Spam"),
    )

    @admin.display(description="Moderate")
    def moderate_buttons(self, comment):
        # Buttons of the changelist's own form (it carries the CSRF token), each posting to
        # its row's URL: one click moderates one comment.
        return format_html_join(
            " ",
            '<button type="submit" class="button" formmethod="post" formaction="{}">{}</button>',
            (
                (reverse("admin:blog_comment_moderate", args=[comment.pk, status]), label)
                for status, label in self.ROW_ACTIONS
                if comment.status != status
            ),
        )

    def get_urls(self):
        return [
            path(
                "<int:comment_id>/moderate/<str:status>/",
                self.admin_site.admin_view(self.moderate_view),
                name="blog_comment_moderate",
            ),
        ] + super().get_urls()

    def moderate_view(self, request, comment_id, status):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if status not in {s for s, _ in self.ROW_ACTIONS}:
            raise Http404("No such moderation.")
        self._moderate(request, Comment.objects.filter(pk=comment_id), status)
        back = reverse("admin:blog_comment_changelist")
        query = request.GET.urlencode()
        return HttpResponseRedirect(f"{back}?{query}" if query else back)

    def _moderate(self, request, queryset, status):
        try:
            count = services.comments_moderate(comments=queryset, user=request.user, status=status)
        except PermissionDenied as error:
            self.message_user(request, str(error), messages.ERROR)
            return
        label = CommentStatus(status).label.lower()
        self.message_user(
            request,
            ngettext("%(n)d comment marked %(s)s.", "%(n)d comments marked %(s)s.", count)
            % {"n": count, "s": label},
            messages.SUCCESS,
        )

    @admin.action(description="Approve", permissions=["change"])
    def approve(self, request, queryset):
        self._moderate(request, queryset, CommentStatus.APPROVED)

    @admin.action(description="Reject", permissions=["change"])
    def reject(self, request, queryset):
        self._moderate(request, queryset, CommentStatus.REJECTED)

    @admin.action(description="Mark as spam", permissions=["change"])
    def mark_spam(self, request, queryset):
        self._moderate(request, queryset, CommentStatus.SPAM)
