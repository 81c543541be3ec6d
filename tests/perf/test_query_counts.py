"""Every page's query count is the same with 3x the data: an N+1 (a query per row) fails here.

The pages are bench/pages.py's: the URL configuration walked as tests/hardening/test_roles.py
walks it, parameters filled from bench.data.page_world. Each world is built in a savepoint and
rolled back, so the two sizes run in one test on the same empty database.
"""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from bench import data, pages
from console.models import Profile

SMALL, LARGE = 30, 90  # images; projects and jobs grow with them (n / 10)


def query_counts(client, user, n: int) -> tuple[dict[str, int], dict[str, str]]:
    counts: dict[str, int] = {}
    with transaction.atomic():
        world = data.page_world(user, n, projects=n // 10, jobs=n // 10)
        requests, notes = pages.requests_for(world)
        for request in requests:
            with CaptureQueriesContext(connection) as queries:
                status = client.get(request.url).status_code
            if status == 200:
                counts[request.label] = len(queries)
            else:
                notes[request.label] = str(status)
        for operation, params in pages.api_params(world).items():
            with CaptureQueriesContext(connection) as queries:
                pages.call_api(user, operation, params)
            counts[f"API {operation}"] = len(queries)
        transaction.set_rollback(True)
    return counts, notes


@pytest.mark.django_db
def test_no_page_makes_more_queries_with_more_data(client, django_user_model, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = django_user_model.objects.create_superuser(username="walker", password="x")
    Profile.objects.update_or_create(user=user, defaults={"role": Profile.Role.ADMIN})
    client.force_login(user)

    small, small_notes = query_counts(client, user, SMALL)
    large, large_notes = query_counts(client, user, LARGE)

    assert not [n for n, why in small_notes.items() if why.startswith("NOT FILLED")], small_notes
    assert len(small) > 100, f"only {len(small)} pages answered 200: {small_notes}"
    assert set(small) == set(large), set(small) ^ set(large)
    # Fewer is fine: the first world's first requests also save the session and the profile.
    grown = {label: (small[label], large[label]) for label in small if large[label] > small[label]}
    assert not grown, f"queries (at {SMALL} vs {LARGE} images) that grow with the data: {grown}"


def test_every_admin_changelist_skips_the_full_count_and_caps_the_count_of_its_pages():
    from django.contrib import admin

    from console.lib.admin_lists import CappedPaginator

    counting = [
        type(a).__name__
        for a in admin.site._registry.values()
        if a.show_full_result_count or not issubclass(a.paginator, CappedPaginator)
    ]
    assert not counting, f"ModelAdmins that count the whole table on every changelist: {counting}"


@pytest.mark.django_db
def test_the_admins_paginator_counts_no_further_than_its_cap(monkeypatch, staff):
    from django.contrib.auth import get_user_model

    from console.lib import admin_lists

    monkeypatch.setattr(admin_lists, "COUNT_CAP", 3)
    users = get_user_model().objects.order_by("pk")  # the staff user and four more
    get_user_model().objects.bulk_create(get_user_model()(username=f"u{i}") for i in range(4))
    with CaptureQueriesContext(connection) as counted:
        assert admin_lists.CappedPaginator(users, 2).count == 4  # the cap, and one past it
    assert "LIMIT 4" in counted.captured_queries[0]["sql"]
    assert admin_lists.CappedPaginator(users.filter(username__startswith="u1"), 2).count == 1


@pytest.mark.django_db
def test_a_changelist_past_the_cap_says_more_than_the_cap(client, monkeypatch, staff):
    from django.contrib.auth import get_user_model
    from django.urls import reverse

    from console.lib import admin_lists

    monkeypatch.setattr(admin_lists, "COUNT_CAP", 3)
    client.force_login(staff)
    url = reverse("admin:auth_user_changelist")
    assert "1 user" in client.get(url).content.decode()
    get_user_model().objects.bulk_create(get_user_model()(username=f"u{i}") for i in range(4))
    page = client.get(url).content.decode()
    assert "more than 3 users (counted no further" in page and "Select all users (more than 3)" in page
    assert "4 users" not in page and "All 4 selected" not in page


@pytest.mark.django_db
def test_the_job_changelist_leaves_the_confidence_histograms_to_the_job_page(client, staff, owner):
    from django.urls import reverse

    from tests.bulk_analysis.conftest import finished_job

    finished_job(owner, [{"Alcohol": 80.0}])
    client.force_login(staff)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(reverse("admin:bulk_analysis_bulkanalysisjob_changelist")).status_code == 200
    listed = [q["sql"] for q in ctx.captured_queries if 'FROM "bulk_analysis_bulkanalysisjob"' in q["sql"]]
    assert listed and not any("histograms" in sql for sql in listed)


@pytest.mark.django_db
@pytest.mark.parametrize("model", ["verdicttally", "reviewertally", "secondreviewplan"])
def test_the_tally_changelists_read_their_jobs_once_without_the_histograms(client, staff, owner, model):
    from django.urls import reverse

    from bulk_analysis.models import Prediction
    from tests.bulk_analysis.conftest import finished_job
    from verification import services

    for name in ("one", "two"):
        job = finished_job(owner, [{"Alcohol": 80.0}, {"Alcohol": 90.0}], name=name)
        services.set_second_review_share(job=job, share=10, user=owner)
        for prediction in Prediction.objects.filter(job=job):
            services.set_verdict(
                user=owner, prediction=prediction, label="Alcohol", verdict="correct", threshold=50
            )
            services.mark_reviewed(user=owner, prediction=prediction)
    client.force_login(staff)
    with CaptureQueriesContext(connection) as ctx:
        page = client.get(reverse(f"admin:verification_{model}_changelist"))
    assert page.status_code == 200 and "one" in page.content.decode() and "two" in page.content.decode()
    jobs = [q["sql"] for q in ctx.captured_queries if '"bulk_analysis_bulkanalysisjob"' in q["sql"]]
    assert len(jobs) == 1 and "histograms" not in jobs[0]  # joined in the list's query


@pytest.mark.django_db
def test_no_changelist_reads_a_big_column_it_does_not_show(client, django_user_model, settings):
    """A job's histograms, an adapter's test results and evaluation (their models' BIG_COLUMNS)
    are read by no changelist but their own model's, where its form shows them."""
    from django.contrib import admin
    from django.urls import reverse

    from adapters.models import Adapter
    from bulk_analysis.models import BulkAnalysisJob

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = django_user_model.objects.create_superuser(username="walker", password="x")
    data.page_world(user, 30, projects=3, jobs=3)
    client.force_login(user)
    reading = []
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        with CaptureQueriesContext(connection) as ctx:
            page = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        assert page.status_code == 200, opts.label
        for big in (BulkAnalysisJob, Adapter):
            for column in big.BIG_COLUMNS:  # named by no other table
                shown = big is model and column not in (model_admin.exclude or ())
                if not shown and any(f'."{column}"' in q["sql"] for q in ctx.captured_queries):
                    reading.append(f"{opts.label}: {big._meta.label}.{column}")
    assert not reading, f"changelists that read big columns they do not show: {reading}"
