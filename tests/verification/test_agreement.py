"""Reviewer agreement (issue 18): a job asks for a second, blind review of a share of its reviewed
images; the queue hands them to a reviewer other than the first; the job shows agreement per
label and per reviewer; a manager decides each disagreement and the decision becomes the verdict."""

import importlib
from collections import Counter

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from sklearn.metrics import cohen_kappa_score

from adapters import services as adapter_services
from bulk_analysis.models import BulkAnalysisJob
from console.models import AuditEntry, Profile
from moderation import taxonomy
from projects import services as project_services
from tests.bulk_analysis.conftest import finished_job
from tests.conftest import make_user
from verification import services, tallies
from verification.models import ImageReview, SecondReview, SecondReviewTally, Verification

pytestmark = pytest.mark.django_db


def review(user, job, threshold=50, **verdicts):
    """`user` takes the next image from the queue, gives `verdicts` and submits it."""
    p = services.claim_next(user=user, job=job, threshold=threshold)
    for label, verdict in verdicts.items():
        services.set_verdict(user=user, prediction=p, label=label, verdict=verdict, threshold=threshold)
    services.mark_reviewed(user=user, prediction=p)
    return p


def test_it_never_hands_a_reviewed_image_to_another_reviewer_unless_a_second_review_is_asked(
    owner, annotator
):
    job = finished_job(owner, [{"Alcohol": 80.0}])
    review(owner, job)
    assert services.claim_next(user=annotator, job=job, threshold=50) is None

    services.set_second_review_share(user=owner, job=job, share=100)
    assert services.claim_next(user=owner, job=job, threshold=50) is None  # not to the first reviewer
    assert services.claim_next(user=annotator, job=job, threshold=50).line == 1


def test_it_picks_the_share_of_images_reviewed_already_and_of_those_reviewed_later(owner, annotator):
    job = finished_job(owner, [{}] * 20)
    for _ in range(10):
        review(annotator, job)
    assert services.set_second_review_share(user=owner, job=job, share=10) == 1
    assert SecondReview.objects.filter(job=job).count() == 1
    assert services.set_second_review_share(user=owner, job=job, share=30) == 2  # topped up to 3

    services.set_second_review_share(user=owner, job=job, share=100)
    review(annotator, job)
    assert SecondReview.objects.filter(job=job).count() == 11  # every later one at 100 %
    assert all(r.first_user == annotator for r in SecondReview.objects.filter(job=job))

    services.set_second_review_share(user=owner, job=job, share=0)  # stop: the pending ones go
    assert not SecondReview.objects.filter(job=job).exists()
    with pytest.raises(ValidationError, match="percent"):
        services.set_second_review_share(user=owner, job=job, share=101)


def test_a_second_review_that_agrees_changes_nothing(owner, annotator):
    job = finished_job(owner, [{"Alcohol": 80.0}])
    services.set_second_review_share(user=owner, job=job, share=100)
    p = review(annotator, job, Alcohol="correct")
    assert services.claim_next(user=owner, job=job, threshold=50) == p
    row = services.submit_second_review(user=owner, prediction=p, labels=["Alcohol"], threshold=50)

    assert row.agrees and row.first_labels == ["Alcohol"]
    assert not services.disagreements(jobs=services.only(job)).exists()
    assert services.claim_next(user=owner, job=job, threshold=50) is None
    with pytest.raises(ValidationError, match="needs no second review") as refused:
        services.submit_second_review(user=owner, prediction=p, labels=[], threshold=50)
    assert refused.value.code == "reviewed"


def test_the_first_reviewer_cannot_give_the_second_review(owner, annotator):
    job = finished_job(owner, [{"Alcohol": 80.0}])
    services.set_second_review_share(user=owner, job=job, share=100)
    p = review(annotator, job)
    with pytest.raises(ValidationError, match="needs no second review"):
        services.submit_second_review(user=annotator, prediction=p, labels=[], threshold=50)


