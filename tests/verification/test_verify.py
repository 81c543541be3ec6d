"""Verify predictions through the HTTP client: verdicts, undo, statistics, refusals, training."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from adapters.datasets import dataset_counts
from adapters.models import Adapter, Image
from console.models import AuditEntry
from projects.models import Project
from tests.bulk_analysis.conftest import finished_job
from verification import services
from verification.models import ImageReview, Verification

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(owner):
    return finished_job(
        owner,
        [{"Alcohol": 80.0}, {"Alcohol": 55.0, "Explicit": 70.0}, {}, {"Violence": 62.0}],
        min_confidence=50,
    )


def verdict(client, job, line, label, value, threshold=50, htmx=True):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(
        reverse("verify-verdict", args=[job.pk, line]),
        {"label": label, "verdict": value, "threshold": threshold},
        **headers,
    )


def stats(job, threshold=50):
    return {
        s.label: (s.tp, s.fp, s.fn, s.tn) for s in services.performance(job=job, threshold=threshold).labels
    }


def test_it_shows_each_image_with_its_labels_at_the_threshold(client, viewer, job):
    client.force_login(viewer)
    page = client.get(reverse("verify-job", args=[job.pk]), {"threshold": "60"}).content.decode()

    assert page.count('class="card verify-card"') == 4
    assert 'data-label="Alcohol"' in page and "Alcohol 80.0" in page
    assert "Alcohol 55.0" not in page  # below the threshold: not a prediction
    assert 'class="blurred"' in page  # the Explicit image
    assert "verify at least 20 false-positive predictions and 50 false-negative predictions" in page
    assert 'data-action="correct"' not in page  # a viewer sees no controls


def test_a_verdict_changes_the_text_under_the_image_and_the_statistics(client, annotator, job):
    client.force_login(annotator)

    correct = verdict(client, job, 1, "Alcohol", "correct").content.decode()
    wrong = verdict(client, job, 4, "Violence", "incorrect").content.decode()
    added = verdict(client, job, 3, "Gambling", "added").content.decode()
    safe = client.post(reverse("verify-review", args=[job.pk, 2]), {"threshold": 75}, HTTP_HX_REQUEST="true")

    assert "true positive" in correct and "false positive" in wrong and "false negative" in added
    assert "true negative" in safe.content.decode()
    assert stats(job)["Alcohol"] == (2, 0, 0, 2)  # image 2 reviewed as predicted: Alcohol 55 stays true
    assert stats(job)["Violence"] == (0, 1, 0, 3)
    assert stats(job)["Gambling"] == (0, 0, 1, 3)
    assert services.performance(job=job, threshold=50).labels[3].false_positive_rate == 0.25
    actions = list(AuditEntry.objects.filter(user=annotator).values_list("action", flat=True))
    assert actions.count("verification.verdict") == 3 and "verification.review" in actions
    panel = client.get(
        reverse("verify-job", args=[job.pk]), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="performance"
    )
    assert panel.content.decode().startswith('<section class="panel" id="performance"')


def test_it_filters_by_flag_category_verification_and_orders_least_sure_first(client, annotator, job):
    client.force_login(annotator)
    verdict(client, job, 1, "Alcohol", "correct")
    url = reverse("verify-job", args=[job.pk])

    def lines(**params):
        page = client.get(url, params).content.decode()
        return [int(chunk.split('"')[0]) for chunk in page.split('class="card verify-card" id="card-')[1:]]

    assert lines(flag="flagged") == [1, 2, 4]
    assert lines(flag="unflagged") == [3]
    assert lines(label="Violence") == [4]
    assert lines(status="verified") == [1] and lines(status="unverified") == [2, 3, 4]
    assert lines(order="least-sure", threshold=60) == [4, 2, 1, 3]


def test_it_refuses_bad_verdicts_and_members_who_may_not_verify(client, viewer, annotator, job):
    client.force_login(viewer)
    assert verdict(client, job, 1, "Alcohol", "correct").status_code == 403
    client.force_login(annotator)

    below = verdict(client, job, 2, "Alcohol", "correct", threshold=60).content.decode()
    low = verdict(client, job, 1, "Alcohol", "correct", threshold=10).content.decode()
    unknown = verdict(client, job, 1, "Cats", "added").content.decode()
    twice = verdict(client, job, 1, "Alcohol", "added").content.decode()

    assert "Alcohol is not predicted at threshold 60: add it as a missed label instead" in below
    assert "Verification" not in low and Verification.objects.get().threshold == 50  # clamped to the minimum
    assert "&#x27;Cats&#x27; is not a top-level moderation label" in unknown
    assert "already predicted at threshold 50: mark it correct instead" in twice
    assert client.get(reverse("verify-job", args=[job.pk + 99])).status_code == 404


def test_undo_restores_the_previous_verdict_but_never_another_reviewers(client, annotator, owner, job):
    client.force_login(annotator)
    verdict(client, job, 1, "Alcohol", "correct")
    verdict(client, job, 1, "Alcohol", "incorrect")
    undo = reverse("verify-undo", args=[job.pk, 1])

    client.post(undo, {"label": "Alcohol", "expected": "incorrect", "restore": "correct", "threshold": 50})
    assert Verification.objects.get().verdict == "correct"
    other = Client()
    other.force_login(owner)
    verdict(other, job, 1, "Alcohol", "incorrect")
    refused = client.post(
        undo,
        {"label": "Alcohol", "expected": "correct", "restore": "", "unreview": "1"},
        HTTP_HX_REQUEST="true",
    )

    assert "someone else has changed this verdict" in refused.content.decode()
    assert Verification.objects.get().verdict == "incorrect"
    assert AuditEntry.objects.filter(action="verification.undo").count() == 1


def test_two_reviewers_on_the_same_job_lose_no_verdict(annotator, owner, job):
    first, second = Client(), Client()
    first.force_login(annotator)
    second.force_login(owner)
    # Both loaded the page before either acted; they interleave on the same images and labels.
    first.get(reverse("verify-job", args=[job.pk]))
    second.get(reverse("verify-job", args=[job.pk]))
    verdict(first, job, 1, "Alcohol", "correct")
    verdict(second, job, 2, "Alcohol", "incorrect")
    verdict(second, job, 2, "Explicit", "correct")
    verdict(first, job, 2, "Gambling", "added")
    verdict(first, job, 4, "Violence", "correct")
    verdict(second, job, 4, "Violence", "incorrect")  # the later verdict on a label wins

    got = set(Verification.objects.values_list("prediction__line", "label", "verdict", "user__username"))
    assert got == {
        (1, "Alcohol", "correct", "annotator"),
        (2, "Alcohol", "incorrect", "owner"),
        (2, "Explicit", "correct", "owner"),
        (2, "Gambling", "added", "annotator"),
        (4, "Violence", "incorrect", "owner"),
    }
    assert ImageReview.objects.count() == 3
    assert AuditEntry.objects.filter(action="verification.verdict").count() == 6


def make_trainable(owner):
    """14 images: 7 predicted Alcohol (3 wrong, 4 right), 7 unflagged (2 missing Violence)."""
    job = finished_job(owner, [{"Alcohol": 80.0}] * 7 + [{}] * 7, name="to-train")
    rows = list(job.predictions.order_by("line"))
    for i, p in enumerate(rows):
        if i < 7:
            services.set_verdict(
                user=owner,
                prediction=p,
                label="Alcohol",
                verdict="incorrect" if i < 3 else "correct",
                threshold=50,
            )
        elif i < 9:
            services.set_verdict(user=owner, prediction=p, label="Violence", verdict="added", threshold=50)
        else:
            services.mark_reviewed(user=owner, prediction=p)
    return job


def test_it_refuses_training_before_the_minimums_are_met(owner_client, owner, job):
    response = owner_client.post(
        reverse("verify-train", args=[job.pk]),
        {
            "project_choice": "new",
            "project_name": "from-bulk",
            "adapter_name": "v1",
            "confidence_threshold": 50,
            "test_data": "autosplit",
            "encryption": "default",
            "auto_update": "on",
        },
    )

    assert "Not enough verified predictions to train" in response.content.decode()
    assert not Project.objects.exists()


def test_it_trains_an_adapter_from_the_verified_ground_truth(owner_client, owner, annotator):
    job = make_trainable(owner)
    page = owner_client.get(reverse("verify-job", args=[job.pk])).content.decode()
    assert 'id="train-ready"' in page
    other = Client()
    other.force_login(annotator)
    assert other.get(reverse("verify-train", args=[job.pk])).status_code == 403

    response = owner_client.post(
        reverse("verify-train", args=[job.pk]),
        {
            "project_choice": "new",
            "project_name": "from-bulk",
            "adapter_name": "v1",
            "confidence_threshold": 50,
            "test_data": "autosplit",
            "encryption": "default",
            "auto_update": "on",
            "tag_key": ["team"],
            "tag_value": ["trust"],
        },
    )

    adapter = Adapter.objects.get(name="v1")
    assert response.status_code == 302 and response["Location"] == reverse(
        "adapters-detail", args=[adapter.pk]
    )
    assert adapter.status == "TRAINING_IN_PROGRESS" and adapter.tags == {"team": "trust"}
    assert adapter.project.name == "from-bulk" and adapter.project.auto_update
    images = list(adapter.images.order_by("id"))
    assert len(images) == 14 and {i.source for i in images} == {Image.Source.VERIFICATION}
    truth = [sorted(i.label_names) for i in images]
    assert truth == [[]] * 3 + [["Alcohol"]] * 4 + [["Violence"]] * 2 + [[]] * 5
    assert [i.label_state for i in images][:4] == ["safe", "safe", "safe", "labeled"]
    assert AuditEntry.objects.filter(action="verification.train", object_id=str(adapter.pk)).exists()
    # The new dataset's counters (the labeling page's facets) were kept with it.
    assert (
        dataset_counts(adapter)
        == dataset_counts(adapter, fresh=True)
        == {
            ("train", "state:safe"): 8,
            ("train", "state:labeled"): 6,
            ("train", "label:Alcohol"): 4,
            ("train", "label:Violence"): 2,
        }
    )


# ------------------------------------------------------------------ cost at any job size


def test_the_page_reads_verdicts_by_job_and_counts_pages_from_the_histograms(client, annotator, owner):
    tops = [{"Alcohol": 80.0}, {}, {"Violence": 62.0, "Alcohol": 51.0}] * 20  # 60 images
    job = finished_job(owner, tops, name="paged", min_confidence=50)
    services.set_verdict(
        user=owner, prediction=job.predictions.get(line=1), label="Alcohol", verdict="correct", threshold=50
    )
    services.mark_reviewed(user=owner, prediction=job.predictions.get(line=2))
    assert set(Verification.objects.values_list("job_id", flat=True)) == {job.pk}
    assert set(ImageReview.objects.values_list("job_id", flat=True)) == {job.pk}
    client.force_login(annotator)
    cases = {
        (): 3,  # 60 images, 24 a page
        (("flag", "flagged"),): 2,  # 40
        (("flag", "unflagged"),): 1,  # 20
        (("label", "Alcohol"), ("threshold", "60")): 1,  # 20
        (("status", "verified"),): 1,
        (("status", "unverified"),): 3,  # 58
        (("status", "unverified"), ("flag", "flagged")): 2,  # 39
    }
    for params, pages in cases.items():
        with CaptureQueriesContext(connection) as ctx:
            page = client.get(reverse("verify-job", args=[job.pk]), dict(params)).content.decode()
        sql = [q["sql"] for q in ctx.captured_queries]
        assert not [q for q in sql if "COUNT(" in q and "prediction" in q and "IN (" not in q], params
        assert not [q for q in sql if "verification_" in q and "JOIN" in q], params  # by the job index
        assert (f"Page 1 of {pages}<" in page) == (pages > 1), params
        assert "1 of 60 images verified" not in page and "2 of 60 images verified" in page


def test_the_migration_gives_existing_verdicts_their_job(owner, job):
    import importlib

    from django.apps import apps

    services.set_verdict(
        user=owner, prediction=job.predictions.get(line=1), label="Alcohol", verdict="incorrect", threshold=50
    )
    other = finished_job(owner, [{}], name="other")  # the column is NOT NULL: point it elsewhere
    Verification.objects.update(job=other)
    ImageReview.objects.update(job=other)
    importlib.import_module("verification.migrations.0002_job_of_verdicts").backfill(apps, None)
    assert set(Verification.objects.values_list("job_id", flat=True)) == {job.pk}
    assert set(ImageReview.objects.values_list("job_id", flat=True)) == {job.pk}


def test_the_flagged_first_order_on_the_grid_and_for_start_reviewing(client, annotator, job):
    client.force_login(annotator)
    page = client.get(reverse("verify-job", args=[job.pk]), {"order": "flagged", "threshold": 60})
    text = page.content.decode()

    lines = [int(chunk.split('"')[0]) for chunk in text.split('class="card verify-card" id="card-')[1:]]
    assert lines == [1, 2, 4, 3]  # 3 has no label at 60
    assert '<option value="flagged" selected>Flagged first</option>' in text
    start = text.split('id="start-reviewing" href="')[1].split('"')[0]
    assert start.startswith(f"/verify/{job.pk}/queue/?") and start.endswith("order=flagged")


def test_the_remove_button_names_its_label(client, annotator, job):
    client.force_login(annotator)
    card = verdict(client, job, 3, "Gambling", "added").content.decode()
    assert 'data-action="remove" title="Remove this label" aria-label="Remove the label Gambling"' in card


@pytest.mark.parametrize("order", ["least-sure", "flagged"])
def test_the_orders_read_in_parts_page_as_one_sort_of_the_whole_job_would(client, owner, order):
    """in_order reads each part off an index up to the page asked for: its pages, and the
    images Start reviewing hands out, are those of one SQL sort of every image."""
    from django.db.models import Case, F, FloatField, IntegerField, Value, When
    from django.db.models.functions import Abs, Cast

    from bulk_analysis.models import Prediction
    from verification.queries import PAGE_SIZE

    tops = [{"Alcohol": c} if c else {} for c in [(i * 37) % 101 for i in range(80)]]
    tops[5] = tops[9] = {"Alcohol": 65.0}  # ties, and one on each side of 60 at the same distance
    tops[6] = {"Alcohol": 55.0}
    job = finished_job(owner, tops, min_confidence=1)
    client.force_login(owner)
    for threshold in (60, 1, 99):  # the job's lowest is 1: 0 and 2 tie at 1
        if order == "least-sure":
            key = Abs(F("max_confidence") - Cast(Value(threshold), FloatField()))
        else:
            key = Case(
                When(max_confidence__gte=threshold, max_confidence__gt=0, then=0),
                default=1,
                output_field=IntegerField(),
            )
        sorted_lines = list(
            Prediction.objects.filter(job=job).order_by(key, "line").values_list("line", flat=True)
        )
        shown = []
        for page in range(1, len(tops) // PAGE_SIZE + 2):
            text = client.get(
                reverse("verify-job", args=[job.pk]), {"order": order, "threshold": threshold, "page": page}
            ).content.decode()
            shown += [int(c.split('"')[0]) for c in text.split('class="card verify-card" id="card-')[1:]]
        assert shown == sorted_lines, threshold
        claimed = services.claim_next(user=owner, job=job, order=order, threshold=threshold)
        assert claimed.line == sorted_lines[0]


def test_the_unverified_filter_starts_past_the_reviewed_lines_and_sees_an_undone_review(client, owner, job):
    """It starts at the job's queue cursor (services.queue_start), which an undo moves back."""
    from verification.models import QueueCursor

    for line in (1, 2, 3):
        services.mark_reviewed(user=owner, prediction=job.predictions.get(line=line))
    client.force_login(owner)
    url = reverse("verify-job", args=[job.pk])

    def unverified():
        page = client.get(url, {"status": "unverified"}).content.decode()
        return [int(c.split('"')[0]) for c in page.split('class="card verify-card" id="card-')[1:]]

    assert unverified() == [4]
    assert QueueCursor.objects.get(job=job).line == 4  # moved past the reviewed lines
    services.undo(
        user=owner, prediction=job.predictions.get(line=2), label="", expected="", restore="", unreview=True
    )
    assert unverified() == [2, 4]
