from django.urls import path

from adapters import views

urlpatterns = [
    path("<int:pk>/", views.adapter_detail, name="adapters-detail"),
    path("<int:pk>/train/", views.train_adapter, name="adapters-train"),
    path("<int:pk>/delete/", views.delete_adapter, name="adapters-delete"),
]
