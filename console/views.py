from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from console import access, oidc
from console.forms import OrganisationProtectionForm, ProtectionForm
from console.lib.pagination import UncountedPaginator
from console.models import (
    AuditEntry,
    LoginFailure,
    Notification,
    OrganisationProtection,
    Profile,
    WorkerHeartbeat,
    record,
)

NAVIGATION = [
    ("Custom Moderation", "console-home"),
    ("Bulk analysis", "bulk-list"),
    ("Hash banks", "hashbanks-list"),
    ("Notifications", "console-notifications"),
    ("API keys", "console-api-keys"),
    ("Webhooks", "webhooks-list"),
    ("Audit log", "console-audit"),
    ("Reviewer protection", "console-protection"),
]


def shell_context(request):
    """What every page of the console shell shows: navigation, unread count, worker state."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    beat = WorkerHeartbeat.objects.order_by("-seen_at").first()
    return {
        "navigation": NAVIGATION,
        # Counted up to UNREAD_SHOWN ("99+" beyond): the same cost however many have piled up.
        "unread_notifications": _unread(request.user),
        "worker_seen_at": beat.seen_at if beat else None,
    }


UNREAD_SHOWN = 99


def _unread(user) -> str | int:
    # Unordered: with the model's newest-first ordering SQLite walks every notification of the
    # person by date instead of the unread index (220 ms at 500,000).
    unread = Notification.objects.filter(user=user, read_at=None).order_by()[: UNREAD_SHOWN + 1].count()
    return f"{UNREAD_SHOWN}+" if unread > UNREAD_SHOWN else unread


def notifications(request):
    access.require_role(request.user, access.VIEWER)
    items = Notification.objects.filter(user=request.user)[:200]
    return render(request, "console/notifications.html", {"notifications": items})


@require_POST
def mark_notifications_read(request):
    access.require_role(request.user, access.VIEWER)
    Notification.objects.filter(user=request.user, read_at=None).update(read_at=timezone.now())
    return redirect("console-notifications")


@login_not_required
def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


def _client_ip(request) -> str | None:
    """The client's address; behind a trusted proxy, the one the proxy appended to X-Forwarded-For."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if settings.TRUST_X_FORWARDED_FOR and forwarded:
        return forwarded.split(",")[-1].strip() or None
    return request.META.get("REMOTE_ADDR") or None


class LoginView(auth_views.LoginView):
    """Django's login, refusing further attempts after repeated failures for a user or an address."""

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            local_login=settings.LOCAL_LOGIN,
            provider_name=settings.OIDC_PROVIDER_NAME if oidc.enabled() else "",
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        if not settings.LOCAL_LOGIN:
            form = self.get_form()
            form.add_error(
                None, f"Sign-in with a password is turned off: sign in with {settings.OIDC_PROVIDER_NAME}."
            )
            return self.render_to_response(self.get_context_data(form=form), status=403)
        since = timezone.now() - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
        username = request.POST.get("username", "")[:150]
        recent = LoginFailure.objects.filter(at__gte=since)
        ip = _client_ip(request)
        if recent.filter(username=username).count() >= settings.LOGIN_FAILURE_LIMIT or (
            ip and recent.filter(ip=ip).count() >= settings.LOGIN_FAILURE_LIMIT * 4
        ):
            form = self.get_form()
            form.add_error(None, "Too many failed sign-in attempts. Wait 15 minutes and try again.")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        LoginFailure.objects.create(
            username=self.request.POST.get("username", "")[:150], ip=_client_ip(self.request)
        )
        return super().form_invalid(form)


@require_safe
def audit_log(request):
    """The audit trail, filterable by project; read-only here and in the admin."""
    access.require_role(request.user, access.VIEWER)
    entries = AuditEntry.objects.select_related("user")
    project = None
    if request.GET.get("project"):
        # The project through the entries' own foreign key: console imports no app's models.
        projects = AuditEntry._meta.get_field("project").related_model._default_manager.all()
        project = access.get_or_404(request.user, projects, request.GET["project"])
        entries = entries.filter(project_name=project.name)
    # No COUNT over the whole trail: Previous and Next, from one row past the page.
    page = UncountedPaginator(entries, 100).get_page(request.GET.get("page"))
    return render(request, "console/audit.html", {"page": page, "project": project})


def protection_settings(request):
    """A person's reviewer protection: the organisation default, or their own mode and categories."""
    access.require_role(request.user, access.VIEWER)
    profile = Profile.for_user(request.user)
    form = ProtectionForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Reviewer protection saved.")
        return redirect("console-protection")
    context = {
        "form": form,
        "organisation": OrganisationProtection.get(),
        "is_admin": access.has_role(request.user, access.ADMIN),
    }
    return render(request, "console/protection.html", context)


def organisation_protection(request):
    """The organisation default, for everyone who has not chosen their own: admins only."""
    access.require_role(request.user, access.ADMIN)
    organisation = OrganisationProtection.get()
    form = OrganisationProtectionForm(request.POST or None, instance=organisation)
    if request.method == "POST" and form.is_valid():
        form.save()
        record(request.user, "protection.organisation", organisation, **form.cleaned_data)
        messages.success(request, "Organisation default saved.")
        return redirect("console-protection")
    return render(request, "console/protection_organisation.html", {"form": form})
