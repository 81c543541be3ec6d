"""The audit trail: every change made through the pages writes exactly the expected entries
(action, who, project, when), the trail is visible per project and in the admin, and nothing in
the console or the admin can edit it.

Changes a person makes carry their user; the worker's own changes (a training that completed or
failed) carry none.
"""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from adapters import datasets
from adapters import services as adapter_services
from adapters.models import Adapter
from adapters.tasks import train_adapter
from bulk_analysis.models import BulkAnalysisJob
from console.models import AuditEntry
from projects import services as project_services
from rekognition_api.models import ApiKey
from tests.adapters.conftest import add_dataset, finished_evaluation
from tests.bulk_analysis.conftest import finished_job
from tests.conftest import make_image_bytes
from tests.projects.conftest import gt, manifest, put

pytestmark = pytest.mark.django_db


class Trail:
    """The entries written since it was made, as (action, username or None, project name)."""

    def __init__(self):
        self.after = AuditEntry.objects.aggregate(last=Max("pk"))["last"] or 0
        self.since = timezone.now()

    def entries(self):
        return list(AuditEntry.objects.filter(pk__gt=self.after).select_related("user").order_by("pk"))

    def new(self) -> list[tuple]:
        rows = self.entries()
        for entry in rows:  # when: stamped as the change happened
            assert self.since <= entry.created_at <= timezone.now()
        return [(e.action, e.user.username if e.user else None, e.project_name) for e in rows]


def upload(name: str, seed: int) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, make_image_bytes(120, 100, seed=seed), content_type="image/jpeg")


@pytest.fixture
def project(owner):
    return project_services.create_project(user=owner, name="audited")


@pytest.fixture
def adapter(owner, project):
    adapter = adapter_services.create_adapter(user=owner, project=project, name="draft")
    datasets.import_files(
        user=owner, adapter=adapter, files=[(f"img{i}.jpg", make_image_bytes(seed=i)) for i in range(1, 4)]
    )
    return adapter


@pytest.fixture
def trained(owner, project):
    adapter = adapter_services.create_adapter(user=owner, project=project, name="trained")
    adapter.transition(
        [Adapter.Status.DRAFT],
        Adapter.Status.TRAINING_COMPLETED,
        evaluation=finished_evaluation(adapter.arn),
        base_model_version="7.0",
    )
    return adapter


@pytest.fixture
def job(owner, trained):
    """A finished job of the project's trained adapter, ready to verify."""
    job = finished_job(owner, [{"Alcohol": 80.0}, {"Violence": 70.0}])
    BulkAnalysisJob.objects.filter(pk=job.pk).update(adapter=trained, adapter_arn=trained.arn)
    job.refresh_from_db()
    return job


def login(client, user):
    client.force_login(user)
    return client


# ---------------------------------------------------------------- each kind of change


def test_it_records_a_project_created_with_its_adapter_and_images(client, owner):
    trail = Trail()
    response = login(client, owner).post(
        reverse("projects-new"),
        {
            "project_mode": "new",
            "project_name": "made-here",
            "adapter_name": "first",
            "source": "upload",
            "test_data": "autosplit",
            "files": [upload("a.jpg", 1), upload("b.jpg", 2)],
        },
    )
    assert response.status_code == 302
    assert trail.new() == [
        ("project.create", "owner", "made-here"),
        ("adapter.create", "owner", "made-here"),
        ("adapter.import_images", "owner", "made-here"),
    ]
    assert trail.entries()[-1].detail["added"] == 2


def test_it_records_an_adapter_added_to_a_project(client, owner, project):
    trail = Trail()
    response = login(client, owner).post(
        reverse("projects-new"),
        {
            "project_mode": "existing",
            "project": project.pk,
            "adapter_name": "second",
            "source": "upload",
            "test_data": "autosplit",
            "files": [upload("c.jpg", 3)],
        },
    )
    assert response.status_code == 302
    assert trail.new() == [
        ("adapter.create", "owner", "audited"),
        ("adapter.import_images", "owner", "audited"),
    ]


