"""How one delivery is sent on its channel: a signed Standard Webhooks POST, a chat message,
an email, or a GitLab Deployments API call. Each returns an Outcome; none raises for what
the other side does (a refusal, a timeout), only for bugs."""

import dataclasses
import datetime
import ipaddress
import json
import socket
import time
import urllib.parse

import requests
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from standardwebhooks import Webhook

from notifications import events
from notifications.models import Delivery, GitLabDeployment

EXCERPT = 500
USER_AGENT = "LawVriksh-Blog-Webhooks/1"


@dataclasses.dataclass
class Outcome:
    succeeded: bool
    status_code: int | None = None
    response_excerpt: str = ""
    error: str = ""
    duration_ms: int = 0


def envelope(event) -> dict:
    """The JSON body of a Standard Webhooks delivery: type, timestamp, version, data."""
    return {
        "type": event.type,
        "timestamp": events.iso(event.created_at),
        "version": events.PAYLOAD_VERSION,
        "data": event.data,
    }


def signed_headers(secret: str, msg_id: str, body: str, now=None) -> dict:
    """webhook-id, webhook-timestamp and webhook-signature, by the standardwebhooks library."""
    now = now or datetime.datetime.now(tz=datetime.timezone.utc)
    signature = Webhook(secret).sign(msg_id=msg_id, timestamp=now, data=body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }


def send(delivery: Delivery) -> Outcome:
    started = time.monotonic()
    sender = {
        Delivery.Channel.WEBHOOK: _webhook,
        Delivery.Channel.EMAIL: _email,
        Delivery.Channel.GITLAB: _gitlab,
    }[delivery.channel]
    try:
        outcome = sender(delivery)
    except requests.Timeout:
        outcome = Outcome(False, error=f"timed out after {settings.NOTIFICATIONS_TIMEOUT} s")
    except (requests.RequestException, OSError) as error:
        outcome = Outcome(False, error=f"{type(error).__name__}: {error}"[:1000])
    outcome.duration_ms = int((time.monotonic() - started) * 1000)
    return outcome


def _http(method: str, url: str, **kwargs) -> requests.Response:
    headers = {"User-Agent": USER_AGENT, **kwargs.pop("headers", {})}
    # No redirects: a receiver's redirect must not turn a POST into a GET elsewhere.
    return requests.request(
        method,
        url,
        headers=headers,
        timeout=settings.NOTIFICATIONS_TIMEOUT,
        allow_redirects=False,
        **kwargs,
    )


def _answer(response: requests.Response) -> Outcome:
    return Outcome(
        succeeded=200 <= response.status_code < 300,
        status_code=response.status_code,
        response_excerpt=response.text[:EXCERPT],
        error="" if response.ok else f"HTTP {response.status_code}",
    )


# --------------------------------------------------------------------------- webhooks


class PrivateAddress(Exception):
    """A webhook URL that leads into this network (refused unless allowed)."""


def check_public(url: str) -> None:
    """Refuse endpoints that resolve to loopback, private, link-local or reserved addresses
    (cloud metadata, the database, the admin's own network) unless
    NOTIFICATIONS_ALLOW_PRIVATE_ADDRESSES; checked at every send, since DNS changes."""
    if settings.NOTIFICATIONS_ALLOW_PRIVATE_ADDRESSES:
        return
    parts = urllib.parse.urlsplit(url)
    try:
        found = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as error:
        raise PrivateAddress(f"{parts.hostname} does not resolve ({error})")
    for *_, address in found:
        ip = ipaddress.ip_address(address[0])
        if not ip.is_global:
            raise PrivateAddress(f"{parts.hostname} resolves to {ip}, not a public address")


def _webhook(delivery: Delivery) -> Outcome:
    subscription, event = delivery.subscription, delivery.event
    try:
        check_public(subscription.url)
    except PrivateAddress as refused:
        return Outcome(False, error=f"refused: {refused}")
    if subscription.format == subscription.Format.SLACK:
        body = json.dumps(chat_message(event))
        headers = {"Content-Type": "application/json"}
    else:
        body = json.dumps(envelope(event), separators=(",", ":"))
        headers = {
            "Content-Type": "application/json",
            **signed_headers(subscription.secret, event.uid, body),
        }
    return _answer(_http("POST", subscription.url, data=body.encode(), headers=headers))


