from django.urls import path

from adapters import views

# Mounted at the site root: an adapter's own pages, and its dataset's pages under its project.
urlpatterns = [
    path("adapters/<int:pk>/", views.adapter_detail, name="adapters-detail"),
    path("adapters/<int:pk>/train/", views.train_adapter, name="adapters-train"),
    path("adapters/<int:pk>/cancel/", views.cancel_training, name="adapters-cancel"),
    path("adapters/<int:pk>/retrain/", views.retrain_adapter, name="adapters-retrain"),
    path("adapters/<int:pk>/delete/", views.delete_adapter, name="adapters-delete"),
    path("projects/<int:pk>/adapters/<int:adapter_pk>/labels/", views.assign_labels, name="projects-labels"),
    path(
        "projects/<int:pk>/adapters/<int:adapter_pk>/labels/set/",
        views.label_images,
        name="projects-label-images",
    ),
    path(
        "projects/<int:pk>/adapters/<int:adapter_pk>/images/add/",
        views.add_images,
        name="projects-add-images",
    ),
    path(
        "projects/<int:pk>/adapters/<int:adapter_pk>/images/upload/",
        views.upload_images,
        name="projects-upload",
    ),
    path(
        "projects/<int:pk>/adapters/<int:adapter_pk>/manifest/",
        views.download_manifest,
        name="projects-manifest",
    ),
    path("projects/images/<int:image_pk>/thumbnail/", views.image_thumbnail, name="projects-image-thumbnail"),
    path("projects/images/<int:image_pk>/file/", views.image_file, name="projects-image-file"),
]