def test_it_records_each_import_of_images(client, owner, adapter):
    login(client, owner)
    args = [adapter.project_id, adapter.pk]

    trail = Trail()
    client.post(
        reverse("projects-add-images", args=args),
        {"source": "upload", "test_data": "keep", "files": [upload("d.jpg", 4)]},
    )
    assert trail.new() == [("adapter.import_images", "owner", "audited")]
    assert trail.entries()[0].detail["source"] == "upload"

    trail = Trail()
    client.post(reverse("projects-upload", args=args), {"files": [upload("e.jpg", 5)]})
    assert trail.new() == [("adapter.import_images", "owner", "audited")]

    trail = Trail()
    uri = put("incoming/f.jpg", make_image_bytes(seed=6))
    listed = SimpleUploadedFile("train.manifest", manifest(gt(uri, "Alcohol")))
    response = client.post(
        reverse("projects-add-images", args=args),
        {"source": "manifest", "manifest": listed, "test_data": "keep"},
    )
    assert response.status_code == 302
    assert trail.new() == [("adapter.import_images", "owner", "audited")]
    detail = trail.entries()[0].detail
    assert (detail["source"], detail["manifest"], detail["added"]) == ("manifest", "train.manifest", 1)


def test_it_records_labels_with_the_images_they_changed(client, annotator, adapter):
    image = adapter.images.order_by("pk").first()
    trail = Trail()
    response = login(client, annotator).post(
        reverse("projects-label-images", args=[adapter.project_id, adapter.pk]),
        {"image": [image.pk], "action": "add", "label": ["Alcohol"]},
    )
    assert response.status_code == 302
    assert trail.new() == [("image.label", "annotator", "audited")]
    assert trail.entries()[0].detail["images"] == [image.pk]
    assert trail.entries()[0].detail["add"] == ["Alcohol"]


def test_it_records_verdicts_reviews_and_undos(client, annotator, job):
    login(client, annotator)
    trail = Trail()
    client.post(
        reverse("verify-verdict", args=[job.pk, 1]),
        {"label": "Alcohol", "verdict": "correct", "threshold": 50},
    )
    client.post(reverse("verify-review", args=[job.pk, 2]), {"threshold": 50})
    client.post(
        reverse("verify-undo", args=[job.pk, 1]), {"label": "Alcohol", "expected": "correct", "restore": ""}
    )
    assert trail.new() == [
        ("verification.verdict", "annotator", "audited"),
        ("verification.review", "annotator", "audited"),
        ("verification.undo", "annotator", "audited"),
    ]
    verdict = trail.entries()[0].detail
    assert (verdict["line"], verdict["label"], verdict["verdict"]) == (1, "Alcohol", "correct")


def test_it_records_training_start_and_completion(client, owner, project):
    adapter = adapter_services.create_adapter(user=owner, project=project, name="to-train")
    add_dataset(adapter, 12, 12)
    trail = Trail()
    response = login(client, owner).post(
        reverse("adapters-train", args=[adapter.pk]),
        {"confidence_threshold": "50", "encryption": "default", "tag_key": "team", "tag_value": "ts"},
    )
    assert response.status_code == 302
    assert trail.new() == [("adapter.train", "owner", "audited")]
    assert trail.entries()[0].detail["tags"] == {"team": "ts"}

    trail = Trail()
    train_adapter(adapter.pk)  # the task, run here as the worker runs it
    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.TRAINING_COMPLETED, adapter.status_message
    assert trail.new() == [("adapter.training_completed", None, "audited")]


def test_it_records_a_failed_training_with_its_reason(client, owner, project):
    adapter = adapter_services.create_adapter(user=owner, project=project, name="to-fail")
    add_dataset(adapter, 12, 12)
    login(client, owner).post(
        reverse("adapters-train", args=[adapter.pk]), {"confidence_threshold": "50", "encryption": "default"}
    )
    adapter.refresh_from_db()
    default_storage.delete(adapter.training_manifest)  # the frozen dataset is gone: a permanent failure

    trail = Trail()
    train_adapter(adapter.pk)
    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.TRAINING_FAILED
    assert trail.new() == [("adapter.training_failed", None, "audited")]
    assert trail.entries()[0].detail["message"] == adapter.status_message


def test_it_records_bulk_jobs_created_and_started(client, owner, trained):
    login(client, owner)
    trail = Trail()
    response = client.post(
        reverse("bulk-new"),
        {
            "adapter": trained.pk,
            "name": "audited-job",
            "min_confidence": "60",
            "source": "computer",
            "images": [upload("g.jpg", 7)],
        },
    )
    assert response.status_code == 302
    job = BulkAnalysisJob.objects.get(name="audited-job")
    assert trail.new() == [("bulk.create", "owner", "audited")]
    assert trail.entries()[0].object_id == str(job.pk)

    trail = Trail()
    assert client.post(reverse("bulk-start", args=[job.pk])).status_code == 302
    assert trail.new() == [("bulk.start", "owner", "audited")]
    assert trail.entries()[0].detail["images"] == 1


