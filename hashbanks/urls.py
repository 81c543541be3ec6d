from django.urls import path

from hashbanks import views

urlpatterns = [
    path("", views.bank_list, name="hashbanks-list"),
    path("new/", views.bank_create, name="hashbanks-create"),
    path("add/", views.add_to_bank, name="hashbanks-add"),
    path("<int:pk>/", views.bank_detail, name="hashbanks-detail"),
    path("<int:pk>/edit/", views.bank_edit, name="hashbanks-edit"),
    path("<int:pk>/delete/", views.bank_delete, name="hashbanks-delete"),
    path("<int:pk>/upload/", views.bank_upload, name="hashbanks-upload"),
    path("<int:pk>/import/", views.bank_import, name="hashbanks-import"),
    path("<int:pk>/export/", views.bank_export, name="hashbanks-export"),
    path("<int:pk>/hashes/<int:hash_pk>/remove/", views.hash_remove, name="hashbanks-remove-hash"),
]
