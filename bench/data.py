"""Bench data: generated images, and rows bulk-inserted straight into the database for volume."""

from __future__ import annotations

import random

from django.utils import timezone

from adapters.models import DatasetCount, Image, ImageLabel
from adapters.services import create_adapter
from bulk_analysis.models import BulkAnalysisJob, Prediction
from moderation import taxonomy
from projects import services as projects
from tests.conftest import make_image_bytes
from tests.engine.imagegen import LABEL, TRAIN_PHOTOS, symbol_set
from verification import services as verification
from verification.models import ImageReview, Verification

BATCH = 2000  # rows per INSERT
REVIEWED = 100  # verified images in a job, the same at every volume (a reviewer's day, not a %)


def photos(n: int, seed: int = 1) -> list[tuple[bytes, list[str]]]:
    """n JPEG crops of real photos (200-320 px): half carry a drawn symbol labeled Hate Symbols."""
    return symbol_set(TRAIN_PHOTOS, n, seed=seed)


def small_jpegs(n: int) -> list[bytes]:
    """n distinct small JPEGs (120 x 100), for imports where the pixels do not matter."""
    return [make_image_bytes(120, 100, color=(i % 200, (i // 200) % 200, 90), seed=i) for i in range(n)]


def labeling_dataset(user, n: int):
    """A draft adapter with n training images: a third unlabeled, a third safe, a third labeled
    with two labels each (so that at 1,000 images a grid filtered to one label fills its page,
    as at 500,000: a page of fewer cards is not the same page)."""
    project = projects.create_project(user=user, name=f"bench-grid-{n}")
    adapter = create_adapter(user=user, project=project, name="grid")
    now = timezone.now()
    states = [Image.LabelState.UNLABELED, Image.LabelState.SAFE, Image.LabelState.LABELED]
    for start in range(0, n, BATCH):
        rows = [
            Image(
                adapter=adapter,
                file=f"datasets/{adapter.pk}/{i:064d}.jpg",
                thumbnail=f"datasets/{adapter.pk}/thumbnails/{i:064d}.jpg",
                original_name=f"img{i}.jpg",
                sha256=f"{i:064d}",
                size=20_000,
                format="JPEG",
                width=320,
                height=240,
                source=Image.Source.UPLOAD,
                split=Image.Split.TRAIN,
                label_state=states[i % 3],
                labeled_at=now if i % 3 else None,
            )
            for i in range(start, min(n, start + BATCH))
        ]
        Image.objects.bulk_create(rows)
        ImageLabel.objects.bulk_create(
            ImageLabel(image=image, name=taxonomy.TOP_LEVEL[(i + k) % len(taxonomy.TOP_LEVEL)])
            for i, image in enumerate(rows)
            if image.label_state == Image.LabelState.LABELED
            for k in (0, 1)
        )
    DatasetCount.objects.recount(adapter)  # rows written around the services: count them once
    return adapter


def _tops(rng: random.Random) -> dict[str, float]:
    k = rng.choice([0, 0, 1, 1, 2])
    return {name: round(rng.uniform(5, 99.9), 2) for name in rng.sample(taxonomy.TOP_LEVEL, k)}


def finished_job(user, n: int, *, reviewed: int = REVIEWED, seed: int = 0) -> BulkAnalysisJob:
    """A SUCCEEDED job with n predictions (0-2 top-level labels each) and `reviewed` verified images."""
    rng = random.Random(seed)
    job = BulkAnalysisJob.objects.create(
        name=f"bench-{n}",
        min_confidence=5.0,
        status=BulkAnalysisJob.Status.IN_PROGRESS,
        total_images=n,
        created_by=user,
        base_model_version="7.0",
        started_at=timezone.now(),
        output_prefix="bench/output",
    )
    now = timezone.now()
    for start in range(0, n, BATCH):
        rows = []
        for line in range(start + 1, min(n, start + BATCH) + 1):
            tops = _tops(rng)
            labels = [
                {"Name": name, "ParentName": "", "TaxonomyLevel": 1, "Confidence": conf}
                for name, conf in tops.items()
            ]
            rows.append(
                Prediction(
                    job=job,
                    line=line,
                    source_ref=f"s3://console-local/bench/{n}/{line}.jpg",
                    state=Prediction.State.DONE,
                    response={"ModerationLabels": labels, "ModerationModelVersion": "7.0"},
                    top_labels=tops,
                    max_confidence=max(tops.values(), default=0.0),
                    finished_at=now,
                    seconds=0.05,
                )
            )
        Prediction.objects.bulk_create(rows)
    # Finished as a worker finishes it: results manifest, summary, SUCCEEDED.
    from bulk_analysis import runner

    assert runner.finish_if_done(job=job), "the bench job did not finish"
    verify = list(job.predictions.order_by("line")[:reviewed])
    ImageReview.objects.bulk_create(ImageReview(prediction=p, job=job, user=user) for p in verify)
    Verification.objects.bulk_create(
        Verification(
            prediction=p,
            job=job,
            label=name,
            verdict=rng.choice(["correct", "incorrect"]),
            threshold=50,
            user=user,
        )
        for p in verify
        for name in p.top_labels
    )
    verification.recount_tallies(job=job)  # the rows were written directly: the verify page's tallies
    job.refresh_from_db()
    return job


__all__ = ["LABEL", "finished_job", "labeling_dataset", "photos", "small_jpegs"]


# ---------------------------------------------------------------- every page's world (bench/pages.py)

PROJECTS = 1_000  # projects, each with an adapter, at every size (the landing page)
JOBS = 200  # bulk analysis jobs at every size, of mixed sizes
UNREAD = 20  # unread notifications: a person reads theirs; the read ones pile up


def _job_sizes(n: int, jobs: int) -> list[int]:
    """`jobs` sizes summing to about n: one job of half the images, the rest shared unevenly."""
    rng = random.Random(n)
    weights = [rng.uniform(0.2, 3.0) for _ in range(jobs - 1)]
    rest = n - n // 2
    return [n // 2] + [max(1, round(rest * w / sum(weights))) for w in weights]


def page_world(user, n: int, *, projects: int = PROJECTS, jobs: int = JOBS) -> dict:
    """What every page of the console acts on, with about n images behind it: n dataset images
    (one adapter holds them), n predictions over JOBS jobs, n/10 verdicts, n audit entries, n
    notifications, n/10 API requests and n embeddings; `projects` projects with an adapter each.

    Returns the objects the pages' URL parameters are filled from (bench/pages.py).
    """
    from django.contrib.auth.models import Group

    from adapters.models import Adapter
    from console.models import AuditEntry, ImageEmbedding, LoginFailure, Notification, WorkerHeartbeat
    from projects.models import Project
    from rekognition_api.keys import create_api_key
    from rekognition_api.models import ApiRequest
    from tests.adapters.conftest import finished_evaluation, finished_test_results

    now = timezone.now()
    projects_ = Project.objects.bulk_create(
        Project(name=f"bench-p{i:04d}", arn=Project.build_arn(f"bench-p{i:04d}"), created_by=user)
        for i in range(projects)
    )
    Adapter.objects.bulk_create(
        Adapter(project=p, name="a1", arn=Adapter.build_arn(p.name, "a1"), created_by=user) for p in projects_
    )
    adapter = labeling_dataset(user, n)  # the draft adapter with the n dataset images
    trained = create_adapter(user=user, project=adapter.project, name="trained")
    Adapter.objects.filter(pk=trained.pk).update(
        status=Adapter.Status.TRAINING_COMPLETED,
        base_model_version="7.0",
        evaluation=finished_evaluation(trained.arn),
        test_results=finished_test_results(trained.arn),
        f1_score=0.8,
        training_started_at=now,
        training_ended_at=now,
        training_seconds=12.5,
    )
    trained.refresh_from_db()
    sizes = _job_sizes(n, jobs)
    jobs = [finished_job(user, size, reviewed=0, seed=i) for i, size in enumerate(sizes)]
    big = jobs[0]
    reviewed = list(big.predictions.order_by("line")[: max(1, n // 10)])
    rng = random.Random(n)
    for start in range(0, len(reviewed), BATCH):
        chunk = reviewed[start : start + BATCH]
        ImageReview.objects.bulk_create(ImageReview(prediction=p, job=big, user=user) for p in chunk)
        Verification.objects.bulk_create(
            Verification(
                prediction=p,
                job=big,
                label=name,
                verdict=rng.choice(["correct", "incorrect"]),
                threshold=50,
                user=user,
            )
            for p in chunk
            for name in p.top_labels
        )
    verification.recount_tallies(job=big)  # as above
    for start in range(0, n, BATCH):
        count = min(BATCH, n - start)
        AuditEntry.objects.bulk_create(
            AuditEntry(
                user=user,
                action="image.label",
                object_type="adapters.image",
                object_id=str(start + i),
                project=adapter.project if i % 2 else projects_[i % projects],
                project_name=adapter.project.name if i % 2 else projects_[i % projects].name,
                detail={"add": ["Alcohol"]},
            )
            for i in range(count)
        )
        Notification.objects.bulk_create(
            Notification(user=user, message=f"Job {start + i} finished", link="/bulk-analysis/", read_at=now)
            for i in range(count)
        )
        ImageEmbedding.objects.bulk_create(
            ImageEmbedding(sha256=f"{start + i:064x}", model_version="bench", vector=b"\0" * 16)
            for i in range(count)
        )
    Notification.objects.bulk_create(Notification(user=user, message=f"unread {i}") for i in range(UNREAD))
    LoginFailure.objects.bulk_create(
        LoginFailure(username=f"guess{i}", ip="192.0.2.1") for i in range(max(1, n // 10))
    )
    WorkerHeartbeat.objects.create(hostname="bench-worker", seen_at=now)
    Group.objects.create(name="bench-reviewers")
    key, _secret = create_api_key(user=user)
    ApiRequest.objects.bulk_create(
        ApiRequest(
            user=user, operation="StartMediaAnalysisJob", params_sha256="0" * 64, resource_id=f"job-{i}"
        )
        for i in range(max(1, n // 10))
    )
    from exports import services as exports
    from hashbanks import services as hashbanks
    from webhooks import services as webhooks

    bank = hashbanks.create_bank(user=user, name="bench-bank", kind="allow")
    hashes = "\n".join(f"{i:064x}" for i in range(1, 51)).encode()
    hashbanks.import_hash_list(user=user, bank=bank, data=hashes, name="bench.txt")
    webhooks.create_webhook(user=user, url="https://hooks.example.com/bench", events=["bulk_job.failed"])
    export = exports.start_adapter_manifest(user=user, adapter=trained, split="train")
    exports.run_export(export_id=export.pk)
    from quality.models import LabelCheck, SuspectedLabelError

    suspects = max(1, n // 10)
    check = LabelCheck.objects.create(
        adapter=adapter, status=LabelCheck.Status.DONE, created_by=user, found=suspects
    )
    SuspectedLabelError.objects.bulk_create(
        SuspectedLabelError(
            label_check=check, image=image, label="Alcohol", given=False, probability=0.9, score=1 - i / n
        )
        for i, image in enumerate(adapter.images.order_by("pk")[:suspects])
    )
    return {
        "project": adapter.project,
        "adapter": adapter,
        "trained": trained,
        "image": adapter.images.order_by("pk").first(),
        "job": big,
        "api_key": key,
    }
