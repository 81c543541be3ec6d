"""Webhooks: registering them, emitting events to them, and delivering each event.

Apps that have events call emit() where the event happens, in the transaction that makes it
happen: a Delivery row per subscribed webhook, and a task per delivery once that commits.
The task POSTs the body (transport.post: http(s) and allowed addresses only, no redirect),
signed with the webhook's secret in X-Webhook-Signature: "sha256=" and the hex HMAC-SHA256 of
the raw body. Network errors, 408, 429 and 5xx answers are retried with backoff up to
MAX_ATTEMPTS; other answers and refused URLs fail the delivery at once.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import time
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from console.models import record
from webhooks import transport
from webhooks.models import SUBSCRIBABLE, Delivery, Event, Webhook

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.models import Model

__all__ = ["Event", "emit"]

# Attempts of one delivery in all; the waits between them double from WEBHOOKS_RETRY_BASE_SECONDS
# (30 s: 30 s, 1 min, 2 min ... about 1 h in all), each capped at MAX_WAIT_SECONDS.
MAX_ATTEMPTS = 8
MAX_WAIT_SECONDS = 60 * 60
RETRIED_STATUSES = {408, 429}  # and every 5xx
SIGNATURE_HEADER = "X-Webhook-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _validate(url: str, events: list[str]) -> None:
    try:
        _, host, _, _ = transport.check_url(url)
    except transport.Refused as exc:
        raise ValidationError(f"URL: {exc}", code="invalid") from None
    try:  # an address written in the URL is checked now; a name at each delivery, as it resolves then
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    reason = address and transport.refusal(address, allow_private=settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES)
    if reason:
        raise ValidationError(f"URL: {address} is {reason}", code="invalid")
    allowed = {value for value, _ in SUBSCRIBABLE}
    if not events or set(events) - allowed:
        raise ValidationError("Events: choose one or more of the listed events", code="invalid")


def create_webhook(*, user: User, url: str, events: list[str], active: bool = True) -> Webhook:
    _validate(url, events)
    webhook = Webhook(url=url, events=sorted(set(events)), active=active, created_by=user)
    webhook.set_secret(secrets.token_urlsafe(32))
    with transaction.atomic():
        webhook.save()
        record(user, "webhook.create", webhook, url=url, events=webhook.events, active=active)
    return webhook


def update_webhook(*, user: User, webhook: Webhook, url: str, events: list[str], active: bool) -> Webhook:
    _validate(url, events)
    webhook.url, webhook.events, webhook.active = url, sorted(set(events)), active
    with transaction.atomic():
        webhook.save(update_fields=["url", "events", "active"])
        record(user, "webhook.update", webhook, url=url, events=webhook.events, active=active)
    return webhook


def rotate_secret(*, user: User, webhook: Webhook) -> Webhook:
    webhook.set_secret(secrets.token_urlsafe(32))
    with transaction.atomic():
        webhook.save(update_fields=["encrypted_secret"])
        record(user, "webhook.rotate_secret", webhook)
    return webhook


def delete_webhook(*, user: User, webhook: Webhook) -> None:
    with transaction.atomic():
        record(user, "webhook.delete", webhook, url=webhook.url)
        webhook.delete()


def describe(obj: Model) -> dict[str, Any]:
    """What every event says about its object: its kind and id, and its name, status and ARN if it has them."""
    found: dict[str, Any] = {"type": obj._meta.model_name, "id": obj.pk}
    for name in ("name", "status", "arn"):
        if hasattr(obj, name):
            found[name] = getattr(obj, name)
    return found


def _queue(webhook: Webhook, event: str, data: dict[str, Any]) -> Delivery:
    delivery = Delivery(webhook=webhook, event=event)
    payload = {"id": str(delivery.uuid), "event": event, "created_at": timezone.now(), "data": data}
    delivery.body = json.dumps(payload, cls=DjangoJSONEncoder, sort_keys=True)
    delivery.save()
    transaction.on_commit(partial(_enqueue, delivery.pk))
    return delivery


def _enqueue(delivery_id: int) -> None:
    from webhooks.tasks import deliver  # tasks call back into this module: the accepted cycle

    deliver.delay(delivery_id)


def emit(event: str, obj: Model | None = None, **data: Any) -> int:
    """Queue `event` for every active webhook subscribed to it; `obj` is described (describe())
    under data[obj's kind], the keyword arguments are added to data. Returns the deliveries queued."""
    event = Event(event)
    hooks = [hook for hook in Webhook.objects.filter(active=True) if event in hook.events]
    if not hooks:
        return 0
    payload: dict[str, Any] = dict(data)
    if obj is not None:
        payload = {str(obj._meta.model_name): describe(obj), **data}
    with transaction.atomic():
        for hook in hooks:
            _queue(hook, event, payload)
    return len(hooks)


def send_test(*, user: User, webhook: Webhook) -> Delivery:
    """A test event to this webhook, active or not."""
    with transaction.atomic():
        delivery = _queue(
            webhook,
            Event.TEST,
            {"webhook": webhook.pk, "message": "A test event from the moderation console."},
        )
        record(user, "webhook.test", webhook, delivery=str(delivery.uuid))
    return delivery


def _wait(attempts: int) -> float:
    return float(min(MAX_WAIT_SECONDS, settings.WEBHOOKS_RETRY_BASE_SECONDS * 2 ** (attempts - 1)))


def attempt_delivery(*, delivery_id: int) -> float | None:
    """One attempt of a pending delivery, written on its row. Returns the seconds to wait before
    the next attempt, or None when the delivery is finished (or gone)."""
    delivery = Delivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != Delivery.Status.PENDING:
        return None
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json",
        "X-Webhook-Event": delivery.event,
        "X-Webhook-Delivery": str(delivery.uuid),
        SIGNATURE_HEADER: sign(delivery.webhook.secret, body),
    }
    started = time.monotonic()
    answer, error, retry = None, "", False
    try:
        answer = transport.post(
            delivery.webhook.url,
            body,
            headers,
            allow_private=settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES,
            timeout=settings.WEBHOOKS_TIMEOUT_SECONDS,
        )
    except transport.Refused as exc:
        error = f"Not sent: {exc}"
    except transport.Unreachable as exc:
        error, retry = str(exc), True
    attempts = delivery.attempts + 1
    status = Delivery.Status.FAILED
    if answer is not None:
        if 200 <= answer.status < 300:
            status = Delivery.Status.SUCCEEDED
        elif 300 <= answer.status < 400:
            error = "The receiver answered with a redirect; redirects are not followed."
        else:
            error = f"The receiver answered HTTP {answer.status}."
            retry = answer.status in RETRIED_STATUSES or answer.status >= 500
    wait = _wait(attempts) if retry and attempts < MAX_ATTEMPTS else None
    if wait is not None:
        status = Delivery.Status.PENDING
        error = f"{error} Attempt {attempts} of {MAX_ATTEMPTS}; next in {wait:.0f} s."
    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING).update(
        status=status,
        attempts=attempts,
        response_code=answer.status if answer else None,
        response_excerpt=answer.excerpt if answer else "",
        error=error.strip()[:500],
        duration_ms=int((time.monotonic() - started) * 1000),
        last_attempt_at=now,
        next_attempt_at=now + timedelta(seconds=wait) if wait is not None else None,
    )
    return wait


def give_up(*, delivery_id: int, error: str) -> bool:
    """Fail a pending delivery whose attempt ran out of time; False if it was not pending."""
    now = timezone.now()
    return bool(
        Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PENDING).update(
            status=Delivery.Status.FAILED,
            attempts=F("attempts") + 1,
            error=error[:500],
            last_attempt_at=now,
            next_attempt_at=None,
        )
    )
