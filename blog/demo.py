"""Demo content for the quick start, and bulk-generated posts for benchmarks."""

import datetime
import random

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone

from blog import services
from blog.changes import bump_content_version
from blog.models import AuthorProfile, Category, Comment, CommentStatus, Post, Tag
from blog.rendering import make_excerpt, reading_time_minutes, render_markdown
from blog.search import uses_postgres, vector_part_sql
from core import roles

User = get_user_model()

CATEGORIES = [
    ("constitutional-law", "Constitutional Law", "Rights, remedies and the basic structure."),
    ("corporate-law", "Corporate Law", "Companies, contracts and compliance."),
    ("legal-tech", "Legal Tech", "Software that lawyers actually use."),
    ("careers", "Careers", "Moots, internships and the first years of practice."),
]
TAGS = [
    "Supreme Court", "Privacy", "Contracts", "Arbitration", "Startups", "Compliance",
    "AI", "Litigation", "Internships", "Research",
]  # fmt: skip
AUTHORS = [
    ("asha", "Asha Menon", "Advocate writing on constitutional remedies."),
    ("vikram", "Vikram Rao", "Corporate counsel and occasional programmer."),
    ("meera", "Meera Iyer", "Editor-in-chief of LawVriksh."),
]
PARAGRAPHS = [
    "Courts have long held that a right without a remedy is no right at all. The question "
    "is how far the remedy must reach, and who pays for it when the state falls short.",
    "A well-drafted arbitration clause names the seat, the rules and the number of "
    "arbitrators. Leave one out and the parties spend a year litigating the clause itself.",
    "Privacy is not secrecy. It is the ability to decide who knows what about you, and "
    "when; the *Puttaswamy* judgment made that a fundamental right.",
    "Startups sign contracts faster than they read them. A one-page checklist catches the "
    "indemnities, the auto-renewals and the exclusivity that hurt later.",
    "Research tools now summarise judgments in seconds, but a summary is not a holding. "
    "Read the paragraphs the summary cites before you rely on them in court.",
    "Internships are where most lawyers learn to draft. Ask for feedback on every draft, "
    "keep the marked-up copies, and compare them a month later.",
]
DEMO_POSTS = [
    # (slug, title, category, tags, author, state, days from now)
    (
        "remedies-without-rights",
        "Remedies without rights: a short history",
        0,
        [0, 7],
        0,
        "published",
        -40,
    ),
    ("privacy-after-puttaswamy", "Privacy after Puttaswamy", 0, [1, 0], 0, "published", -32),
    (
        "arbitration-clauses-that-work",
        "Arbitration clauses that work",
        1,
        [3, 2],
        1,
        "published",
        -25,
    ),
    (
        "startup-contract-checklist",
        "The startup contract checklist",
        1,
        [4, 2, 5],
        1,
        "published",
        -18,
    ),
    (
        "ai-research-tools-reviewed",
        "AI research tools, reviewed by a litigator",
        2,
        [6, 9],
        2,
        "published",
        -12,
    ),
    (
        "first-internship-drafting",
        "What your first internship teaches about drafting",
        3,
        [8],
        2,
        "published",
        -9,
    ),
    (
        "compliance-calendars",
        "Compliance calendars for small companies",
        1,
        [5],
        1,
        "published",
        -5,
    ),
    ("moot-court-research", "Research habits from the moot court", 3, [9, 8], 0, "published", -2),
    (
        "data-protection-rules-explained",
        "The data protection rules, explained",
        0,
        [1, 5],
        0,
        "scheduled",
        3,
    ),
    ("legal-tech-stack-2027", "A legal tech stack for 2027", 2, [6], 2, "in_review", None),
    ("draft-notes-on-limitation", "Draft: notes on limitation periods", 1, [7], 1, "draft", None),
    ("draft-tribunal-reforms", "Draft: tribunal reforms", 0, [7, 0], 0, "draft", None),
    ("old-exam-tips", "Exam tips (2019 edition)", 3, [8], 2, "archived", -400),
]


def _user(username, full_name, role):
    first, _, last = full_name.partition(" ")
    user, created = User.objects.get_or_create(
        username=username,
        defaults={
            "first_name": first,
            "last_name": last,
            "email": f"{username}@example.com",
            "is_staff": True,
        },
    )
    if created:
        user.set_unusable_password()
        user.save()
    user.groups.add(Group.objects.get(name=role))
    return user


