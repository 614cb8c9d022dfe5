"""The editors' admin at 100,000 posts: the post list, a post's page and one workflow click,
timed over real HTTP against gunicorn (production settings) on PostgreSQL.

    .venv/bin/python bench/admin_scale.py               # 100,000 posts, 15 rounds each
    POSTS=20000 ROUNDS=5 .venv/bin/python bench/admin_scale.py

The database `lawvriksh_bench_admin` on BENCH_PG is created when missing and topped up with
`manage.py seed_demo --posts N`. An editor signs in through the login form; each round then
GETs the change list (first page, newest first), the change list filtered by status, a
search, a post's change page, and POSTs a workflow button (Publish now / Back to draft in
turn: the whole form saved, then the transition). Prints the median, p95 and worst of each
and the number of SQL queries the change page makes (from a traced request in-process).
"""

import http.cookiejar
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import PG, ensure_database, free_port, percentile  # noqa: E402

DB_NAME = "lawvriksh_bench_admin"
POSTS = int(os.environ.get("POSTS", 100_000))
ROUNDS = int(os.environ.get("ROUNDS", 15))
PASSWORD = "bench-" + secrets.token_hex(8)
ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DATABASE_URL": f"{PG}/{DB_NAME}",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_SSL_REDIRECT": "false",
    "LOG_LEVEL": "WARNING",
}
os.environ.update(ENV)


def manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=ENV, check=True)


class Browser:
    """Cookies and CSRF like a browser's, over urllib."""

    def __init__(self, base: str):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def _plain_http(self) -> None:
        # Production marks its cookies Secure; this load runs on plain HTTP to 127.0.0.1.
        for cookie in self.jar:
            cookie.secure = False

    def csrf(self) -> str:
        return next(c.value for c in self.jar if c.name == "csrftoken")

    def get(self, path: str) -> tuple[float, str]:
        started = time.perf_counter()
        with self.opener.open(self.base + path, timeout=60) as answer:
            body = answer.read().decode()
        self._plain_http()
        return time.perf_counter() - started, body

    def post(self, path: str, fields) -> tuple[float, str]:
        data = urllib.parse.urlencode(fields, doseq=True).encode()
        request = urllib.request.Request(
            self.base + path, data=data, headers={"Referer": self.base + path}
        )
        started = time.perf_counter()
        with self.opener.open(request, timeout=60) as answer:
            body = answer.read().decode()
        self._plain_http()
        return time.perf_counter() - started, body


def form_fields(html: str) -> list[tuple[str, str]]:
    """The post form's current values (inputs, selects' selected options, textareas)."""
    fields = []
    for tag in re.findall(r"<input\b[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        kind = re.search(r'type="([^"]+)"', tag)
        if not name or (kind and kind.group(1) in ("submit", "button", "file", "checkbox")):
            if name and kind and kind.group(1) == "checkbox" and " checked" in tag:
                fields.append((name.group(1), "on"))
            continue
        value = re.search(r'value="([^"]*)"', tag)
        fields.append((name.group(1), value.group(1) if value else ""))
    for name, body in re.findall(
        r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S
    ):
        fields.append((name, body.strip("\n")))
    for name, options in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        for value in re.findall(r'<option value="([^"]*)"[^>]*selected', options):
            fields.append((name, value))
    return [(k, v.replace("&quot;", '"').replace("&amp;", "&")) for k, v in fields]


def describe(label: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"{label:<36} median {statistics.median(ms):6.0f} ms   p95 "
        f"{percentile(ms, 0.95):6.0f} ms   worst {max(ms):6.0f} ms"
    )


def main():
    ensure_database(DB_NAME)
    manage("migrate", "--noinput", "-v", "0")
    started = time.monotonic()
    manage("seed_demo", "--posts", str(POSTS))
    print(f"seed_demo --posts {POSTS}: {time.monotonic() - started:.1f} s (idempotent top-up)")

    import django

    django.setup()
    from django.db import connection as analyzer

    # A bulk-seeded table has no statistics until autovacuum comes round: without them the
    # planner guesses (e.g. 167 posts for an author who has 33,000) and the search page
    # took 2-3x longer than on a table in use. Production tables are analyzed.
    with analyzer.cursor() as cursor:
        cursor.execute("ANALYZE")
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from blog.models import Post, PostStatus
    from core.roles import EDITOR
    from django.contrib.auth.models import Group

    editor, _ = get_user_model().objects.get_or_create(username="bench-editor")
    editor.set_password(PASSWORD)
    editor.is_staff = True
    editor.save()
    editor.groups.add(Group.objects.get(name=EDITOR))
    post = Post.objects.filter(status=PostStatus.PUBLISHED).order_by("-published_at").first()

    tracer = Client()
    tracer.force_login(editor)
    counts = {}
    for name, path in (("list", "/admin/blog/post/"), ("change", f"/admin/blog/post/{post.pk}/")):
        with CaptureQueriesContext(connection) as queries:
            answer = tracer.get(
                path + ("change/" if name == "change" else ""), HTTP_HOST="127.0.0.1"
            )
        assert answer.status_code == 200, (path, answer.status_code)
        counts[name] = len(queries)

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "-b", f"127.0.0.1:{port}"]
        + ["-w", "2", "--access-logfile", "/dev/null"],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        until = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > until:
                    raise SystemExit("gunicorn did not start")
                time.sleep(0.1)
        browser = Browser(base)
        browser.get("/admin/login/")
        browser.post(
            "/admin/login/?next=/admin/",
            {
                "username": editor.username,
                "password": PASSWORD,
                "csrfmiddlewaretoken": browser.csrf(),
            },
        )
        timings = {name: [] for name in ("list", "list-filtered", "search", "change", "click")}
        for round_number in range(ROUNDS):
            timings["list"].append(browser.get("/admin/blog/post/")[0])
            timings["list-filtered"].append(browser.get("/admin/blog/post/?status=draft")[0])
            timings["search"].append(browser.get("/admin/blog/post/?q=arbitration")[0])
            seconds, page = browser.get(f"/admin/blog/post/{post.pk}/change/")
            timings["change"].append(seconds)
            action = "unpublish" if round_number % 2 == 0 else "publish"
            fields = [f for f in form_fields(page) if not f[0].startswith("_")]
            fields += [("_workflow", action), ("csrfmiddlewaretoken", browser.csrf())]
            seconds, _ = browser.post(f"/admin/blog/post/{post.pk}/change/", fields)
            wanted = PostStatus.DRAFT if action == "unpublish" else PostStatus.PUBLISHED
            if Post.objects.get(pk=post.pk).status != wanted:
                raise SystemExit(f"the {action} click did not go through")
            timings["click"].append(seconds)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    print(f"{Post.objects.count():,} posts; gunicorn 2 sync workers, production settings")
    print(describe("change list (newest first)", timings["list"]))
    print(describe("change list ?status=draft", timings["list-filtered"]))
    print(describe("change list search", timings["search"]))
    print(describe("change page", timings["change"]))
    print(describe("workflow click (save + transition)", timings["click"]))
    print(f"SQL queries: change list {counts['list']}, change page {counts['change']}")


if __name__ == "__main__":
    main()
