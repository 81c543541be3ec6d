from django.contrib.auth.decorators import login_not_required
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from adapters.models import Adapter
from console.models import Notification, WorkerHeartbeat
from projects.models import Project

NAVIGATION = [
    ("Custom Moderation", "console-home"),
    ("Bulk analysis", "bulk-list"),
    ("Notifications", "console-notifications"),
    ("API keys", "console-api-keys"),
]


def shell_context(request):
    """What every page of the console shell shows: navigation, unread count, worker state."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    beat = WorkerHeartbeat.objects.order_by("-seen_at").first()
    return {
        "navigation": NAVIGATION,
        "unread_notifications": Notification.objects.filter(user=request.user, read_at=None).count(),
        "worker_seen_at": beat.seen_at if beat else None,
    }


def home(request):
    """The Custom Moderation landing page: projects, their adapters and statuses."""
    projects = Project.objects.prefetch_related(
        Prefetch("adapters", queryset=Adapter.objects.order_by("-created_at"))
    ).order_by("-created_at")
    return render(request, "console/home.html", {"projects": projects})


def notifications(request):
    items = Notification.objects.filter(user=request.user)[:200]
    return render(request, "console/notifications.html", {"notifications": items})


@require_POST
def mark_notifications_read(request):
    Notification.objects.filter(user=request.user, read_at=None).update(read_at=timezone.now())
    return redirect("console-notifications")


@login_not_required
def healthz(request):
    return HttpResponse("ok", content_type="text/plain")