def _body(seed: int) -> str:
    rng = random.Random(seed)
    parts = rng.sample(PARAGRAPHS, 4)
    return (
        f"{parts[0]}\n\n## Why it matters\n\n{parts[1]}\n\n- {parts[2]}\n- {parts[3]}\n\n"
        "> Read the judgment, not the headline.\n\n"
        "Further reading: [the official text](https://example.com/judgment)."
    )


@transaction.atomic
def seed_demo() -> dict:
    """Create the demo blog; running it again changes nothing. Returns what it created."""
    created = {"posts": 0, "comments": 0}
    categories = [
        Category.objects.get_or_create(slug=slug, defaults={"name": name, "description": desc})[0]
        for slug, name, desc in CATEGORIES
    ]
    tags = [
        Tag.objects.get_or_create(slug=name.lower().replace(" ", "-"), defaults={"name": name})[0]
        for name in TAGS
    ]
    authors = []
    for index, (username, full_name, bio) in enumerate(AUTHORS):
        role = roles.EDITOR if index == 2 else roles.AUTHOR
        user = _user(username, full_name, role)
        AuthorProfile.objects.get_or_create(
            user=user, defaults={"display_name": full_name, "bio": bio}
        )
        authors.append(user)
    editor = authors[2]
    now = timezone.now()
    for n, (slug, title, cat, tag_ids, author, state, days) in enumerate(DEMO_POSTS):
        if Post.objects.filter(slug=slug).exists():
            continue
        when = now + datetime.timedelta(days=days) if days is not None else None
        post = services.post_create(
            user=editor,
            author=authors[author],
            title=title,
            slug=slug,
            body=_body(n),
            category=categories[cat],
            featured=n in (1, 4),
            published_at=when if state in ("published", "archived") else None,
            tags=[tags[i] for i in tag_ids],
        )
        created["posts"] += 1
        if state == "in_review":
            services.post_submit(post=post, user=authors[author])
        elif state == "scheduled":
            services.post_schedule(post=post, user=editor, publish_at=when)
        elif state in ("published", "archived"):
            services.post_publish(post=post, user=editor)
            if state == "archived":
                services.post_archive(post=post, user=editor)
            if state == "published" and n % 2 == 0:
                created["comments"] += _demo_comments(post)
    return created


def _demo_comments(post) -> int:
    samples = [
        ("Ravi", "Clear and useful, thank you.", CommentStatus.APPROVED),
        ("Sana", "Could you cover the appeal route next?", CommentStatus.PENDING),
        ("cheap-pills", "Buy now at http://spam.example", CommentStatus.SPAM),
    ]
    for name, body, status in samples:
        Comment.objects.create(
            post=post,
            author_name=name,
            author_email=f"{name.lower()}@example.com",
            body=body,
            status=status,
            ip_address="127.0.0.1",
        )
    return len(samples)


GENERATED_PREFIX = "generated-post-"
GENERATED_BATCH = 20000