def test_a_disagreement_keeps_the_first_review_until_a_manager_decides(owner, annotator, django_user_model):
    other = make_user(django_user_model, "other", Profile.Role.ANNOTATOR)
    job = finished_job(owner, [{"Alcohol": 80.0}])
    services.set_second_review_share(user=owner, job=job, share=100)
    p = review(annotator, job, Alcohol="correct")
    services.claim_next(user=other, job=job, threshold=50)
    services.submit_second_review(user=other, prediction=p, labels=["Gambling"], threshold=50)

    assert [r.prediction for r in services.disagreements(jobs=services.only(job))] == [p]
    assert services.first_review_labels(p, 50) == ["Alcohol"]  # the first review stands
    assert ImageReview.objects.get(prediction=p).user == annotator

    services.adjudicate(user=owner, prediction=p, labels=["Gambling"])
    assert dict(Verification.objects.filter(prediction=p).values_list("label", "verdict")) == {
        "Alcohol": "incorrect",
        "Gambling": "added",
    }
    assert services.first_review_labels(p, 50) == ["Gambling"]
    assert not services.disagreements(jobs=services.only(job)).exists()
    with pytest.raises(ValidationError, match="no disagreement"):
        services.adjudicate(user=owner, prediction=p, labels=["Alcohol"])  # one decision counts

    decided = AuditEntry.objects.get(action="verification.adjudicate")
    assert decided.detail["first_user"] == "annotator" and decided.detail["first_labels"] == ["Alcohol"]
    assert decided.detail["second_user"] == "other" and decided.detail["second_labels"] == ["Gambling"]
    assert decided.detail["decision"] == ["Gambling"]
    second = AuditEntry.objects.get(action="verification.second_review")
    assert second.user == other and second.detail["labels"] == ["Gambling"]
    assert AuditEntry.objects.filter(action="verification.verdict", user=annotator).exists()


def test_agreement_per_label_and_per_reviewer_with_cohens_kappa(owner, annotator, django_user_model):
    other = make_user(django_user_model, "other", Profile.Role.ANNOTATOR)
    tops = [{"Alcohol": 80.0}, {"Alcohol": 80.0}, {"Alcohol": 80.0}, {}]
    job = finished_job(owner, tops)
    services.set_second_review_share(user=owner, job=job, share=100)
    firsts = [review(annotator, job, Alcohol="correct") for _ in range(3)] + [review(annotator, job)]
    seconds = [["Alcohol"], [], ["Alcohol"], ["Alcohol"]]
    for p, labels in zip(firsts, seconds, strict=True):
        assert services.claim_next(user=other, job=job, threshold=50) == p
        services.submit_second_review(user=other, prediction=p, labels=labels, threshold=50)

    stats = services.agreement(jobs=services.only(job))
    alcohol = next(a for a in stats["labels"] if a.name == "Alcohol")
    first, second = [1, 1, 1, 0], [1, 0, 1, 1]
    assert (alcohol.images, alcohol.agreeing) == (4, 2)
    assert alcohol.kappa == pytest.approx(cohen_kappa_score(first, second))
    gambling = next(a for a in stats["labels"] if a.name == "Gambling")
    assert (gambling.agreeing, gambling.kappa) == (4, None)  # nobody said Gambling: undefined
    assert [(a.name, a.images, a.agreeing) for a in stats["reviewers"]] == [
        ("annotator", 4, 2),
        ("other", 4, 2),
    ]
    summary = services.agreement_summary(jobs=services.only(job))
    assert summary["given"] == summary["asked"] == 4
    # from the tallies, as scikit-learn gives it on the raw yes/no lists of each reviewer
    mine = [1, 1, 1, 0] + [0] * 4 * (len(taxonomy.TOP_LEVEL) - 1)
    theirs = [1, 0, 1, 1] + [0] * 4 * (len(taxonomy.TOP_LEVEL) - 1)
    assert stats["reviewers"][0].kappa == pytest.approx(cohen_kappa_score(mine, theirs))


