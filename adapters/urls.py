from django.urls import path

from adapters import views

urlpatterns = [
    path("<int:pk>/", views.adapter_detail, name="adapters-detail"),
]
