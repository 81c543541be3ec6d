"""Suspected label errors: the check in the worker (its task run here), the page, the one-click
fix through the dataset's undoable, audited labeling, and who may do what."""

import socket
import subprocess
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from adapters.models import DatasetCount, Image
from console.models import AuditEntry, Lease
from quality import services
from quality.models import LabelCheck, SuspectedLabelError
from quality.tasks import fail_lost_label_checks, find_label_errors
from tests.adapters.conftest import add_dataset, add_image, alcohol_image

pytestmark = pytest.mark.django_db


def done_check(adapter, images, *, given=True):
    """A finished check suspecting `images`' Alcohol labels (made here, not by the worker)."""
    check = LabelCheck.objects.create(
        adapter=adapter, status=LabelCheck.Status.DONE, images=len(images), found=len(images)
    )
    for n, image in enumerate(images):
        SuspectedLabelError.objects.create(
            label_check=check, image=image, label="Alcohol", given=given, probability=0.1, score=0.9 - n / 100
        )
    return check


def test_it_finds_the_planted_errors_of_a_dataset_in_the_worker(owner, adapter):
    add_dataset(adapter, 20, 20)
    # 10 % of the concept's labels flipped: two bottles labeled safe.
    planted = list(adapter.images.filter(original_name__in=["train-alcohol-3.jpg", "train-alcohol-11.jpg"]))
    for image in planted:
        image.labels.all().delete()
        Image.objects.filter(pk=image.pk).update(label_state=Image.LabelState.SAFE)
    add_image(adapter, alcohol_image(99), name="unlabeled.jpg")  # not labeled: not checked

    check = services.start_check(user=owner, adapter=adapter)
    assert services.start_check(user=owner, adapter=adapter) == check  # a second click starts nothing
    find_label_errors(check.pk)  # the task, run here as the worker runs it

    check.refresh_from_db()
    assert check.status == LabelCheck.Status.DONE, check.error
    assert check.images == 40 and check.done == check.total and check.finished_at
    suspects = list(check.suspects.all())
    assert {s.image_id for s in suspects[:2]} == {i.pk for i in planted}, [
        (s.image, s.score) for s in suspects
    ]
    assert all((s.label, s.given) == ("Alcohol", False) for s in suspects[:2])
    find_label_errors(check.pk)  # delivered twice: the second run finds it DONE and writes nothing
    check.refresh_from_db()
    assert check.suspects.count() == check.found == len(suspects)  # the pages' count, stored


def test_it_finishes_with_no_suspects_when_no_label_has_enough_images(owner, adapter):
    add_dataset(adapter, 2, 8)
    check = services.start_check(user=owner, adapter=adapter)
    find_label_errors(check.pk)
    check.refresh_from_db()
    assert check.status == LabelCheck.Status.DONE
    assert check.suspects.count() == check.found == 0


