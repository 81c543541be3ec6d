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
    """A draft adapter with n training images: a third unlabeled, a third safe, a third labeled."""
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
            ImageLabel(image=image, name=taxonomy.TOP_LEVEL[i % len(taxonomy.TOP_LEVEL)])
            for i, image in enumerate(rows)
            if image.label_state == Image.LabelState.LABELED
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
    job.refresh_from_db()
    return job


__all__ = ["LABEL", "finished_job", "labeling_dataset", "photos", "small_jpegs"]