def test_the_summary_counters_follow_every_pick_undo_review_decision_and_share_change(
    owner, annotator, django_user_model
):
    other = make_user(django_user_model, "other", Profile.Role.ANNOTATOR)
    job = finished_job(owner, [{"Alcohol": 80.0}] * 6)

    def counted():  # what the counters stand for, counted from the rows
        rows = SecondReview.objects.filter(job=job)
        return {
            "asked": rows.count(),
            "given": rows.filter(reviewed_at__isnull=False).count(),
            "agreeing": rows.filter(agrees=True).count(),
            "waiting": rows.filter(agrees=False, decided_at__isnull=True).count(),
        }

    def summary():
        return services.agreement_summary(jobs=services.only(job))

    done = [review(annotator, job, Alcohol="correct") for _ in range(2)]
    services.set_second_review_share(user=owner, job=job, share=100)  # the two reviewed already
    done += [review(annotator, job, Alcohol="correct") for _ in range(2)]  # picked as reviewed
    done.append(review(annotator, job))  # no verdict: its review can be undone
    services.undo(user=annotator, prediction=done[4], label="", expected="", restore="", unreview=True)
    assert summary() == counted() == {"asked": 4, "given": 0, "agreeing": 0, "waiting": 0}

    for p, labels in zip(done[:3], [["Alcohol"], [], ["Gambling"]], strict=True):
        services.submit_second_review(user=other, prediction=p, labels=labels, threshold=50)
    assert summary() == counted() == {"asked": 4, "given": 3, "agreeing": 1, "waiting": 2}
    services.adjudicate(user=owner, prediction=done[1], labels=[])
    assert summary() == counted() == {"asked": 4, "given": 3, "agreeing": 1, "waiting": 1}
    services.set_second_review_share(user=owner, job=job, share=0)  # the one not given goes
    assert summary() == counted() == {"asked": 3, "given": 3, "agreeing": 1, "waiting": 1}

    SecondReviewTally.objects.all().delete()  # the migration fills them as they were moved
    importlib.import_module("verification.migrations.0009_second_review_tally").backfill(apps, None)
    assert summary() == counted()


def test_the_agreement_page_lists_disagreements_and_only_a_manager_decides(client, owner, annotator):
    job = finished_job(owner, [{"Alcohol": 80.0}, {}])
    services.set_second_review_share(user=owner, job=job, share=100)
    p = review(owner, job, Alcohol="incorrect")
    services.claim_next(user=annotator, job=job, threshold=50)
    services.submit_second_review(user=annotator, prediction=p, labels=["Alcohol"], threshold=50)
    page = reverse("verify-agreement", args=[job.pk])
    decide = reverse("verify-adjudicate", args=[job.pk, p.line])

    other = Client()
    other.force_login(annotator)
    shown = other.get(page)
    assert shown.status_code == 200 and b'id="disagreement-1"' in shown.content
    assert b"Decide" not in shown.content
    assert other.post(decide, {"labels": ["Alcohol"]}).status_code == 403

    client.force_login(owner)
    assert client.post(decide, {"labels": ["Alcohol"]}).status_code == 302
    assert Verification.objects.get(prediction=p, label="Alcohol").verdict == "correct"
    assert b"No disagreement waits" in client.get(page).content


def test_the_queue_hands_the_second_reviewer_a_blind_card_and_takes_their_labels(client, owner, annotator):
    job = finished_job(owner, [{"Alcohol": 80.0}])
    client.force_login(owner)
    assert client.post(reverse("verify-second-review", args=[job.pk]), {"share": "100"}).status_code == 302
    p = review(owner, job, Alcohol="incorrect")

    other = Client()
    other.force_login(annotator)
    queue = reverse("verify-queue", args=[job.pk])
    shown = other.get(queue, {"threshold": 50})
    assert shown.context["second"] and shown.context["p"] == p
    assert b'id="second-review"' in shown.content
    # blind: no first verdict on the card, the predicted label starts checked
    assert not any(row["verdict"] for row in shown.context["rows"]) and not shown.context["reviewed"]
    assert b"verify-card" not in shown.content
    assert b'name="labels" value="Alcohol" checked' in shown.content
    assert (
        other.post(queue, {"second": "1", "line": "1", "threshold": "50", "labels": ["Alcohol"]}).status_code
        == 302
    )
    assert SecondReview.objects.get(prediction=p).labels == ["Alcohol"]
    assert b'id="queue-empty"' in other.get(queue, {"threshold": 50}).content


def test_only_a_manager_sets_the_share(client, owner, annotator):
    job = finished_job(owner, [{}])
    client.force_login(annotator)
    assert client.post(reverse("verify-second-review", args=[job.pk]), {"share": "10"}).status_code == 403
    assert services.second_review_share(job=job) == 0
    client.force_login(owner)
    page = client.get(reverse("verify-job", args=[job.pk]))
    assert b'id="second-review-share"' in page.content
    client.post(reverse("verify-second-review", args=[job.pk]), {"share": "x"})
    assert services.second_review_share(job=job) == 0


