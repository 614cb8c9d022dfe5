"""Demo content for the quick start, and bulk-generated posts for benchmarks."""

import datetime
import random

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from blog import services
from blog.models import AuthorProfile, Category, Comment, CommentStatus, Post, PostStatus, Tag
from blog.rendering import make_excerpt, reading_time_minutes, render_markdown
from blog.search import refresh_search_vectors
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
# Share of generated posts in each state (the rest are published).
GENERATED_STATES = [
    (PostStatus.DRAFT, 0.05),
    (PostStatus.SCHEDULED, 0.03),
    (PostStatus.ARCHIVED, 0.02),
    (PostStatus.IN_REVIEW, 0.02),
]


def generate_posts(total: int, *, batch_size: int = 5000, seed: int = 7) -> int:
    """Make sure `total` generated posts exist, bulk-inserting the missing ones.

    Benchmark data, not editorial work: rows go straight in (no revisions), with the same
    derived fields (HTML, excerpt, reading time, search vector) the services compute.
    """
    seed_demo()
    existing = Post.objects.filter(slug__startswith=GENERATED_PREFIX).count()
    missing = total - existing
    if missing <= 0:
        return 0
    rng = random.Random(seed + existing)
    authors = list(User.objects.filter(username__in=[a[0] for a in AUTHORS]))
    categories = list(Category.objects.all())
    tags = list(Tag.objects.all())
    bodies = [_body(i) for i in range(24)]
    rendered = [render_markdown(body) for body in bodies]
    derived = [(make_excerpt(html), reading_time_minutes(html)) for html in rendered]
    now = timezone.now()
    through = Post.tags.through
    for start in range(existing, total, batch_size):
        posts = []
        for k in range(start, min(start + batch_size, total)):
            variant = k % len(bodies)
            status = _generated_status(rng)
            days = rng.uniform(1, 3 * 365)
            published_at = (
                now + datetime.timedelta(days=rng.uniform(1, 60))
                if status == PostStatus.SCHEDULED
                else (
                    now - datetime.timedelta(days=days)
                    if status in (PostStatus.PUBLISHED, PostStatus.ARCHIVED)
                    else None
                )
            )
            posts.append(
                Post(
                    title=f"{TAGS[k % len(TAGS)]} notes, part {k + 1}",
                    slug=f"{GENERATED_PREFIX}{k + 1}",
                    body=bodies[variant],
                    body_html=rendered[variant],
                    excerpt=derived[variant][0],
                    excerpt_generated=True,
                    reading_time=derived[variant][1],
                    author=authors[k % len(authors)],
                    category=categories[k % len(categories)],
                    status=status,
                    published_at=published_at,
                    updated_at=published_at or now,
                    featured=k % 50 == 0,
                )
            )
        with transaction.atomic():
            Post.objects.bulk_create(posts, batch_size=batch_size)
            links = [
                through(post_id=post.pk, tag_id=tag.pk)
                for post in posts
                for tag in rng.sample(tags, 2)
            ]
            through.objects.bulk_create(links, batch_size=batch_size * 2)
            refresh_search_vectors([post.pk for post in posts])
    return missing


def _generated_status(rng: random.Random) -> str:
    roll = rng.random()
    for status, share in GENERATED_STATES:
        if roll < share:
            return status
        roll -= share
    return PostStatus.PUBLISHED