def test_it_shows_the_suspects_with_what_the_label_is_and_what_the_model_expects(client, viewer, adapter):
    add_dataset(adapter, 2, 2)
    bottles = list(adapter.images.filter(label_state=Image.LabelState.LABELED))
    done_check(adapter, bottles)
    client.force_login(viewer)
    response = client.get(reverse("quality-label-errors", args=[adapter.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Suspected label errors: 2" in body
    assert reverse("projects-image-thumbnail", args=[bottles[0].pk]) in body
    assert bottles[0].original_name in body and "not Alcohol" in body
    assert "hx-trigger" not in body  # finished: no polling
    # A viewer reads but gets no button that changes anything.
    assert "Find suspected label errors</button>" not in body and "Remove Alcohol" not in body


def test_it_polls_only_while_the_check_runs(client, annotator, adapter):
    check = LabelCheck.objects.create(adapter=adapter, status=LabelCheck.Status.RUNNING, total=10, done=4)
    client.force_login(annotator)
    url = reverse("quality-label-errors", args=[adapter.pk])
    body = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert 'hx-trigger="every 2s"' in body and "40" in body
    check.transition([LabelCheck.Status.RUNNING], LabelCheck.Status.DONE)
    body = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in body and "Suspected label errors: 0" in body


def test_it_starts_a_check_for_annotators_and_managers_only(client, owner, annotator, viewer, adapter):
    url = reverse("quality-label-errors-start", args=[adapter.pk])
    client.force_login(viewer)
    assert client.post(url).status_code == 403
    assert not LabelCheck.objects.exists()
    for user in (annotator, owner):
        client.force_login(user)
        response = client.post(url)
        assert response.status_code == 302 and response.url == reverse(
            "quality-label-errors", args=[adapter.pk]
        )
    check = LabelCheck.objects.get()  # the annotator's; the manager's click found it queued
    assert check.status == LabelCheck.Status.QUEUED and check.created_by == annotator
    assert AuditEntry.objects.filter(action="label_check.start", user=annotator).count() == 1
    assert client.get(url).status_code == 405  # a POST-only action


def test_it_fixes_a_label_in_one_click_audited_and_undoable(client, annotator, adapter):
    add_dataset(adapter, 2, 2)
    bottle = adapter.images.filter(label_state=Image.LabelState.LABELED).first()
    safe = adapter.images.filter(label_state=Image.LabelState.SAFE).first()
    check = done_check(adapter, [bottle])
    missing = SuspectedLabelError.objects.create(
        label_check=check, image=safe, label="Alcohol", given=False, probability=0.95, score=0.95
    )
    LabelCheck.objects.filter(pk=check.pk).update(found=2)  # as the check counts what it writes
    client.force_login(annotator)
    page = client.get(reverse("quality-label-errors", args=[adapter.pk])).content.decode()
    assert "csrfmiddlewaretoken" in page and "Remove Alcohol" in page and "Add Alcohol" in page

    suspect = check.suspects.get(image=bottle)
    response = client.post(reverse("quality-suspect-fix", args=[suspect.pk]))
    assert response.status_code == 302
    bottle.refresh_from_db()
    assert bottle.label_state == Image.LabelState.SAFE and bottle.label_names == []  # its only label: safe
    entry = AuditEntry.objects.filter(action="image.label").latest("pk")
    assert entry.user == annotator and entry.detail["images"] == [bottle.pk] and entry.detail["safe"]
    suspect.refresh_from_db()
    assert suspect.fixed_at and suspect.undo_token
    assert "Undo</button>" in client.get(reverse("quality-label-errors", args=[adapter.pk])).content.decode()

    client.post(reverse("quality-suspect-fix", args=[missing.pk]))
    safe.refresh_from_db()
    assert safe.label_state == Image.LabelState.LABELED and safe.label_names == ["Alcohol"]

    client.post(reverse("quality-suspect-undo", args=[suspect.pk]))
    bottle.refresh_from_db()
    assert bottle.label_state == Image.LabelState.LABELED and bottle.label_names == ["Alcohol"]
    assert AuditEntry.objects.filter(action="image.label_undo", user=annotator).count() == 1
    suspect.refresh_from_db()
    assert suspect.fixed_at is None and suspect.undo_token == ""


def test_it_refuses_fixes_to_viewers_and_pages_to_strangers(client, viewer, adapter):
    add_dataset(adapter, 2, 2)
    bottle = adapter.images.filter(label_state=Image.LabelState.LABELED).first()
    suspect = done_check(adapter, [bottle]).suspects.get()
    response = client.get(reverse("quality-label-errors", args=[adapter.pk]))
    assert response.status_code == 302 and "login" in response.url  # every page requires login
    client.force_login(viewer)
    assert client.post(reverse("quality-suspect-fix", args=[suspect.pk])).status_code == 403
    assert client.post(reverse("quality-suspect-undo", args=[suspect.pk])).status_code == 403
    bottle.refresh_from_db()
    assert bottle.label_names == ["Alcohol"]
    assert client.get(reverse("quality-label-errors", args=[adapter.pk + 1000])).status_code == 404


def test_the_assign_labels_page_and_the_training_tab_link_the_list(client, viewer, adapter):
    client.force_login(viewer)
    link = reverse("quality-label-errors", args=[adapter.pk])
    labels = client.get(reverse("projects-labels", args=[adapter.project.pk, adapter.pk]))
    training = client.get(reverse("adapters-detail", args=[adapter.pk]), {"tab": "training"})
    assert link in labels.content.decode() and link in training.content.decode()


def test_the_labeling_grid_filter_menu_counts_and_links_the_suspects(client, viewer, adapter):
    add_dataset(adapter, 2, 2)
    DatasetCount.objects.recount(adapter)  # add_dataset writes rows, not the counters the grid reads
    grid = reverse("projects-labels", args=[adapter.project_id, adapter.pk])
    client.force_login(viewer)
    body = client.get(grid).content.decode()
    assert 'Suspected label errors</span><span class="count">not checked</span>' in body
    done_check(adapter, list(adapter.images.filter(label_state=Image.LabelState.LABELED)))
    body = client.get(grid).content.decode()
    link = f'<a href="{reverse("quality-label-errors", args=[adapter.pk])}" id="label-errors-filter">'
    assert link in body and "<span>Suspected label errors: 2</span>" in body


def dead_workers_lease(check) -> None:
    """The lease a worker process of this host held on the check when it died."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    now = timezone.now()
    Lease.objects.create(
        key=services.check_key(check.pk),
        worker=f"{socket.gethostname()}:{proc.pid}",
        taken_at=now,
        expires_at=now + timedelta(minutes=5),
    )


def test_a_check_holds_a_lease_while_it_runs_and_lets_it_go(owner, adapter):
    add_dataset(adapter, 2, 2)
    check = services.start_check(user=owner, adapter=adapter)
    now = timezone.now()
    living = Lease.objects.create(
        key=services.check_key(check.pk),
        worker="elsewhere:1",
        taken_at=now,
        expires_at=now + timedelta(minutes=5),
    )
    find_label_errors(check.pk)  # a living worker holds it: this delivery does nothing
    check.refresh_from_db()
    assert check.status == LabelCheck.Status.QUEUED
    living.delete()
    find_label_errors(check.pk)
    check.refresh_from_db()
    assert check.status == LabelCheck.Status.DONE and not Lease.objects.exists()


def test_a_check_delivered_again_after_its_worker_died_is_failed_and_audited(owner, adapter):
    add_dataset(adapter, 2, 2)
    check = services.start_check(user=owner, adapter=adapter)
    LabelCheck.objects.filter(pk=check.pk).update(status=LabelCheck.Status.RUNNING)
    dead_workers_lease(check)
    find_label_errors(check.pk)  # as a worker runs the redelivered task
    check.refresh_from_db()
    assert check.status == LabelCheck.Status.FAILED and "worker running the check was lost" in check.error
    assert not check.suspects.exists() and not Lease.objects.exists()
    assert AuditEntry.objects.filter(action="label_check.worker_lost").count() == 1


def test_the_periodic_check_fails_checks_whose_lease_ran_out(owner, adapter):
    check = services.start_check(user=owner, adapter=adapter)
    LabelCheck.objects.filter(pk=check.pk).update(status=LabelCheck.Status.RUNNING)
    past = timezone.now() - timedelta(hours=1)
    Lease.objects.create(
        key=services.check_key(check.pk), worker="elsewhere:1", taken_at=past, expires_at=past
    )
    assert fail_lost_label_checks() == [check.pk]
    check.refresh_from_db()
    assert check.status == LabelCheck.Status.FAILED
    assert fail_lost_label_checks() == []  # nothing left to take over
    assert AuditEntry.objects.filter(action="label_check.worker_lost").count() == 1
