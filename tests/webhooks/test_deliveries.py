"""Events become signed deliveries; each attempt is written on the delivery's row; transient
failures retry with backoff (through a real Celery worker at the end)."""

import hashlib
import hmac
import json
import threading

import pytest
from django.urls import reverse

from adapters import services as adapter_services
from adapters.models import Adapter
from bulk_analysis import runner
from bulk_analysis.models import BulkAnalysisJob
from projects import services as project_services
from tests.bulk_analysis.conftest import finished_job
from tests.conftest import WorkerProcess, wait_for
from webhooks import services, tasks
from webhooks.models import Delivery, Event, Webhook


@pytest.fixture
def allow_loopback(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    settings.WEBHOOKS_RETRY_BASE_SECONDS = 1


def hook(owner, url, events=(Event.ADAPTER_TRAINING_FAILED,), **kwargs) -> Webhook:
    return services.create_webhook(user=owner, url=url, events=list(events), **kwargs)


def training_adapter(owner, name="hooked"):
    project = project_services.create_project(user=owner, name=f"p-{name}")
    adapter = adapter_services.create_adapter(user=owner, project=project, name=name)
    Adapter.objects.filter(pk=adapter.pk).update(status=Adapter.Status.TRAINING_IN_PROGRESS)
    adapter.refresh_from_db()
    return adapter


def expected_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.django_db
def test_an_event_is_posted_as_signed_json_to_each_subscribed_webhook(owner, receiver, allow_loopback):
    subscribed = hook(owner, receiver.url)
    hook(owner, receiver.url + "/other", events=[Event.BULK_JOB_SUCCEEDED])
    hook(owner, receiver.url + "/paused", active=False)
    adapter = training_adapter(owner)
    adapter_services.fail_training(adapter=adapter, message="not enough images")

    (delivery,) = Delivery.objects.all()
    assert (delivery.webhook, delivery.event, delivery.status) == (
        subscribed,
        Event.ADAPTER_TRAINING_FAILED,
        "pending",
    )
    assert services.attempt_delivery(delivery_id=delivery.pk) is None
    (request,) = receiver.requests
    assert request.headers["X-Webhook-Signature"] == expected_signature(subscribed.secret, request.body)
    assert request.headers["X-Webhook-Event"] == "adapter.training_failed"
    assert request.headers["X-Webhook-Delivery"] == str(delivery.uuid)
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.body)
    assert body["event"] == "adapter.training_failed" and body["id"] == str(delivery.uuid)
    assert body["data"]["adapter"] == {
        "type": "adapter",
        "id": adapter.pk,
        "name": "hooked",
        "status": "TRAINING_FAILED",
        "arn": adapter.arn,
    }
    assert body["data"]["message"] == "not enough images"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.response_code, delivery.attempts) == ("succeeded", 200, 1)
    assert delivery.last_attempt_at and delivery.duration_ms is not None


@pytest.mark.django_db
def test_training_completed_deprecated_and_bulk_job_events_are_emitted_where_they_happen(owner, settings):
    from console.backends.base import TrainingStatus

    every = [value for value, _ in services.SUBSCRIBABLE]
    hook(owner, "https://hooks.example.com/all", events=every)
    adapter = training_adapter(owner, "done")
    adapter_services.finish_training(
        adapter=adapter, result=TrainingStatus(status=Adapter.Status.TRAINING_COMPLETED, f1_score=0.9)
    )
    Adapter.objects.filter(pk=adapter.pk).update(base_model_version="0.1")  # trained on an older engine
    adapter_services.check_base_model_versions()
    job = finished_job(owner, [{"Alcohol": 80.0}], name="hooked-job")
    BulkAnalysisJob.objects.filter(pk=job.pk).update(status=BulkAnalysisJob.Status.IN_PROGRESS)
    job.refresh_from_db()
    runner.finish_if_done(job=job)
    failing = finished_job(owner, [{}], name="failing-job")
    BulkAnalysisJob.objects.filter(pk=failing.pk).update(status=BulkAnalysisJob.Status.IN_PROGRESS)
    failing.refresh_from_db()
    runner.fail_job(job=failing, code="InternalServerError", message="the backend is down")

    events = {d.event: json.loads(d.body)["data"] for d in Delivery.objects.all()}
    assert set(events) == {
        "adapter.training_completed",
        "adapter.deprecated",
        "bulk_job.succeeded",
        "bulk_job.failed",
    }
    assert events["adapter.training_completed"]["f1_score"] == 0.9
    assert "Trained on base model 0.1" in events["adapter.deprecated"]["message"]
    assert (
        events["bulk_job.succeeded"]["analysed"] == 1 and events["bulk_job.succeeded"]["job_id"] == job.job_id
    )
    assert events["bulk_job.failed"]["bulkanalysisjob"]["name"] == "failing-job"


@pytest.mark.django_db
def test_cancelling_a_training_emits_training_failed(owner, owner_client):
    hook(owner, "https://hooks.example.com/failed")
    adapter = training_adapter(owner, "cancelled")

    owner_client.post(reverse("adapters-cancel", args=[adapter.pk]))

    (delivery,) = Delivery.objects.all()
    assert delivery.event == Event.ADAPTER_TRAINING_FAILED
    data = json.loads(delivery.body)["data"]
    assert (data["adapter"]["id"], data["adapter"]["status"]) == (adapter.pk, "TRAINING_FAILED")
    assert data["message"].startswith("Cancelled by owner")
    owner_client.post(reverse("adapters-cancel", args=[adapter.pk]))  # nothing left to cancel
    assert Delivery.objects.count() == 1


