from django.urls import path

from exports import views

urlpatterns = [
    path("adapters/<int:adapter_pk>/manifest/", views.new_adapter_manifest, name="exports-adapter-manifest"),
    path("<int:pk>/", views.export_detail, name="exports-detail"),
    path("<int:pk>/download/", views.download_export, name="exports-download"),
]
