from django.urls import path

from verification import views

urlpatterns = [
    path("<int:pk>/", views.verify_job, name="verify-job"),
    path("<int:pk>/images/<int:line>/verdict/", views.set_verdict, name="verify-verdict"),
    path("<int:pk>/images/<int:line>/review/", views.mark_reviewed, name="verify-review"),
    path("<int:pk>/images/<int:line>/undo/", views.undo, name="verify-undo"),
    path("<int:pk>/train/", views.train, name="verify-train"),
    path("<int:pk>/queue/", views.review_queue, name="verify-queue"),
    path("<int:pk>/images/<int:line>/group/", views.apply_to_group, name="verify-group"),
    path("<int:pk>/images/<int:line>/group/undo/", views.undo_group, name="verify-group-undo"),
    path("<int:pk>/second-review/", views.set_second_review, name="verify-second-review"),
    path("<int:pk>/agreement/", views.agreement, name="verify-agreement"),
    path("<int:pk>/images/<int:line>/adjudicate/", views.adjudicate, name="verify-adjudicate"),
    path("projects/<int:pk>/agreement/", views.project_agreement, name="verify-project-agreement"),
    path(
        "projects/<int:pk>/second-review/",
        views.set_project_second_review,
        name="verify-project-second-review",
    ),
]
