"""The Webhooks pages: managers register URLs for events and read each URL's delivery log."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from console import access
from webhooks import services
from webhooks.forms import WebhookForm
from webhooks.models import Delivery, Webhook


def _get_webhook(request, pk) -> Webhook:
    return access.get_or_404(request.user, Webhook.objects.all(), pk, access.MANAGER)


def list_webhooks(request):
    access.require_role(request.user, access.MANAGER)
    hooks = Webhook.objects.all()
    return render(request, "webhooks/list.html", {"webhooks": hooks})


def _save(request, form, webhook=None):
    data = form.cleaned_data
    fields = {"url": data["url"], "events": data["events"], "active": data["active"]}
    try:
        if webhook is None:
            return services.create_webhook(user=request.user, **fields)
        return services.update_webhook(user=request.user, webhook=webhook, **fields)
    except ValidationError as exc:
        for message in exc.messages:
            form.add_error(None, message)
    return None


@require_http_methods(["GET", "POST"])
def new_webhook(request):
    access.require_role(request.user, access.MANAGER)
    form = WebhookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        webhook = _save(request, form)
        if webhook:
            messages.success(request, "Webhook registered. Its secret, below, signs every delivery.")
            return redirect("webhooks-detail", webhook.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "webhooks/new.html", {"form": form}, status=status)


@require_http_methods(["GET", "POST"])
def webhook_detail(request, pk):
    """The webhook, its settings form (POST saves it) and its delivery log; htmx gets the log only."""
    webhook = _get_webhook(request, pk)
    initial = {"url": webhook.url, "events": webhook.events, "active": webhook.active}
    form = WebhookForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid() and _save(request, form, webhook):
        messages.success(request, "Webhook saved.")
        return redirect("webhooks-detail", webhook.pk)
    page = Paginator(webhook.deliveries.all(), 50).get_page(request.GET.get("page"))
    pending = any(d.status == Delivery.Status.PENDING for d in page)
    context = {"webhook": webhook, "form": form, "page": page, "pending": pending}
    if request.htmx and request.htmx.target == "deliveries":
        return render(request, "webhooks/_deliveries.html", context)
    status = 400 if request.method == "POST" else 200
    return render(request, "webhooks/detail.html", context, status=status)


@require_POST
def send_test_event(request, pk):
    webhook = _get_webhook(request, pk)
    services.send_test(user=request.user, webhook=webhook)
    messages.success(request, "Test event queued: its delivery appears below.")
    return redirect("webhooks-detail", webhook.pk)


@require_POST
def rotate_secret(request, pk):
    webhook = _get_webhook(request, pk)
    services.rotate_secret(user=request.user, webhook=webhook)
    messages.success(request, "New secret made: update the receiver, the old one no longer signs.")
    return redirect("webhooks-detail", webhook.pk)


@require_POST
def delete_webhook(request, pk):
    webhook = _get_webhook(request, pk)
    services.delete_webhook(user=request.user, webhook=webhook)
    messages.success(request, f"Webhook {webhook.url} deleted.")
    return redirect("webhooks-list")
