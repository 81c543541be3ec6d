from django.urls import path

from projects import views

# Mounted at the site root, as the home page lists the projects.
urlpatterns = [
    path("", views.home, name="console-home"),
    path("projects/new/", views.new_project, name="projects-new"),
    path("projects/<int:pk>/", views.project_detail, name="projects-detail"),
    path("projects/<int:pk>/delete/", views.delete_project, name="projects-delete"),
]