@pytest.mark.django_db
def test_a_server_error_is_retried_with_backoff_and_a_client_error_is_not(owner, receiver, allow_loopback):
    receiver.answers = [(503, {}, b"busy"), (500, {}, b"still busy"), (200, {}, b"ok")]
    delivery = services.send_test(user=owner, webhook=hook(owner, receiver.url))
    assert services.attempt_delivery(delivery_id=delivery.pk) == 1.0
    assert services.attempt_delivery(delivery_id=delivery.pk) == 2.0
    delivery.refresh_from_db()
    assert (delivery.status, delivery.response_code, delivery.attempts) == ("pending", 500, 2)
    assert "Attempt 2 of 8; next in 2 s" in delivery.error and delivery.next_attempt_at
    assert services.attempt_delivery(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.response_code, delivery.attempts, delivery.error) == (
        "succeeded",
        200,
        3,
        "",
    )
    # Every attempt sent the same bytes with the same signature.
    assert len({(r.body, r.headers["X-Webhook-Signature"]) for r in receiver.requests}) == 1

    receiver.answers, receiver.requests = [(404, {}, b"no such hook")], []
    gone = services.send_test(user=owner, webhook=hook(owner, receiver.url))
    assert services.attempt_delivery(delivery_id=gone.pk) is None
    gone.refresh_from_db()
    assert (gone.status, gone.response_code, gone.error) == ("failed", 404, "The receiver answered HTTP 404.")
    assert gone.response_excerpt == "no such hook"


@pytest.mark.django_db
def test_it_gives_up_after_the_last_attempt(owner, receiver, allow_loopback):
    receiver.answers = [(502, {}, b"")]
    delivery = services.send_test(user=owner, webhook=hook(owner, receiver.url))
    waits = [services.attempt_delivery(delivery_id=delivery.pk) for _ in range(services.MAX_ATTEMPTS)]
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, None]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", services.MAX_ATTEMPTS)
    assert services.attempt_delivery(delivery_id=delivery.pk) is None  # finished: nothing sent
    assert len(receiver.requests) == services.MAX_ATTEMPTS


@pytest.mark.django_db
def test_without_the_setting_a_loopback_receiver_is_never_called(owner, receiver, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    webhook = hook(owner, receiver.url)  # registered while allowed
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    delivery = services.send_test(user=owner, webhook=webhook)
    assert services.attempt_delivery(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 1 and delivery.response_code is None
    assert "Not sent: 127.0.0.1 is a loopback address" in delivery.error
    assert receiver.requests == []


@pytest.mark.django_db
def test_a_redirect_fails_the_delivery_without_being_followed(owner, receiver, allow_loopback):
    receiver.answers = [(301, {"Location": receiver.url + "/moved"}, b"")]
    delivery = services.send_test(user=owner, webhook=hook(owner, receiver.url))
    assert services.attempt_delivery(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.response_code) == ("failed", 301)
    assert "redirects are not followed" in delivery.error
    assert [r.path for r in receiver.requests] == ["/hook"]


@pytest.mark.django_db
def test_an_attempt_that_runs_out_of_time_fails_the_delivery(
    owner, receiver, allow_loopback, soft_time_limit
):
    answer = threading.Event()

    def hold_the_answer():  # the soft limit passes while the worker waits for the receiver
        soft_time_limit()
        answer.wait(timeout=60)

    receiver.before_answer = hold_the_answer
    delivery = services.send_test(user=owner, webhook=hook(owner, receiver.url))
    try:
        tasks.deliver(delivery.pk)
    finally:
        answer.set()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.error == (
        "Not delivered: the attempt took longer than 2 minutes and was stopped; "
        "check that the receiver answers quickly, then send a test event."
    )
    assert tasks.deliver.soft_time_limit == tasks.DELIVER_SOFT_TIME_LIMIT < tasks.deliver.time_limit


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_an_event_retrying_a_busy_receiver(
    owner, receiver, tmp_path, monkeypatch, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    monkeypatch.setenv("WEBHOOKS_ALLOW_PRIVATE_ADDRESSES", "true")  # the worker's settings
    monkeypatch.setenv("WEBHOOKS_RETRY_BASE_SECONDS", "1")
    receiver.answers = [(503, {}, b"busy"), (200, {}, b"thanks")]
    webhook = hook(owner, receiver.url)
    worker = WorkerProcess(log_path=tmp_path / "worker.log")
    try:
        adapter_services.fail_training(
            adapter=training_adapter(owner), message="the worker ran out of memory"
        )
        delivery = Delivery.objects.get(webhook=webhook)

        def delivered():
            delivery.refresh_from_db()
            return delivery.status != Delivery.Status.PENDING

        wait_for(delivered, timeout=60, message="the delivery to finish")
    finally:
        worker.stop()
    assert (delivery.status, delivery.attempts, delivery.response_code) == ("succeeded", 2, 200)
    assert delivery.response_excerpt == "thanks"
    first, second = receiver.requests
    assert (
        first.body == second.body
        and json.loads(first.body)["data"]["message"] == "the worker ran out of memory"
    )
    assert second.headers["X-Webhook-Signature"] == expected_signature(webhook.secret, second.body)
