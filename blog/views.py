"""The public site: home, post detail with comments, archives, search, previews, robots.txt."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe
from django.views.static import serve

from blog import errors, selectors, services
from blog.forms import HONEYPOT_FIELD, CommentForm
from blog.models import display_name_of
from blog.search import search_headlines
from blog.seo import json_ld_script, post_seo
from core.http import client_info

User = get_user_model()


def _page(request, queryset):
    paginator = Paginator(queryset, settings.BLOG_POSTS_PER_PAGE)
    return paginator.get_page(request.GET.get("page"))


def _listing(request, posts, *, heading: str, feed_url: str | None = None, extra=None):
    context = {
        "page": _page(request, posts),
        "heading": heading,
        "feed_url": feed_url,
        "tags": selectors.tags_with_counts()[:20],
        "categories": selectors.categories_with_counts(),
        **(extra or {}),
    }
    return render(request, "blog/post_list.html", context)


@require_safe
def home(request):
    return _listing(request, selectors.visible_posts(), heading="Latest posts")


@require_http_methods(["GET", "HEAD", "POST"])
def post_detail(request, slug):
    post, new_url = selectors.visible_post_or_redirect(slug)
    if new_url:
        return HttpResponsePermanentRedirect(new_url)
    if post is None:
        raise Http404("No such post.")
    form = CommentForm()
    if request.method == "POST":
        form = CommentForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.comment_submit(
                    post=post,
                    author_name=data["author_name"],
                    author_email=data["author_email"],
                    body=data["body"],
                    user=request.user,
                    **client_info(request),
                    honeypot=data[HONEYPOT_FIELD],
                )
            except errors.CommentSpam:
                pass  # tell a bot nothing it could learn from
            except errors.CommentThrottled as error:
                return render_post(request, post, form, status=429, error=str(error))
            except errors.WorkflowError as error:
                for field, problems in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, problems)
                return render_post(request, post, form, status=400)
            messages.success(request, "Thank you! Your comment will appear once approved.")
            return redirect(f"{post.get_absolute_url()}#comments")
        return render_post(request, post, form, status=400)
    return render_post(request, post, form)


def render_post(request, post, form, *, status=200, error=None, preview=False):
    seo = post_seo(post)
    context = {
        "post": post,
        "author_name": display_name_of(post.author),
        "seo": seo,
        "json_ld": json_ld_script(seo["json_ld"]),
        "comments": selectors.approved_comments(post),
        "form": form,
        "comment_error": error,
        "preview": preview,
    }
    return render(request, "blog/post_detail.html", context, status=status)


@require_safe
def post_preview(request, token):
    """A draft shared by a signed, expiring link: no account needed, never indexed."""
    try:
        post = services.post_from_preview_token(token)
    except PermissionDenied as error:
        return render(request, "blog/preview_invalid.html", {"reason": str(error)}, status=403)
    response = render_post(request, post, CommentForm(), preview=True)
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Cache-Control"] = "private, no-store"
    return response


@require_safe
def category_archive(request, slug):
    category, posts = selectors.posts_in_category(slug)
    return _listing(
        request,
        posts,
        heading=f"Category: {category.name}",
        feed_url=reverse("blog:category_feed_rss", args=[slug]),
        extra={"description": category.description},
    )


@require_safe
def tag_archive(request, slug):
    tag, posts = selectors.posts_with_tag(slug)
    return _listing(
        request,
        posts,
        heading=f"Tagged “{tag.name}”",
        feed_url=reverse("blog:tag_feed_rss", args=[slug]),
    )


@require_safe
def author_archive(request, username):
    try:
        author, posts = selectors.posts_by_author(username)
    except User.DoesNotExist:
        raise Http404("No such author.")
    profile = getattr(author, "author_profile", None)
    return _listing(
        request,
        posts,
        heading=f"Posts by {display_name_of(author)}",
        extra={"profile": profile},
    )


@require_safe
def search(request):
    query = request.GET.get("q", "").strip()[:200]
    posts = selectors.search_visible_posts(query) if query else selectors.visible_posts().none()
    page = _page(request, posts)
    snippets = search_headlines([post.pk for post in page], query)
    for post in page:
        post.headline = snippets.get(post.pk)
    return render(request, "blog/search.html", {"query": query, "page": page})


@require_safe
def robots_txt(request):
    lines = [
        "User-agent: *",
        "Disallow: /admin/",
        "Disallow: /preview/",
        "Disallow: /api/",
        f"Sitemap: {request.build_absolute_uri(reverse('sitemap'))}",
    ]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain")


@require_safe
def media_file(request, path):
    """An uploaded image from the filesystem storage. Names carry a random key and never
    change, so browsers and proxies may keep them for a year."""
    if not path.startswith("images/"):
        raise Http404("No such file.")
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
