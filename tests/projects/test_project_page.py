"""The project page: adapters with their metrics, Create adapter, and delete."""

import pytest
from django.urls import reverse

from adapters import services as adapter_services
from moderation.engine.evaluation import evaluate
from projects import services
from projects.models import Project
from tests.projects.conftest import page_text

pytestmark = pytest.mark.django_db


def test_it_lists_adapters_with_f1_and_improvements(owner_client, owner, adapter):
    doc = evaluate(
        truth=[["Alcohol"], [], ["Alcohol"], []],
        base=[{"Alcohol": 90}, {"Alcohol": 80}, {}, {"Alcohol": 70}],  # 2 FP, 1 FN
        adapter=[{"Alcohol": 90}, {}, {}, {"Alcohol": 70}],  # 1 FP, 1 FN
        labels=["Alcohol"],
        threshold=50.0,
        adapter_arn=adapter.arn,
        training_images=10,
    )
    adapter.evaluation, adapter.f1_score, adapter.base_model_version = doc, 0.5, "7.0"
    adapter.save()
    adapter_services.create_adapter(user=owner, project=adapter.project, name="second")
    text = page_text(owner_client.get(reverse("projects-detail", args=[adapter.project_id])))
    for header in (
        "Base model version",
        "F1 score",
        "False positive improvement",
        "False negative improvement",
    ):
        assert header in text
    assert "0.500" in text and ">50%<" in text  # FP: (2-1)/2
    assert ">0%<" in text  # FN: (1-1)/1
    assert "second" in text and text.count("—") >= 3  # untrained: no version, F1 or improvements
    assert f"/projects/new/?project={adapter.project_id}" in text  # Create adapter


def test_an_improvement_is_a_dash_when_the_base_model_made_no_such_error(owner_client, adapter):
    doc = evaluate(
        truth=[["Alcohol"]],
        base=[{"Alcohol": 90}],
        adapter=[{"Alcohol": 90}],
        labels=["Alcohol"],
        threshold=50.0,
        adapter_arn=adapter.arn,
        training_images=1,
    )
    adapter.evaluation = doc
    adapter.save()
    text = page_text(owner_client.get(reverse("projects-detail", args=[adapter.project_id])))
    assert "%" not in text.split("<tbody>")[1]


def test_it_refuses_to_delete_a_project_that_still_has_adapters(owner_client, adapter):
    response = owner_client.post(reverse("projects-delete", args=[adapter.project_id]), follow=True)
    assert "still has 1 adapter: delete them first, then the project." in page_text(response)
    assert Project.objects.filter(pk=adapter.project_id).exists()


def test_it_deletes_an_empty_project(owner_client, owner):
    project = services.create_project(user=owner, name="empty")
    response = owner_client.post(reverse("projects-delete", args=[project.pk]))
    assert response.status_code == 302 and not Project.objects.filter(pk=project.pk).exists()


def test_viewers_see_the_page_but_may_not_delete(client, viewer, owner):
    project = services.create_project(user=owner, name="empty")
    client.force_login(viewer)
    text = page_text(client.get(reverse("projects-detail", args=[project.pk])))
    assert "empty" in text and "Delete project" not in text and "Create adapter" not in text
    assert client.post(reverse("projects-delete", args=[project.pk])).status_code == 403
    assert Project.objects.filter(pk=project.pk).exists()


def test_a_missing_project_is_404(owner_client):
    assert owner_client.get(reverse("projects-detail", args=[999])).status_code == 404