def test_it_records_deletions_and_keeps_the_project_name(client, owner, project, adapter):
    login(client, owner)
    trail = Trail()
    assert client.post(reverse("adapters-delete", args=[adapter.pk])).status_code == 302
    assert trail.new() == [("adapter.delete", "owner", "audited")]

    trail = Trail()
    assert client.post(reverse("projects-delete", args=[project.pk])).status_code == 302
    assert trail.new() == [("project.delete", "owner", "audited")]
    entry = trail.entries()[0]
    assert entry.project is None and entry.detail["arn"] == project.arn
    # The project is gone; its trail is still there, named.
    assert AuditEntry.objects.filter(project_name="audited", action="adapter.create").exists()
    page = client.get(reverse("console-audit")).content.decode()
    assert "project.delete" in page and "audited" in page


def test_it_records_api_keys_made_and_revoked(client, viewer):
    login(client, viewer)
    trail = Trail()
    client.post(reverse("console-api-keys-create"), {"name": "script"})
    key = ApiKey.objects.get(user=viewer)
    client.post(reverse("console-api-keys-revoke", args=[key.pk]))
    assert trail.new() == [("apikey.create", "viewer", ""), ("apikey.revoke", "viewer", "")]
    assert all(entry.object_id == str(key.pk) for entry in trail.entries())
    assert key.secret not in str([entry.detail for entry in trail.entries()])  # never the secret


def test_a_refused_change_records_nothing(client, viewer, annotator, adapter):
    image = adapter.images.order_by("pk").first()
    trail = Trail()
    login(client, viewer).post(
        reverse("projects-label-images", args=[adapter.project_id, adapter.pk]),
        {"image": [image.pk], "action": "safe"},
    )
    login(client, annotator).post(reverse("adapters-delete", args=[adapter.pk]))
    assert trail.new() == []


# ---------------------------------------------------------------- where the trail is read


def test_the_project_page_links_to_its_own_trail(client, viewer, owner, project, adapter):
    other = project_services.create_project(user=owner, name="elsewhere")
    login(client, viewer)
    page = client.get(reverse("projects-detail", args=[project.pk])).content.decode()
    link = f"{reverse('console-audit')}?project={project.pk}"
    assert f'href="{link}"' in page

    trail = client.get(link).content.decode()
    assert "adapter.import_images" in trail and "adapter.create" in trail
    assert "elsewhere" not in trail
    assert "owner" in trail  # who
    elsewhere = client.get(f"{reverse('console-audit')}?project={other.pk}").content.decode()
    assert "project.create" in elsewhere and "adapter.import_images" not in elsewhere


def test_the_console_cannot_edit_the_trail(client, owner, project):
    before = list(AuditEntry.objects.values_list("pk", "action", "user_id", "project_name", "detail"))
    login(client, owner)
    for method in ("post", "put", "patch", "delete"):
        response = getattr(client, method)(reverse("console-audit"), {"action": "forged"})
        assert response.status_code == 405, method
    assert list(AuditEntry.objects.values_list("pk", "action", "user_id", "project_name", "detail")) == before


def test_the_admin_shows_the_trail_read_only(client, staff, owner, project):
    entry = AuditEntry.objects.get(action="project.create")
    login(client, staff)
    changelist = client.get(reverse("admin:console_auditentry_changelist"))
    assert changelist.status_code == 200 and "project.create" in changelist.content.decode()
    assert 'name="action"' not in changelist.content.decode()  # no bulk actions (delete selected)
    view = client.get(reverse("admin:console_auditentry_change", args=[entry.pk]))
    assert view.status_code == 200
    assert 'name="_save"' not in view.content.decode()  # a view, not a form

    forged = {"action": "forged", "object_type": "x", "object_id": "1", "project_name": "forged"}
    assert client.post(reverse("admin:console_auditentry_change", args=[entry.pk]), forged).status_code == 403
    assert client.post(reverse("admin:console_auditentry_add"), forged).status_code == 403
    assert (
        client.post(reverse("admin:console_auditentry_delete", args=[entry.pk]), {"post": "yes"}).status_code
        == 403
    )
    entry.refresh_from_db()
    assert (entry.action, entry.project_name) == ("project.create", "audited")
    assert AuditEntry.objects.filter(action="forged").count() == 0
