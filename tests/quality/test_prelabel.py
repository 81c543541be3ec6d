"""Pre-labeling: a model's suggested labels for the unlabeled images (the task run here as the
worker runs it, with the local engine), shown on the grid apart from labels, accepted above a
confidence in one undoable, audited action; the rest left for people, most uncertain first; and
never in a training manifest until accepted."""

import signal
import socket
import subprocess
from datetime import timedelta

import pytest
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from adapters import datasets
from adapters import services as adapter_services
from adapters.models import Adapter, DatasetCount, Image
from adapters.tasks import train_adapter
from console.models import AuditEntry, Lease
from moderation import manifests
from quality import services
from quality.models import LabelSuggestion, PreLabelRun
from quality.tasks import prelabel
from tests.adapters.conftest import add_dataset, add_image, alcohol_image, make_adapter, safe_image
from tests.adapters.conftest import trained as trained  # noqa: F401 - a fixture
from tests.conftest import wait_for
from tests.perf.test_bulk_results import _plans

pytestmark = pytest.mark.django_db


def suggest(adapter, images, confidences, labels=("Alcohol",)):
    """A finished run's suggestions (made here, not by the worker): `labels` at each confidence."""
    run = PreLabelRun.objects.create(
        adapter=adapter, source_name="Base model", status=PreLabelRun.Status.DONE, total=len(images)
    )
    for image, confidence in zip(images, confidences, strict=True):
        LabelSuggestion.objects.create(run=run, image=image, labels=list(labels), confidence=confidence)
    DatasetCount.objects.recount(adapter)  # add_image writes rows, not the counters the grid reads
    return run


def unlabeled(adapter, n, start=0):
    return [add_image(adapter, alcohol_image(50 + i), name=f"new-{i}.jpg") for i in range(start, start + n)]


def grid(adapter, query=""):
    url = reverse("projects-labels", args=[adapter.project_id, adapter.pk])
    return f"{url}?{query}" if query else url


def test_it_suggests_labels_for_every_unlabeled_image_with_the_base_model_in_the_worker(owner, adapter):
    add_dataset(adapter, 2, 2)
    new = unlabeled(adapter, 3)
    run = services.start_prelabel(user=owner, adapter=adapter, source=None)
    assert services.start_prelabel(user=owner, adapter=adapter, source=None) == run  # a second click
    prelabel(run.pk)  # the task, run here as the worker runs it

    run.refresh_from_db()
    assert run.status == PreLabelRun.Status.DONE, run.error
    assert (run.total, run.done, run.failed) == (3, 3, 0) and run.finished_at
    found = {s.image_id: s for s in LabelSuggestion.objects.all()}
    assert set(found) == {image.pk for image in new}  # labeled images get none
    for suggestion in found.values():
        assert 50 <= suggestion.confidence <= 100
        assert all(name in suggestion.scores for name in suggestion.labels)
    # Suggestions are not labels: the images are still unlabeled.
    assert Image.objects.filter(pk__in=found, label_state=Image.LabelState.UNLABELED).count() == 3
    assert not Lease.objects.exists()  # the run's lease is let go
    assert AuditEntry.objects.filter(action="prelabel.start", user=owner).count() == 1
    prelabel(run.pk)  # delivered twice: the second run finds it DONE
    assert LabelSuggestion.objects.count() == 3


def test_it_pre_labels_with_a_trained_adapter_of_the_project(owner, project, adapter):
    add_dataset(adapter, 12, 12)
    adapter_services.start_training(user=owner, adapter=adapter)
    train_adapter(adapter.pk)
    adapter.refresh_from_db()
    assert adapter.status == Adapter.Status.TRAINING_COMPLETED, adapter.status_message
    draft = make_adapter(project, "v2")
    bottles = [add_image(draft, alcohol_image(200 + i), name=f"b{i}.jpg") for i in range(3)]
    hills = [add_image(draft, safe_image(200 + i), name=f"h{i}.jpg") for i in range(3)]

    run = services.start_prelabel(user=owner, adapter=draft, source=adapter)
    prelabel(run.pk)
    run.refresh_from_db()
    assert run.status == PreLabelRun.Status.DONE, run.error
    assert run.source_name == adapter.name and run.done == 6
    for image in bottles:
        assert "Alcohol" in LabelSuggestion.objects.get(image=image).labels
    for image in hills:
        assert "Alcohol" not in LabelSuggestion.objects.get(image=image).labels


