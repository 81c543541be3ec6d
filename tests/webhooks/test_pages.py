"""The Webhooks pages: a manager registers, edits, tests and deletes webhooks and reads the log."""

import pytest
from django.urls import reverse

from console.models import AuditEntry
from webhooks import services
from webhooks.models import Delivery, Webhook

EVENTS = ["adapter.training_completed", "bulk_job.failed"]


@pytest.fixture
def manager_client(client, owner):
    client.force_login(owner)
    return client


@pytest.mark.django_db
def test_a_manager_registers_a_webhook_and_sees_its_secret(manager_client, owner):
    response = manager_client.post(
        reverse("webhooks-new"),
        {"url": "https://hooks.example.com/console", "events": EVENTS, "active": "on"},
    )
    webhook = Webhook.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "webhooks-detail", args=[webhook.pk]
    )
    assert webhook.events == EVENTS and webhook.active and len(webhook.secret) >= 40
    assert bytes(webhook.encrypted_secret) != webhook.secret.encode()  # stored encrypted
    page = manager_client.get(response["Location"]).content.decode()
    assert webhook.secret in page and "Send test event" in page and "No deliveries yet" in page
    entry = AuditEntry.objects.get(action="webhook.create")
    assert entry.user == owner and entry.detail["events"] == EVENTS
    listing = manager_client.get(reverse("webhooks-list")).content.decode()
    assert "https://hooks.example.com/console" in listing and "Bulk analysis job failed" in listing
    assert reverse("webhooks-list") in manager_client.get(reverse("console-home")).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url,events,error",
    [
        ("ftp://hooks.example.com/", EVENTS, "URL: only http and https URLs are called, not ftp"),
        ("http://169.254.169.254/latest/meta-data/", EVENTS, "URL: 169.254.169.254 is a link-local"),
        ("http://10.0.0.5/hook", EVENTS, "URL: 10.0.0.5 is a private address, refused unless"),
        ("https://user:secret@hooks.example.com/", EVENTS, "URL: a URL with a user name or password"),
        ("https://hooks.example.com/", [], "This field is required"),
        ("https://hooks.example.com/", ["webhook.test"], "Select a valid choice"),
    ],
)
def test_it_refuses_a_bad_webhook_naming_the_field(manager_client, url, events, error):
    response = manager_client.post(reverse("webhooks-new"), {"url": url, "events": events})
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Webhook.objects.exists()


@pytest.mark.django_db
def test_the_test_button_queues_a_delivery_and_the_log_shows_each_outcome(manager_client, owner):
    webhook = services.create_webhook(user=owner, url="https://hooks.example.com/console", events=EVENTS)
    response = manager_client.post(reverse("webhooks-test", args=[webhook.pk]))
    assert response.status_code == 302
    delivery = Delivery.objects.get(webhook=webhook)
    assert delivery.event == "webhook.test" and delivery.status == "pending"
    page = manager_client.get(reverse("webhooks-detail", args=[webhook.pk])).content.decode()
    assert "Test event" in page and "Pending" in page and 'hx-trigger="every 2s"' in page
    Delivery.objects.filter(pk=delivery.pk).update(
        status="failed",
        response_code=500,
        response_excerpt="<script>alert(1)</script>",
        error="The receiver answered HTTP 500.",
    )
    page = manager_client.get(reverse("webhooks-detail", args=[webhook.pk])).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "The receiver answered HTTP 500." in page and 'hx-trigger="every 2s"' not in page
    assert AuditEntry.objects.filter(action="webhook.test").exists()


@pytest.mark.django_db
def test_a_manager_edits_rotates_and_deletes_a_webhook(manager_client, owner):
    webhook = services.create_webhook(user=owner, url="https://hooks.example.com/a", events=EVENTS)
    secret = webhook.secret
    response = manager_client.post(
        reverse("webhooks-detail", args=[webhook.pk]),
        {"url": "https://hooks.example.com/b", "events": ["adapter.deprecated"]},
    )
    assert response.status_code == 302
    webhook.refresh_from_db()
    assert (webhook.url, webhook.events, webhook.active) == (
        "https://hooks.example.com/b",
        ["adapter.deprecated"],
        False,
    )
    manager_client.post(reverse("webhooks-rotate-secret", args=[webhook.pk]))
    webhook.refresh_from_db()
    assert webhook.secret != secret
    assert manager_client.post(reverse("webhooks-delete", args=[webhook.pk])).status_code == 302
    assert not Webhook.objects.exists()
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"webhook.update", "webhook.rotate_secret", "webhook.delete"} <= actions


@pytest.mark.django_db
def test_below_manager_the_webhooks_are_refused(client, annotator, owner):
    webhook = services.create_webhook(user=owner, url="https://hooks.example.com/a", events=EVENTS)
    client.force_login(annotator)
    assert client.get(reverse("webhooks-list")).status_code == 403
    assert client.get(reverse("webhooks-detail", args=[webhook.pk])).status_code == 403
    assert webhook.secret not in client.get(reverse("webhooks-detail", args=[webhook.pk])).content.decode()
