from django.urls import path

from webhooks import views

urlpatterns = [
    path("", views.list_webhooks, name="webhooks-list"),
    path("new/", views.new_webhook, name="webhooks-new"),
    path("<int:pk>/", views.webhook_detail, name="webhooks-detail"),
    path("<int:pk>/test/", views.send_test_event, name="webhooks-test"),
    path("<int:pk>/secret/", views.rotate_secret, name="webhooks-rotate-secret"),
    path("<int:pk>/delete/", views.delete_webhook, name="webhooks-delete"),
]