def test_it_fails_the_run_with_the_reason_when_the_model_cannot_answer(owner, project, adapter, trained):
    unlabeled(adapter, 2)
    # A trained adapter whose artifact is not there: not one image can be answered.
    run = services.start_prelabel(user=owner, adapter=adapter, source=trained)
    prelabel(run.pk)
    run.refresh_from_db()
    assert run.status == PreLabelRun.Status.FAILED
    assert run.error.startswith(f"{trained.name} could not suggest labels")
    assert not LabelSuggestion.objects.exists()


def test_it_refuses_a_source_of_another_project_or_not_trained_and_a_frozen_dataset(owner, project, adapter):
    draft = make_adapter(project, "v2")
    with pytest.raises(Exception, match="Pre-label with"):
        services.start_prelabel(user=owner, adapter=adapter, source=draft)
    frozen = make_adapter(project, "v3", status=Adapter.Status.TRAINING_COMPLETED)
    with pytest.raises(Exception, match="frozen"):
        services.start_prelabel(user=owner, adapter=frozen, source=None)
    assert not PreLabelRun.objects.exists()


def test_a_run_whose_worker_died_is_resumed_once_and_audited(owner, adapter):
    new = unlabeled(adapter, 2)
    run = services.start_prelabel(user=owner, adapter=adapter, source=None)
    PreLabelRun.objects.filter(pk=run.pk).update(status=PreLabelRun.Status.RUNNING, total=2)
    proc = subprocess.Popen(["true"])  # a worker process of this host that is gone
    proc.wait()
    now = timezone.now()
    Lease.objects.create(
        key=services.prelabel_key(run.pk),
        worker=f"{socket.gethostname()}:{proc.pid}",
        taken_at=now,
        expires_at=now + timedelta(minutes=5),
    )
    prelabel(run.pk)  # the task delivered again after its worker died
    run.refresh_from_db()
    assert run.status == PreLabelRun.Status.DONE and run.attempts == 1 and run.done == 2
    assert set(LabelSuggestion.objects.values_list("image_id", flat=True)) == {i.pk for i in new}
    assert AuditEntry.objects.filter(action="prelabel.worker_lost").count() == 1


def test_it_does_nothing_while_a_living_worker_holds_the_run(owner, adapter):
    unlabeled(adapter, 1)
    run = services.start_prelabel(user=owner, adapter=adapter, source=None)
    now = timezone.now()
    Lease.objects.create(
        key=services.prelabel_key(run.pk),
        worker="elsewhere:1",
        taken_at=now,
        expires_at=now + timedelta(minutes=5),
    )
    prelabel(run.pk)
    run.refresh_from_db()
    assert run.status == PreLabelRun.Status.QUEUED and not LabelSuggestion.objects.exists()


def test_a_run_that_lost_its_worker_too_often_fails(owner, adapter):
    run = services.start_prelabel(user=owner, adapter=adapter, source=None)
    PreLabelRun.objects.filter(pk=run.pk).update(
        status=PreLabelRun.Status.RUNNING, attempts=services.MAX_PRELABEL_ATTEMPTS - 1
    )
    past = timezone.now() - timedelta(hours=1)
    Lease.objects.create(
        key=services.prelabel_key(run.pk), worker="elsewhere:1", taken_at=past, expires_at=past
    )
    assert services.resume_lost_prelabels() == {"requeued": [], "failed": [run.pk]}
    run.refresh_from_db()
    assert run.status == PreLabelRun.Status.FAILED and "lost 3 times" in run.error


class OutOfTimeStorage(FileSystemStorage):
    """Files on disk whose reads outlast the task's soft time limit (the soft_time_limit fixture)."""

    def _open(self, name, mode="rb"):
        signal.raise_signal(signal.SIGUSR1)
        return super()._open(name, mode)


def test_the_task_fails_the_run_at_its_soft_time_limit(owner, adapter, settings, files, soft_time_limit):
    unlabeled(adapter, 1)
    run = services.start_prelabel(user=owner, adapter=adapter, source=None)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}.OutOfTimeStorage", "OPTIONS": {"location": str(files)}},
    }
    prelabel(run.pk)
    run.refresh_from_db()
    assert run.status == PreLabelRun.Status.FAILED and run.error.startswith("Pre-labeling took longer than")
    assert not Lease.objects.exists()
    assert prelabel.soft_time_limit < prelabel.time_limit


