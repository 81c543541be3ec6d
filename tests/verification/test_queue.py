"""The review queue's claims: one reviewer per image until a claim expires."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from console.models import AuditEntry
from tests.bulk_analysis.conftest import finished_job
from verification import services
from verification.models import ImageReview, ReviewClaim

pytestmark = pytest.mark.django_db


def test_an_expired_claim_goes_to_the_next_reviewer(owner, annotator):
    job = finished_job(owner, [{"Alcohol": 80.0}, {}])
    first = services.claim_next(user=owner, job=job, threshold=50)
    assert services.claim_next(user=annotator, job=job, threshold=50).line == 2
    assert first.line == 1
    # nothing left for a third ask while both claims are fresh
    ReviewClaim.objects.filter(user=annotator).delete()
    ReviewClaim.objects.filter(user=owner).update(
        claimed_at=ReviewClaim.objects.get(user=owner).claimed_at
        - timedelta(seconds=services.CLAIM_SECONDS + 1)
    )
    assert services.claim_next(user=annotator, job=job, threshold=50).line == 1  # the expired one
    assert ReviewClaim.objects.get(prediction=first).user == annotator


def test_a_verdict_renews_the_claim_and_orders_are_checked(owner):
    job = finished_job(owner, [{"Alcohol": 80.0}])
    p = services.claim_next(user=owner, job=job, threshold=50)
    old = ReviewClaim.objects.get(prediction=p).claimed_at
    services.set_verdict(user=owner, prediction=p, label="Alcohol", verdict="correct", threshold=50)
    services.renew_claim(user=owner, prediction=p)
    assert ReviewClaim.objects.get(prediction=p).claimed_at >= old
    with pytest.raises(ValidationError, match="Order"):
        services.claim_next(user=owner, job=job, order="random", threshold=50)


def expire(user):
    claim = ReviewClaim.objects.get(user=user)
    ReviewClaim.objects.filter(pk=claim.pk).update(
        claimed_at=claim.claimed_at - timedelta(seconds=services.CLAIM_SECONDS + 1)
    )


def test_two_submits_on_one_image_the_first_wins_and_the_second_is_told(owner, annotator):
    job = finished_job(owner, [{"Alcohol": 80.0}, {}])
    first = services.claim_next(user=owner, job=job, threshold=50)
    expire(owner)
    second = services.claim_next(user=annotator, job=job, threshold=50)
    assert first == second  # the owner's claim expired and went to the annotator

    services.set_verdict(user=owner, prediction=first, label="Alcohol", verdict="correct", threshold=50)
    services.mark_reviewed(user=owner, prediction=first)
    with pytest.raises(ValidationError, match=r"already reviewed by owner: Alcohol correct") as refused:
        services.mark_reviewed(user=annotator, prediction=second)

    assert refused.value.code == "reviewed"
    assert ImageReview.objects.get(prediction=first).user == owner
    # a verdict by the second reviewer does not move the first one's credit either
    services.set_verdict(user=annotator, prediction=second, label="Gambling", verdict="added", threshold=50)
    assert ImageReview.objects.get(prediction=first).user == owner
    assert services.queue_progress(job=job)["per_user"] == [("owner", 1)]


def test_two_reviewers_submitting_one_image_the_second_sees_what_the_first_did(client, owner, annotator):
    job = finished_job(owner, [{"Alcohol": 80.0}, {}])
    queue = reverse("verify-queue", args=[job.pk])
    other = Client()
    client.force_login(owner)
    other.force_login(annotator)
    assert client.get(queue, {"threshold": 50}).context["p"].line == 1
    expire(owner)
    assert other.get(queue, {"threshold": 50}).context["p"].line == 1  # the expired claim, handed on

    client.post(
        reverse("verify-verdict", args=[job.pk, 1]),
        {"label": "Alcohol", "verdict": "incorrect", "threshold": 50},
    )
    client.post(queue, {"line": 1, "threshold": 50})
    page = other.post(queue, {"line": 1, "threshold": 50}, follow=True)

    text = page.content.decode()
    assert "was already reviewed by owner: Alcohol incorrect. Their review stands." in text
    assert page.context["p"].line == 2  # moved on to the next image
    assert ImageReview.objects.get(prediction__job=job, prediction__line=1).user == owner
    assert AuditEntry.objects.filter(action="verification.review", user=annotator).count() == 0


def test_the_queue_page_has_the_keyboard_shortcuts_switch(client, annotator, owner):
    job = finished_job(owner, [{"Alcohol": 80.0}])
    client.force_login(annotator)
    page = client.get(reverse("verify-queue", args=[job.pk])).content.decode()
    assert 'id="shortcuts-toggle"' in page  # WCAG 2.1.4: single-key shortcuts can be turned off


def test_the_queue_in_input_order_starts_at_the_first_line_not_yet_reviewed(owner, annotator):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from verification.models import QueueCursor

    job = finished_job(owner, [{}] * 8)
    for _ in range(5):
        p = services.claim_next(user=owner, job=job, threshold=50)
        services.mark_reviewed(user=owner, prediction=p)
    services.mark_reviewed(user=owner, prediction=job.predictions.get(line=7))  # from the grid
    with CaptureQueriesContext(connection) as ctx:
        assert services.claim_next(user=annotator, job=job, threshold=50).line == 6
    assert QueueCursor.objects.get(job=job).line == 6
    # the images handed out are read from the cursor on, not past lines 1 to 5
    assert any('"line" >= 6' in q["sql"] and "ORDER BY" in q["sql"] for q in ctx.captured_queries)

    services.undo(
        user=owner, prediction=job.predictions.get(line=2), label="", expected="", restore="", unreview=True
    )
    assert QueueCursor.objects.get(job=job).line == 2  # waits again: the queue starts there
    assert services.claim_next(user=owner, job=job, threshold=50).line == 2
    services.mark_reviewed(user=owner, prediction=job.predictions.get(line=2))
    assert services.claim_next(user=owner, job=job, threshold=50).line == 8  # 6 is the annotator's
    services.mark_reviewed(user=owner, prediction=job.predictions.get(line=8))
    services.mark_reviewed(user=annotator, prediction=job.predictions.get(line=6))
    assert services.claim_next(user=owner, job=job, threshold=50) is None
    assert QueueCursor.objects.get(job=job).line == 9  # past the last line


def test_a_second_review_comes_in_input_order_among_the_first_reviews(owner, annotator):
    job = finished_job(owner, [{}] * 4)
    services.set_second_review_share(user=owner, job=job, share=100)
    first = services.claim_next(user=owner, job=job, threshold=50)
    services.mark_reviewed(user=owner, prediction=first)
    assert services.claim_next(user=annotator, job=job, threshold=50).line == 1  # its second review
    assert services.claim_next(user=owner, job=job, threshold=50).line == 2
