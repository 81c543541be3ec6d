"""Adapters, datasets and finished trainings for the adapter tests."""

import io
import random

import pytest
from django.conf import settings
from PIL import Image as PILImage
from PIL import ImageDraw

from adapters.models import Adapter, Image, ImageLabel
from console.lib import storage
from moderation.engine.evaluation import evaluate
from projects.models import Project

BUCKET = settings.STORAGE_BUCKET  # console-local on disk, the real bucket on S3


def alcohol_image(seed: int) -> bytes:
    """A drawn bottle and glass on a warm table: the "Alcohol" family."""
    rng = random.Random(seed)
    img = PILImage.new(
        "RGB", (224, 224), (rng.randint(200, 240), rng.randint(170, 200), rng.randint(120, 150))
    )
    draw = ImageDraw.Draw(img)
    x = rng.randint(40, 120)
    glass = (rng.randint(20, 60), rng.randint(80, 120), rng.randint(20, 50))
    draw.rectangle([x, 90, x + 40, 200], fill=glass)
    draw.rectangle([x + 12, 40, x + 28, 90], fill=glass)
    draw.rectangle([x + 5, 120, x + 35, 160], fill=(240, 230, 200))
    gx = rng.randint(150, 180)
    draw.polygon([(gx, 130), (gx + 36, 130), (gx + 18, 170)], fill=(150, 20, 40))
    draw.line([(gx + 18, 170), (gx + 18, 200)], fill=(200, 200, 200), width=3)
    return _jpeg(img)


def safe_image(seed: int) -> bytes:
    """Blue sky over green hills: the safe family."""
    rng = random.Random(10_000 + seed)
    img = PILImage.new(
        "RGB", (224, 224), (rng.randint(90, 130), rng.randint(150, 190), rng.randint(220, 250))
    )
    draw = ImageDraw.Draw(img)
    h = rng.randint(110, 150)
    draw.ellipse(
        [-60, h, 160, h + 200], fill=(rng.randint(30, 70), rng.randint(130, 170), rng.randint(30, 60))
    )
    draw.ellipse(
        [80, h + 20, 300, h + 220], fill=(rng.randint(40, 80), rng.randint(110, 150), rng.randint(30, 60))
    )
    sx = rng.randint(20, 180)
    draw.ellipse([sx, 20, sx + 30, 50], fill=(255, 230, 90))
    return _jpeg(img)


def _jpeg(img) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture(autouse=True)
def files(request, settings, tmp_path):
    """Each test stores files in its own folder; tests with a worker process share the data folder."""
    if request.node.get_closest_marker("worker"):
        return None
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path},
        },
    }
    return tmp_path


@pytest.fixture
def project(owner):
    return Project.objects.create(
        name="shop", arn=Project.build_arn("shop"), created_by=owner, auto_update=False
    )


def make_adapter(project, name="v1", **fields) -> Adapter:
    return Adapter.objects.create(
        project=project,
        name=name,
        arn=Adapter.build_arn(project.name, name),
        created_by=project.created_by,
        **fields,
    )


@pytest.fixture
def adapter(project):
    return make_adapter(project)


def add_image(adapter, data: bytes, labels=(), *, safe=False, split="train", name=None) -> Image:
    name = name or f"img-{adapter.images.count()}.jpg"
    stored = storage.save(f"datasets/{adapter.pk}/{name}", data)
    if labels:
        state = Image.LabelState.LABELED
    elif safe:
        state = Image.LabelState.SAFE
    else:
        state = Image.LabelState.UNLABELED
    image = Image.objects.create(
        adapter=adapter,
        file=stored,
        original_name=name,
        sha256=f"{hash((adapter.pk, stored, split)) & (2**64 - 1):064x}",
        size=len(data),
        format="JPEG",
        width=224,
        height=224,
        source=Image.Source.UPLOAD,
        split=split,
        label_state=state,
    )
    for label in labels:
        ImageLabel.objects.create(image=image, name=label)
    return image


def add_dataset(adapter, positives=8, negatives=8, *, split="train", offset=0):
    if split == "test":  # as when the adapter was created with a test manifest
        Adapter.objects.filter(pk=adapter.pk).update(test_data=Adapter.TestData.MANIFEST)
        adapter.test_data = Adapter.TestData.MANIFEST
    for i in range(positives):
        add_image(
            adapter,
            alcohol_image(offset + i),
            ["Alcohol"],
            split=split,
            name=f"{split}-alcohol-{offset + i}.jpg",
        )
    for i in range(negatives):
        add_image(
            adapter, safe_image(offset + i), safe=True, split=split, name=f"{split}-safe-{offset + i}.jpg"
        )


# A finished evaluation made with the engine's own evaluate(), on made-up predictions:
# 10 test images, 5 with Alcohol. The adapter's Alcohol confidences separate them better.
TRUTH = [["Alcohol"]] * 5 + [[]] * 5
BASE = [{"Alcohol": c} for c in (80, 60, 40, 20, 10)] + [{"Alcohol": c} for c in (70, 55, 30, 0, 0)]
ADAPTED = [{"Alcohol": c} for c in (95, 90, 85, 70, 30)] + [{"Alcohol": c} for c in (60, 20, 10, 5, 0)]


def finished_evaluation(arn: str, threshold: float = 50.0) -> dict:
    return evaluate(
        truth=TRUTH,
        base=BASE,
        adapter=ADAPTED,
        labels=["Alcohol"],
        threshold=threshold,
        adapter_arn=arn,
        training_images=40,
    )


def finished_test_results(arn: str) -> list[dict]:
    def section(preds):
        return {
            "ModerationLabels": [
                {"Name": k, "Confidence": float(v), "ParentName": ""} for k, v in preds.items() if v >= 5
            ]
        }

    return [
        {
            "source-ref": f"s3://{BUCKET}/datasets/t{i}.jpg",
            "content-moderation-groundtruth": {"ModerationLabels": [{"Name": n} for n in truth]},
            "detect-moderation-labels": {**section(a), "ProjectVersion": arn},
            "detect-moderation-labels-base-model": section(b),
        }
        for i, (truth, b, a) in enumerate(zip(TRUTH, BASE, ADAPTED, strict=True))
    ]


@pytest.fixture
def trained(project):
    """A TRAINING_COMPLETED adapter with a stored evaluation (threshold 50)."""
    from django.utils import timezone

    adapter = make_adapter(
        project, "trained", status=Adapter.Status.TRAINING_COMPLETED, base_model_version="7.0"
    )
    adapter.evaluation = finished_evaluation(adapter.arn)
    adapter.test_results = finished_test_results(adapter.arn)
    adapter.f1_score = adapter.evaluation["AggregatedEvaluationResults"]["F1Score"]
    adapter.training_started_at = timezone.now()
    adapter.training_ended_at = timezone.now()
    adapter.training_seconds = 12.5
    adapter.tags = {"team": "trust-safety"}
    adapter.locations = {"evaluation": f"s3://{BUCKET}/adapters/1/output/evaluation.json"}
    adapter.save()
    return adapter