def test_the_grid_shows_suggestions_apart_from_labels_and_filters_them_most_uncertain_first(
    client, viewer, adapter
):
    add_dataset(adapter, 1, 1)
    sure, unsure, middle = unlabeled(adapter, 3)
    client.force_login(viewer)
    assert (
        'Suggestions to review</span><span class="count">none</span>'
        in client.get(grid(adapter)).content.decode()
    )
    suggest(adapter, [sure, unsure, middle], [97.0, 55.0, 80.0])
    body = client.get(grid(adapter)).content.decode()
    assert body.count('class="chip suggested"') == 3 and "Suggested (97 %)" in body
    assert 'id="suggestions-filter"' in body and "Suggestions to review</span></a>" in body
    assert "Suspected label errors" in body and reverse("quality-label-errors", args=[adapter.pk]) in body
    assert 'id="accept-suggestions"' not in body  # a viewer reads only

    body = client.get(grid(adapter, "state=suggested")).content.decode()
    names = [n for n in ("new-1.jpg", "new-2.jpg", "new-0.jpg") if n in body]
    assert names == ["new-1.jpg", "new-2.jpg", "new-0.jpg"]
    assert [body.index(n) for n in names] == sorted(body.index(n) for n in names)  # most uncertain first
    assert "3 images match" in body and "train-alcohol-0.jpg" not in body