def test_the_job_pages_summarise_the_agreement(client, owner, annotator):
    job = finished_job(owner, [{"Alcohol": 80.0}, {}])
    services.set_second_review_share(user=owner, job=job, share=100)
    for labels in (["Alcohol"], ["Alcohol"]):  # line 1 agrees, line 2 (safe) does not
        p = review(owner, job)
        services.claim_next(user=annotator, job=job, threshold=50)
        services.submit_second_review(user=annotator, prediction=p, labels=labels, threshold=50)
    client.force_login(owner)
    # The bulk job page loads this fragment (hx-target performance), the verify page includes it.
    fragment = client.get(
        reverse("verify-job", args=[job.pk]), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="performance"
    ).content.decode()
    assert "1 of 2 second reviews agree (50%), 1 disagreement waits for a manager" in fragment
    assert reverse("verify-agreement", args=[job.pk]) in fragment


def test_the_verify_grid_hides_the_first_verdict_until_the_second_review_is_given(client, owner, annotator):
    job = finished_job(owner, [{"Alcohol": 80.0}])
    services.set_second_review_share(user=owner, job=job, share=100)
    p = review(owner, job, Alcohol="incorrect")
    page = reverse("verify-job", args=[job.pk])
    other = Client()
    other.force_login(annotator)
    client.force_login(owner)

    hidden = other.get(page).content.decode()
    assert "data-blind" in hidden and 'data-verdict="incorrect"' not in hidden
    assert 'data-action="incorrect"' not in hidden  # no verdict buttons on it either
    shown = client.get(page).content.decode()  # the first reviewer sees their own review
    assert "data-blind" not in shown and 'data-verdict="incorrect"' in shown

    services.claim_next(user=annotator, job=job, threshold=50)
    services.submit_second_review(user=annotator, prediction=p, labels=[], threshold=50)
    assert 'data-verdict="incorrect"' in other.get(page).content.decode()


def test_no_one_but_the_first_reviewer_sets_verdicts_on_an_image_waiting_blind(owner, annotator):
    job = finished_job(owner, [{"Alcohol": 80.0}])
    services.set_second_review_share(user=owner, job=job, share=100)
    p = review(annotator, job, Alcohol="correct")

    with pytest.raises(ValidationError, match="waits for a blind second review") as refused:
        services.set_verdict(user=owner, prediction=p, label="Alcohol", verdict="incorrect", threshold=50)
    assert refused.value.code == "blind"
    services.set_verdict(user=annotator, prediction=p, label="Alcohol", verdict="incorrect", threshold=50)
    services.submit_second_review(user=owner, prediction=p, labels=["Alcohol"], threshold=50)
    services.set_verdict(user=owner, prediction=p, label="Alcohol", verdict="correct", threshold=50)
    assert Verification.objects.get(prediction=p).verdict == "correct"


@pytest.mark.parametrize("seed", range(20))
def test_kappa_from_a_2x2_table_is_what_sklearn_gives_on_the_raw_lists(seed):
    import random

    rng = random.Random(seed)
    first = [rng.random() < 0.3 for _ in range(rng.randint(1, 40))]
    second = [a if rng.random() < 0.7 else not a for a in first]
    table = Counter(tallies.cell(a, b) for a, b in zip(first, second, strict=True))
    got = tallies.kappa(*(table[key] for key in tallies.CELLS))
    if len(set(first) | set(second)) < 2:
        assert got is None
    else:
        assert got == pytest.approx(cohen_kappa_score(first, second))
    assert tallies.kappa(0, 0, 0, 0) is None


def project_jobs(owner, *tops_per_job):
    """A project with an adapter, and a finished job run with it for each list of predictions."""
    project = project_services.create_project(user=owner, name="agreeing")
    adapter = adapter_services.create_adapter(user=owner, project=project, name="v1")
    jobs = []
    for i, tops in enumerate(tops_per_job):
        job = finished_job(owner, tops, name=f"job-{i}")
        BulkAnalysisJob.objects.filter(pk=job.pk).update(adapter=adapter)
        job.refresh_from_db()
        jobs.append(job)
    return project, jobs