# One INSERT per batch, rows made by PostgreSQL itself (generate_series): sending 100,000
# rendered bodies from Python, then rewriting each row for its search vector, took ~100 s.
# Per row k: body variant k % V; state from (k * 7919) % 100 (5 % draft, 3 % scheduled,
# 2 % archived, 2 % in review, the rest published); two distinct tags; a publish time
# spread over three years (scheduled ones up to 60 days ahead).
_GENERATE_SQL = """
WITH variant AS MATERIALIZED (
    SELECT (ord - 1)::int AS i, body, html, excerpt, minutes, {variant_vector} AS text_vector
    FROM unnest(%(bodies)s::text[], %(htmls)s::text[], %(excerpts)s::text[], %(minutes)s::int[])
         WITH ORDINALITY AS v(body, html, excerpt, minutes, ord)
),
seq AS (
    SELECT g AS k,
           (g * 7919) %% 100 AS roll,
           g %% %(ntags)s AS t1,
           (g %% %(ntags)s + 1 + (g / %(ntags)s) %% (%(ntags)s - 1)) %% %(ntags)s AS t2,
           ((g * 104729) %% (3 * 365 * 1440)) + 1440 AS minutes_ago,
           ((g * 104729) %% (60 * 1440)) + 1440 AS minutes_ahead
    FROM generate_series(%(start)s::bigint, %(stop)s::bigint - 1) AS g
),
shaped AS (
    SELECT s.*, v.*,
           CASE WHEN s.roll < 5 THEN 'draft' WHEN s.roll < 8 THEN 'scheduled'
                WHEN s.roll < 10 THEN 'archived' WHEN s.roll < 12 THEN 'in_review'
                ELSE 'published' END AS status,
           (%(tag_names)s::text[])[s.t1 + 1] || ' '
               || (%(tag_names)s::text[])[s.t2 + 1] AS tag_text,
           (%(tag_names)s::text[])[s.k %% %(ntags)s + 1] || ' notes, part ' || (s.k + 1) AS title
    FROM seq s JOIN variant v ON v.i = s.k %% %(nvariants)s
),
timed AS (
    SELECT *,
           CASE WHEN status = 'scheduled' THEN now() + make_interval(mins => minutes_ahead::int)
                WHEN status IN ('published', 'archived')
                    THEN now() - make_interval(mins => minutes_ago::int)
           END AS published_at
    FROM shaped
),
inserted AS (
    INSERT INTO blog_post (
        title, slug, excerpt, excerpt_generated, body, body_html, cover_image_url,
        cover_image_alt, author_id, category_id, meta_title, meta_description, canonical_url,
        reading_time, featured, status, published_at, created_at, updated_at, version,
        search_vector, deleted_at, change_seq, was_published)
    SELECT title, %(prefix)s || (k + 1), excerpt, true, body, html, '', '',
           (%(authors)s::bigint[])[k %% %(nauthors)s + 1],
           (%(categories)s::bigint[])[k %% %(ncategories)s + 1],
           '', '', '', minutes, k %% 50 = 0, status, published_at, now(),
           least(coalesce(published_at, now()), now()), 1,
           {row_vector} || text_vector,
           NULL, %(change_seq)s, status IN ('published', 'archived')
    FROM timed
    RETURNING id, slug
)
INSERT INTO blog_post_tags (post_id, tag_id)
SELECT i.id, (%(tag_ids)s::bigint[])[t.idx + 1]
FROM inserted i
JOIN seq s ON i.slug = %(prefix)s || (s.k + 1)
CROSS JOIN LATERAL (VALUES (s.t1), (s.t2)) AS t(idx)
"""


def generate_posts(total: int) -> int:
    """Make sure `total` generated posts exist, inserting the missing ones in bulk.

    Benchmark data, not editorial work: rows go straight in (no revisions), with the derived
    fields the services compute (HTML, excerpt, reading time) and the same search vector.
    PostgreSQL only; SQLite gets the demo content alone.
    """
    if not uses_postgres():
        raise NotImplementedError("Generated benchmark posts need PostgreSQL.")
    seed_demo()
    existing = Post.objects.filter(slug__startswith=GENERATED_PREFIX).count()
    if existing >= total:
        return 0
    sql, params = generation_statement()
    for start in range(existing, total, GENERATED_BATCH):
        stop = min(start + GENERATED_BATCH, total)
        with transaction.atomic(), connection.cursor() as cursor:
            change_seq = bump_content_version()
            cursor.execute(sql, {**params, "start": start, "stop": stop, "change_seq": change_seq})
    return total - existing


def generation_statement() -> tuple[str, dict]:
    """The bulk INSERT and its parameters (less the `start`/`stop` row numbers)."""
    bodies = [_body(i) for i in range(24)]
    htmls = [render_markdown(body) for body in bodies]
    tags = list(Tag.objects.order_by("pk"))
    authors = User.objects.filter(username__in=[a[0] for a in AUTHORS]).order_by("pk")
    params = {
        "bodies": bodies,
        "htmls": htmls,
        "excerpts": [make_excerpt(html) for html in htmls],
        "minutes": [reading_time_minutes(html) for html in htmls],
        "nvariants": len(bodies),
        "tag_ids": [tag.pk for tag in tags],
        "tag_names": [tag.name for tag in tags],
        "ntags": len(tags),
        "authors": list(authors.values_list("pk", flat=True)),
        "categories": list(Category.objects.order_by("pk").values_list("pk", flat=True)),
        "prefix": GENERATED_PREFIX,
    }
    params["nauthors"] = len(params["authors"])
    params["ncategories"] = len(params["categories"])
    # The same weighting as blog.search; the excerpt and body part is computed once per variant.
    sql = _GENERATE_SQL.replace(
        "{variant_vector}",
        f"{vector_part_sql('excerpt', 'excerpt')} || {vector_part_sql('body', 'body')}",
    ).replace(
        "{row_vector}",
        f"{vector_part_sql('title', 'title')} || {vector_part_sql('tags', 'tag_text')}",
    )
    return sql, params
