from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from console import oidc, views

urlpatterns = [
    path("notifications/", views.notifications, name="console-notifications"),
    path("notifications/read/", views.mark_notifications_read, name="console-notifications-read"),
    path("healthz", views.healthz, name="console-healthz"),
    path("audit/", views.audit_log, name="console-audit"),
    path("settings/protection/", views.protection_settings, name="console-protection"),
    path(
        "settings/protection/organisation/",
        views.organisation_protection,
        name="console-protection-organisation",
    ),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Sign-in with OpenID Connect (404 unless configured): to the provider, and back.
    path("oidc/authenticate/", oidc.authenticate, name="oidc_authentication_init"),
    path("oidc/callback/", oidc.callback, name="oidc_authentication_callback"),
    path("admin/", admin.site.urls),
    # Each app's pages at the paths its urls.py spells out (a dataset's pages are under projects/).
    path("", include("projects.urls")),
    path("", include("adapters.urls")),
    path("bulk-analysis/", include("bulk_analysis.urls")),
    path("verify/", include("verification.urls")),
    path("webhooks/", include("webhooks.urls")),
    path("exports/", include("exports.urls")),
    path("hash-banks/", include("hashbanks.urls")),
    path("quality/", include("quality.urls")),
    path("", include("rekognition_api.urls")),
]
handler400 = "console.error_pages.bad_request"
