"""The review queue's claims: one reviewer per image until a claim expires."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from tests.bulk_analysis.conftest import finished_job
from verification import services
from verification.models import ReviewClaim

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
