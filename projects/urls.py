from django.urls import path

from projects import views

urlpatterns = [
    path("new/", views.new_project, name="projects-new"),
    path("<int:pk>/", views.project_detail, name="projects-detail"),
    path("<int:pk>/delete/", views.delete_project, name="projects-delete"),
    path("<int:pk>/adapters/<int:adapter_pk>/labels/", views.assign_labels, name="projects-labels"),
    path("<int:pk>/adapters/<int:adapter_pk>/labels/set/", views.label_images, name="projects-label-images"),
    path("<int:pk>/adapters/<int:adapter_pk>/images/add/", views.add_images, name="projects-add-images"),
    path("<int:pk>/adapters/<int:adapter_pk>/images/upload/", views.upload_images, name="projects-upload"),
    path("<int:pk>/adapters/<int:adapter_pk>/manifest/", views.download_manifest, name="projects-manifest"),
    path("images/<int:image_pk>/thumbnail/", views.image_thumbnail, name="projects-image-thumbnail"),
    path("images/<int:image_pk>/file/", views.image_file, name="projects-image-file"),
    path("settings/blur/", views.toggle_blur, name="projects-toggle-blur"),
]