def test_it_accepts_the_suggestions_above_a_confidence_audited_and_undoable(client, annotator, adapter):
    sure, unsure, safe = unlabeled(adapter, 3)
    suggest(adapter, [sure, unsure], [95.0, 60.0])
    suggest(adapter, [safe], [99.0], labels=())
    client.force_login(annotator)
    page = client.get(grid(adapter)).content.decode()
    assert 'id="accept-suggestions"' in page and "csrfmiddlewaretoken" in page

    url = reverse("quality-suggestions-accept", args=[adapter.pk])
    response = client.post(url, {"min_confidence": "90", "q": ""}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "2 suggestions accepted as labels." in body and 'id="undo-labels"' in body
    for image in (sure, unsure, safe):
        image.refresh_from_db()
    assert sure.label_state == Image.LabelState.LABELED and sure.label_names == ["Alcohol"]
    assert safe.label_state == Image.LabelState.SAFE
    assert unsure.label_state == Image.LabelState.UNLABELED  # left for people
    entries = AuditEntry.objects.filter(action="image.label_suggestion_accept", user=annotator)
    assert entries.count() == 2  # one per distinct suggestion: Alcohol, and safe
    assert {pk for e in entries for pk in e.detail["images"]} == {sure.pk, safe.pk}
    assert not AuditEntry.objects.filter(action="image.label").exists()
    assert LabelSuggestion.objects.get(image=sure).accepted_by == annotator

    token = body.split('name="undo" value="')[1].split('"')[0]
    undo = reverse("projects-label-images", args=[adapter.project_id, adapter.pk])
    client.post(undo, {"action": "undo", "undo": token, "q": ""}, headers={"HX-Request": "true"})
    sure.refresh_from_db()
    assert sure.label_state == Image.LabelState.UNLABELED and not sure.label_names
    assert "3 images match" in client.get(grid(adapter, "state=suggested")).content.decode()


def test_it_asks_first_when_accepting_more_than_a_page(client, annotator, adapter):
    images = unlabeled(adapter, 25)
    suggest(adapter, images, [95.0] * 25)
    client.force_login(annotator)
    url = reverse("quality-suggestions-accept", args=[adapter.pk])
    body = client.post(
        url, {"min_confidence": "90", "q": "per_page=24"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert 'id="confirm-accept"' in body and "Accept 25 suggestions" in body
    assert not Image.objects.filter(label_state=Image.LabelState.LABELED).exists()
    body = client.post(
        url, {"min_confidence": "90", "q": "per_page=24", "confirmed": "on"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "25 suggestions accepted" in body
    assert Image.objects.filter(label_state=Image.LabelState.LABELED).count() == 25


def test_it_refuses_a_confidence_out_of_range_and_none_that_sure(client, annotator, adapter):
    suggest(adapter, unlabeled(adapter, 1), [70.0])
    client.force_login(annotator)
    url = reverse("quality-suggestions-accept", args=[adapter.pk])
    response = client.post(url, {"min_confidence": "20"}, headers={"HX-Request": "true"})
    assert response.status_code == 400 and "from 50 to 100" in response.content.decode()
    response = client.post(url, {"min_confidence": "90"}, headers={"HX-Request": "true"})
    assert response.status_code == 400 and "none is at 90 %" in response.content.decode()


def test_only_annotators_and_managers_pre_label_and_accept(client, owner, annotator, viewer, adapter):
    suggest(adapter, unlabeled(adapter, 1), [95.0])
    client.force_login(viewer)
    assert client.post(reverse("quality-prelabel-start", args=[adapter.pk])).status_code == 403
    assert (
        client.post(
            reverse("quality-suggestions-accept", args=[adapter.pk]), {"min_confidence": 90}
        ).status_code
        == 403
    )
    assert client.get(reverse("quality-prelabel", args=[adapter.pk])).status_code == 200
    assert client.get(reverse("quality-prelabel-start", args=[adapter.pk])).status_code == 405
    client.force_login(annotator)
    response = client.post(reverse("quality-prelabel-start", args=[adapter.pk]), {"source": ""})
    assert response.status_code == 302 and response.url == grid(adapter)
    assert PreLabelRun.objects.filter(status=PreLabelRun.Status.QUEUED, created_by=annotator).exists()


def test_the_status_fragment_polls_only_while_the_run_runs(client, viewer, adapter):
    run = PreLabelRun.objects.create(
        adapter=adapter, source_name="Base model", status="RUNNING", total=10, done=4
    )
    client.force_login(viewer)
    url = reverse("quality-prelabel", args=[adapter.pk])
    body = client.get(url).content.decode()
    assert 'hx-trigger="every 2s"' in body and "4 of 10 images" in body
    run.transition([PreLabelRun.Status.RUNNING], PreLabelRun.Status.DONE, done=10)
    body = client.get(url).content.decode()
    assert "hx-trigger" not in body and "Review suggestions" in body


def test_suggestions_never_reach_a_training_manifest(owner, adapter):
    add_dataset(adapter, 12, 12)
    accepted, overruled = unlabeled(adapter, 2)
    suggest(adapter, [accepted, overruled], [95.0, 60.0])
    services.accept_suggestions(user=owner, adapter=adapter, min_confidence=90)
    assert overruled.file not in datasets.export_manifest(adapter=adapter)  # still unlabeled: not in it
    # A person decides otherwise than the suggestion left for them: the person's label is trained on.
    datasets.set_labels(user=owner, images=[overruled], safe=True)

    adapter_services.start_training(user=owner, adapter=adapter)
    adapter.refresh_from_db()
    with default_storage.open(adapter.training_manifest, "rb") as fh:
        lines = {line.key: line.labels for line in manifests.read_groundtruth(fh.read(), name="train")}
    assert lines[accepted.file] == ["Alcohol"]  # an accepted suggestion is a label
    assert lines[overruled.file] == []  # the suggestion (Alcohol) is not


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_pre_labels_what_a_person_started(celery_worker_process, client, annotator, adapter):
    new = unlabeled(adapter, 3)
    client.force_login(annotator)
    client.post(reverse("quality-prelabel-start", args=[adapter.pk]), {"source": ""})  # enqueued on commit
    run = PreLabelRun.objects.get()

    def finished():
        run.refresh_from_db()
        return not run.is_running

    wait_for(finished, timeout=300, interval=0.5, message="the run to finish in the worker")
    assert run.status == PreLabelRun.Status.DONE, run.error
    assert set(LabelSuggestion.objects.values_list("image_id", flat=True)) == {i.pk for i in new}
    assert not Lease.objects.exists()


def test_the_suggested_filter_starts_from_the_runs_suggestions_not_every_unlabeled_image(
    client, viewer, adapter
):
    """The 300 unlabeled images without a suggestion are not read (SQLite's plan)."""
    if connection.vendor != "sqlite":
        pytest.skip("reads SQLite's query plans")
    waiting = unlabeled(adapter, 3)
    Image.objects.bulk_create(
        Image(
            adapter=adapter, file=f"x/{i}.jpg", sha256=f"{i:064x}", size=1, width=1, height=1, format="JPEG"
        )
        for i in range(300)
    )
    suggest(adapter, waiting, [70.0, 60.0, 90.0])
    client.force_login(viewer)
    with CaptureQueriesContext(connection) as queries:
        body = client.get(grid(adapter, "state=suggested")).content.decode()
    assert "3 images match" in body
    plans = [
        plan
        for sql, plan in _plans(queries.captured_queries, "adapters_image")
        if '"adapters_image"."id" IN (SELECT' in sql
    ]
    assert len(plans) == 2  # the count and the page, each image looked up by a suggestion's image id
    assert all("label_state=? AND id=?" in plan and "LIST SUBQUERY" in plan for plan in plans), plans
