"""The verification pages cost the same whatever the number of a job's reviews (issue 15): the
same queries at 10 and 40 reviewed images, and no IN list longer than one grid page (the page's
own verdicts), so no query carries the job's reviewed ids. Their per-label statistics and
reviewer counts come from tallies kept in each verdict's transaction (verification.tallies)."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from adapters import services as adapter_services
from bulk_analysis.models import BulkAnalysisJob
from projects import services as project_services
from tests.bulk_analysis.conftest import finished_job
from verification import services
from verification.models import SecondReview
from verification.queries import PAGE_SIZE

pytestmark = pytest.mark.django_db

PAGES = [
    ("verify-job", {}),
    ("verify-job", {"status": "verified"}),
    ("verify-job", {"status": "unverified", "flag": "flagged"}),
    ("verify-job", {"status": "verified", "label": "Alcohol", "threshold": "60"}),
    ("verify-job", {"order": "least-sure", "page": "2"}),
    ("verify-train", {"threshold": "50"}),
    ("verify-agreement", {}),
]


def job_with_reviews(owner, annotator, images, reviewed, name):
    tops = [{"Alcohol": 80.0}, {}, {"Violence": 62.0, "Alcohol": 51.0}]
    job = finished_job(owner, [tops[i % 3] for i in range(images)], name=name)
    project = project_services.create_project(user=owner, name=name)  # its agreement page
    adapter = adapter_services.create_adapter(user=owner, project=project, name="v1")
    BulkAnalysisJob.objects.filter(pk=job.pk).update(adapter=adapter)
    job.refresh_from_db()
    # every image reviewed is picked: a random share left some runs without a disagreement,
    # and an empty page makes fewer queries than a full one
    services.set_second_review_share(user=owner, job=job, share=100)
    for i, p in enumerate(job.predictions.order_by("line")[:reviewed]):
        user = owner if i % 2 else annotator
        if p.top_labels:
            verdict = "correct" if i % 4 else "incorrect"
            services.set_verdict(user=user, prediction=p, label="Alcohol", verdict=verdict, threshold=50)
        else:
            services.mark_reviewed(user=user, prediction=p)
    # the second reviews, half of them disagreeing, into the agreement tallies
    for i, second in enumerate(SecondReview.objects.filter(job=job).select_related("prediction")):
        other = annotator if second.first_user == owner else owner
        labels = ["Alcohol"] if i % 2 else []
        services.submit_second_review(user=other, prediction=second.prediction, labels=labels, threshold=50)
    return job


def costs(client, job):
    """{page: (queries, longest IN list)} for a job."""
    found = {}
    project = job.adapter.project_id
    for name, params in [*PAGES, ("verify-queue", {"threshold": "50"}), ("verify-project-agreement", {})]:
        pk = project if name.startswith("verify-project-") else job.pk
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse(name, args=[pk]), params).status_code == 200
        sql = [q["sql"] for q in ctx.captured_queries]
        lists = [m.count(",") + 1 for q in sql for m in re.findall(r" IN \(([^()]*)\)", q)]
        found[f"{name} {params}"] = (len(sql), max(lists, default=0))
    with CaptureQueriesContext(connection) as ctx:
        client.get(
            reverse("verify-job", args=[job.pk]),
            {"threshold": "60"},
            HTTP_HX_REQUEST="true",
            HTTP_HX_TARGET="performance",
        )
    found["performance fragment"] = (len(ctx.captured_queries), 0)
    return found


def test_the_verification_pages_cost_the_same_at_10_and_40_reviewed_images(client, owner, annotator):
    small = job_with_reviews(owner, annotator, 30, 10, "small")
    large = job_with_reviews(owner, annotator, 90, 40, "large")
    client.force_login(owner)
    client.get(reverse("verify-job", args=[small.pk]))  # the session and profile are written once

    assert all(services.disagreements(jobs=services.only(job)).exists() for job in (small, large))
    at_small, at_large = costs(client, small), costs(client, large)

    assert {page: n for page, (n, _) in at_small.items()} == {page: n for page, (n, _) in at_large.items()}
    assert all(longest <= PAGE_SIZE for _, longest in at_large.values()), at_large
    assert services.performance(job=large, threshold=50).verified == 40
    summary = services.agreement_summary(jobs=services.only(large))
    assert summary["given"] == summary["asked"] > 0