def test_a_project_share_applies_to_every_job_of_the_project_unless_the_job_has_its_own(owner, annotator):
    project, (a, b, c) = project_jobs(owner, [{}] * 4, [{}] * 4, [{}] * 4)
    outside = finished_job(owner, [{}] * 4, name="outside")
    review(annotator, a)
    services.set_second_review_share(user=owner, job=c, share=0)  # c's own share wins

    assert services.set_project_second_review_share(user=owner, project=project, share=100) == 1  # a's
    assert (services.second_review_share(job=b), services.second_review_share(job=c)) == (100, 0)
    for job in (a, b, c, outside):
        review(annotator, job)
    assert [SecondReview.objects.filter(job=job).count() for job in (a, b, c, outside)] == [2, 1, 0, 0]
    assert AuditEntry.objects.filter(action="verification.project_second_review_share").exists()

    services.set_project_second_review_share(user=owner, project=project, share=0)  # pending ones go
    assert not SecondReview.objects.filter(job__in=[a, b]).exists()
    with pytest.raises(ValidationError, match="percent"):
        services.set_project_second_review_share(user=owner, project=project, share=-1)


def test_the_project_agreement_page_sums_its_jobs_and_decides_their_disagreements(
    client, owner, annotator, viewer
):
    project, (a, b) = project_jobs(owner, [{"Alcohol": 80.0}], [{"Alcohol": 80.0}])
    other = finished_job(owner, [{"Alcohol": 80.0}], name="outside")
    services.set_project_second_review_share(user=owner, project=project, share=100)
    services.set_second_review_share(user=owner, job=other, share=100)
    for job, labels in ((a, ["Alcohol"]), (b, []), (other, [])):  # a agrees, b and other do not
        p = review(owner, job, Alcohol="correct")
        services.claim_next(user=annotator, job=job, threshold=50)
        services.submit_second_review(user=annotator, prediction=p, labels=labels, threshold=50)
    page = reverse("verify-project-agreement", args=[project.pk])

    client.force_login(viewer)
    shown = client.get(page)
    assert shown.status_code == 200
    alcohol = next(x for x in shown.context["stats"]["labels"] if x.name == "Alcohol")
    assert (alcohol.images, alcohol.agreeing) == (2, 1)  # not the job outside the project
    assert [(x.name, x.images, x.agreeing) for x in shown.context["stats"]["reviewers"]] == [
        ("annotator", 2, 1),
        ("owner", 2, 1),
    ]
    assert f'id="disagreement-{b.pk}-1"'.encode() in shown.content
    assert f'id="disagreement-{other.pk}-1"'.encode() not in shown.content
    assert b"Decide" not in shown.content and b'id="project-second-review-share"' not in shown.content
    assert (
        client.post(reverse("verify-project-second-review", args=[project.pk]), {"share": "5"}).status_code
        == 403
    )
    assert b'id="project-agreement-link"' in client.get(reverse("projects-detail", args=[project.pk])).content

    client.force_login(owner)
    assert b'id="project-second-review-share"' in client.get(page).content
    decided = client.post(reverse("verify-adjudicate", args=[b.pk, 1]), {"labels": [], "next": page})
    assert decided.status_code == 302 and decided.url == page
    assert Verification.objects.get(prediction__job=b, label="Alcohol").verdict == "incorrect"
    assert b"No disagreement waits" in client.get(page).content
    client.post(reverse("verify-project-second-review", args=[project.pk]), {"share": "30"})
    assert services.project_second_review_share(project=project) == 30


def test_the_migration_fills_the_agreement_tallies_as_the_second_reviews_moved_them(
    owner, annotator, django_user_model
):
    from verification.models import LabelAgreementTally, ReviewerAgreementTally

    other = make_user(django_user_model, "other", Profile.Role.ANNOTATOR)
    job = finished_job(owner, [{"Alcohol": 80.0}, {"Gambling": 66.0}, {}])
    services.set_second_review_share(user=owner, job=job, share=100)
    for reviewer, first, labels in (
        (annotator, owner, ["Alcohol"]),
        (other, annotator, []),
        (owner, other, []),
    ):
        p = review(first, job)
        services.claim_next(user=reviewer, job=job, threshold=50)
        services.submit_second_review(user=reviewer, prediction=p, labels=labels, threshold=50)
    moved = services.agreement(jobs=services.only(job))
    LabelAgreementTally.objects.all().delete()
    ReviewerAgreementTally.objects.all().delete()
    importlib.import_module("verification.migrations.0007_agreement_tallies").backfill(apps, None)
    assert services.agreement(jobs=services.only(job)) == moved
    assert [(a.name, a.images, a.agreeing) for a in moved["reviewers"]] == [
        ("annotator", 2, 1),
        ("other", 2, 1),
        ("owner", 2, 2),
    ]
