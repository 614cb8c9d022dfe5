"""Who may call what in the blog API; the workflow rules themselves live in blog.workflow."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from blog.workflow import can_write_posts, is_editor


class CanWritePostsOrReadOnly(BasePermission):
    """Reads for everyone; writes for authors and editors (object rules: the services)."""

    message = "You do not have permission to write posts."

    def has_permission(self, request, view):
        return request.method in SAFE_METHODS or can_write_posts(request.user)


class IsEditorOrReadOnly(BasePermission):
    message = "Only editors may change this."

    def has_permission(self, request, view):
        return request.method in SAFE_METHODS or is_editor(request.user)


class IsEditor(BasePermission):
    message = "Only editors may do this."

    def has_permission(self, request, view):
        return is_editor(request.user)


class IsModerator(BasePermission):
    message = "Only editors may moderate comments."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm("blog.moderate_comment"))
