from django.urls import path

from quality import views

urlpatterns = [
    path("adapters/<int:adapter_pk>/label-errors/", views.label_errors, name="quality-label-errors"),
    path(
        "adapters/<int:adapter_pk>/label-errors/check/", views.start_check, name="quality-label-errors-start"
    ),
    path("label-errors/<int:pk>/fix/", views.fix_suspect, name="quality-suspect-fix"),
    path("label-errors/<int:pk>/undo/", views.undo_fix, name="quality-suspect-undo"),
    path("adapters/<int:adapter_pk>/prelabel/", views.prelabel_status, name="quality-prelabel"),
    path("adapters/<int:adapter_pk>/prelabel/start/", views.start_prelabel, name="quality-prelabel-start"),
    path(
        "adapters/<int:adapter_pk>/suggestions/accept/",
        views.accept_suggestions,
        name="quality-suggestions-accept",
    ),
    path("adapters/<int:adapter_pk>/compare/", views.compare, name="quality-compare"),
    path(
        "adapters/<int:adapter_pk>/compare/<int:other_pk>/diff/",
        views.download_diff,
        name="quality-compare-diff",
    ),
    path(
        "adapters/<int:adapter_pk>/manifest/",
        views.download_manifest,
        name="quality-frozen-manifest",
    ),
]
