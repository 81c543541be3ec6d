from django.urls import path

from projects import views

urlpatterns = [
    path("new/", views.new_project, name="projects-new"),
    path("<int:pk>/", views.project_detail, name="projects-detail"),
    path("<int:pk>/delete/", views.delete_project, name="projects-delete"),
]