def summary(event) -> tuple[str, str]:
    """A short human sentence for the event and the link that goes with it."""
    data = event.data
    if "deployment" in data:
        d, env, build = data["deployment"], data["environment"], data["build"]
        who = d.get("requested_by") or "someone"
        what = f"{build['tag'][:12]} to {env['name']}"
        text = {
            "approval.requested": f"{who} asks to deploy {what}: awaiting approval",
            "approval.expiring": f"Request to deploy {what} lapses at {d['approval_expires_at']}",
            "deployment.started": f"Deploying {what}",
            "deployment.succeeded": f"Deployed {what}",
            "deployment.failed": f"FAILED: deploying {what}",
            "deployment.cancelled": f"Cancelled: deploying {what}",
            "deployment.rolled_back": f"Rolled back {env['name']} to {build['tag'][:12]}"
            + (" (automatic)" if d.get("automatic") else ""),
            "verification.failed": f"Verification failed for {what}",
        }.get(event.type, f"{event.type}: {what}")
        return f"{text}. Reason: {d['reason']}", d["url"]
    if "post" in data:
        post = data["post"]
        verb = {"post.published": "Published", "post.updated": "Updated"}.get(
            event.type, "Unpublished"
        )
        return f"{verb}: “{post['title']}”", post["url"]
    if "comment" in data:
        comment = data["comment"]
        return f"New comment by {comment['author_name']} awaits moderation", comment["url"]
    if "backup" in data:
        backup = data["backup"]
        return f"Backup of {data['environment']['name']} failed: {backup['error']}", backup["url"]
    if "environment" in data:
        env = data["environment"]
        state = "frozen" if event.type == "environment.frozen" else "unfrozen"
        return f"{env['name']} {state}: {data.get('reason') or 'no reason given'}", data["url"]
    return event.type, settings.SITE_URL


def chat_message(event) -> dict:
    """Slack-compatible incoming-webhook JSON (Mattermost and Rocket.Chat accept it too)."""
    text, link = summary(event)
    return {"text": f"{text} <{link}|Open>", "username": settings.SITE_NAME}


# --------------------------------------------------------------------------- email


def _email(delivery: Delivery) -> Outcome:
    event = delivery.event
    text, link = summary(event)
    message = EmailMessage(
        subject=f"[{settings.SITE_NAME}] {text}"[:200],
        body=f"{text}\n\n{link}\n\n— {settings.SITE_NAME} ({event.type}, {event.uid})\n",
        to=[address.strip() for address in delivery.recipient.split(",") if address.strip()],
    )
    try:
        sent = message.send(fail_silently=False)
    except Exception as error:  # SMTP errors come in many classes; each is a failed attempt
        return Outcome(False, error=f"{type(error).__name__}: {error}"[:1000])
    return Outcome(bool(sent), response_excerpt=f"{sent} message(s) accepted")


# --------------------------------------------------------------------------- GitLab

# Our deployment status → GitLab's (created, running, success, failed, canceled).
GITLAB_STATUS = {
    "running": "running",
    "succeeded": "success",
    "failed": "failed",
    "cancelled": "canceled",
    "superseded": "canceled",
}


def _gitlab(delivery: Delivery) -> Outcome:
    """Bring GitLab's mirror of the deployment to its current status: create it (and set the
    environment's URL to the dashboard) the first time, then update it. State-based, so
    retries and deliveries sent out of order converge on what is true now."""
    from releases.models import Deployment

    deployment_id = delivery.event.data["deployment"]["id"]
    with transaction.atomic():
        # The mirror row is the lock: one sender at a time talks to GitLab per deployment.
        mirror = GitLabDeployment.objects.select_for_update().get(deployment_id=deployment_id)
        deployment = Deployment.objects.select_related("build", "environment").get(
            pk=deployment_id
        )
        wanted = GITLAB_STATUS.get(deployment.status)
        if wanted is None or wanted == mirror.status:
            return Outcome(True, response_excerpt=f"GitLab already has status {mirror.status}")
        if mirror.gitlab_id is None:
            _gitlab_environment_url(deployment)
            build = deployment.build
            response = _gitlab_call(
                "POST",
                "deployments",
                json={
                    "environment": deployment.environment.name,
                    "sha": build.commit_sha,
                    "ref": build.ref or build.tag,
                    "tag": False,
                    "status": wanted,
                },
            )
            if response.ok:
                mirror.gitlab_id = response.json()["id"]
        else:
            response = _gitlab_call(
                "PUT", f"deployments/{mirror.gitlab_id}", json={"status": wanted}
            )
        if response.ok:
            mirror.status = wanted
            mirror.save(update_fields=["gitlab_id", "status", "updated_at"])
        return _answer(response)


def _gitlab_environment_url(deployment) -> None:
    """GitLab's environment of that name points at our dashboard (created if missing)."""
    from django.urls import reverse

    name = deployment.environment.name
    url = events.absolute(reverse("admin:releases_dashboard"))
    found = _gitlab_call("GET", "environments", params={"name": name})
    found.raise_for_status()
    matches = [env for env in found.json() if env.get("name") == name]
    if not matches:
        _gitlab_call("POST", "environments", json={"name": name, "external_url": url})
    elif matches[0].get("external_url") != url:
        _gitlab_call("PUT", f"environments/{matches[0]['id']}", json={"external_url": url})


def _gitlab_call(method: str, path: str, **kwargs) -> requests.Response:
    project = urllib.parse.quote(str(settings.GITLAB_PROJECT), safe="")
    url = f"{settings.GITLAB_URL.rstrip('/')}/api/v4/projects/{project}/{path}"
    return _http(method, url, headers={"PRIVATE-TOKEN": settings.GITLAB_API_TOKEN}, **kwargs)
