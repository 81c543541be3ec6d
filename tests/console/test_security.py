import pytest
from django.urls import reverse

from console.models import AuditEntry, LoginFailure, record
from projects.models import Project


@pytest.mark.django_db
def test_it_locks_sign_in_after_repeated_failures(client, owner, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for _ in range(3):
        response = client.post(reverse("login"), {"username": "owner", "password": "wrong"})
        assert response.status_code == 200
    # Even the right password is refused while the lock holds.
    response = client.post(reverse("login"), {"username": "owner", "password": "pw-owner"})
    assert response.status_code == 429
    assert b"Too many failed sign-in attempts" in response.content
    assert LoginFailure.objects.filter(username="owner").count() == 3
    assert client.get(reverse("console-home")).status_code == 302


@pytest.mark.django_db
def test_a_successful_sign_in_below_the_limit_works(client, owner, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    client.post(reverse("login"), {"username": "owner", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "owner", "password": "pw-owner"})
    assert response.status_code == 302


@pytest.mark.django_db
def test_it_refuses_an_oversized_body_before_reading_it(owner_client, settings):
    settings.MAX_REQUEST_BYTES = 1000
    response = owner_client.post(
        reverse("console-notifications-read"), data=b"x" * 2000, content_type="application/octet-stream"
    )
    assert response.status_code == 413
    assert b"larger than" in response.content


@pytest.mark.django_db
def test_the_audit_log_lists_changes_per_project(owner_client, owner):
    alpha = Project.objects.create(name="alpha", arn="arn-alpha")
    beta = Project.objects.create(name="beta", arn="arn-beta")
    record(owner, "project.create", alpha, project=alpha)
    record(owner, "project.create", beta, project=beta)
    response = owner_client.get(reverse("console-audit"), {"project": alpha.pk})
    assert response.status_code == 200
    rows = response.context["page"].object_list
    assert [entry.project_name for entry in rows] == ["alpha"]
    assert AuditEntry.objects.count() == 2


@pytest.mark.django_db
def test_the_audit_trail_cannot_be_edited_in_the_admin(client, staff, owner):
    project = Project.objects.create(name="alpha", arn="arn-alpha")
    entry = record(owner, "project.create", project, project=project)
    client.force_login(staff)
    change = client.get(reverse("admin:console_auditentry_change", args=[entry.pk]))
    assert change.status_code == 200 and b'name="action"' not in change.content
    assert (
        client.post(reverse("admin:console_auditentry_delete", args=[entry.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


@pytest.mark.django_db
def test_behind_a_trusted_proxy_it_counts_failures_by_the_forwarded_address(client, owner, settings):
    settings.LOGIN_FAILURE_LIMIT = 1  # an address is locked after 4 failures
    settings.TRUST_X_FORWARDED_FOR = True
    for name in ("a", "b", "c", "d"):
        client.post(
            reverse("login"), {"username": name, "password": "x"}, HTTP_X_FORWARDED_FOR="spoof, 203.0.113.9"
        )
    assert set(LoginFailure.objects.values_list("ip", flat=True)) == {"203.0.113.9"}
    # Another visitor behind the same proxy can still sign in.
    response = client.post(
        reverse("login"), {"username": "owner", "password": "pw-owner"}, HTTP_X_FORWARDED_FOR="198.51.100.7"
    )
    assert response.status_code == 302
