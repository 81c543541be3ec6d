"""The backend seam: one interface for moderation, two implementations (local, aws).

Services and tasks call `get_backend()` and nothing else talks to a moderation
model. Shapes follow Rekognition: labels are dicts with Name, ParentName,
TaxonomyLevel and Confidence; a detect result is a DetectModerationLabels response.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

# The seam's error and file address live in console.lib, which storage and S3 share with the backends.
from console.lib.refs import BackendError, ImageRef


@dataclass
class ManifestEntry:
    """One line of a content-moderation-groundtruth manifest: an image and its top-level labels ([] = safe)."""

    image: ImageRef
    labels: list[str]


LEASE_LOST = "LeaseLost"  # BackendError code: the work was taken over by another worker


@dataclass
class TrainingSpec:
    project_arn: str
    adapter_arn: str  # the ARN this console gave the adapter; aws replaces it with AWS's
    version_name: str
    training: list[ManifestEntry]
    testing: list[ManifestEntry] | None  # None: autosplit (a deterministic 80/20 split)
    confidence_threshold: float = 50.0
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    kms_key_id: str = ""
    output_prefix: str = ""  # where manifests and results are written (bucket is the backend's)
    # False once another worker took the training over: the backend then writes nothing and raises
    # BackendError(LEASE_LOST), so an adapter's files are written by one worker only.
    still_held: Callable[[], bool] | None = None


@dataclass
class TrainingStatus:
    status: str  # TRAINING_IN_PROGRESS | TRAINING_COMPLETED | TRAINING_FAILED
    message: str = ""
    adapter_arn: str = ""
    base_model_version: str = ""
    evaluation: dict[str, Any] | None = None  # the evaluation document (spec 5.1)
    f1_score: float | None = None
    # The test output manifest lines (spec 2.4): ground truth, adapter and base model predictions.
    test_results: list[dict[str, Any]] = field(default_factory=list)
    training_seconds: float | None = None
    # Where training wrote its files, as s3:// URIs, for the adapter's details tab.
    locations: dict[str, str] = field(default_factory=dict)


@dataclass
class BulkStatus:
    status: str  # CREATED | QUEUED | IN_PROGRESS | SUCCEEDED | FAILED
    message: str = ""
    # One per input line: {"line": n, "source-ref": uri, "detect-moderation-labels": {...}}
    # or {"line": n, "source-ref": uri, "code": ..., "message": ...} for an image that failed.
    results: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class VerificationMinimums:
    """What training from verification needs: for at least one label, verified false positives
    >= false_positives OR false negatives >= false_negatives; and test_images test images."""

    false_positives: int
    false_negatives: int
    test_images: int


class ModerationBackend(ABC):
    """A moderation backend. Callers ask it what it can do (the attributes below), never its name."""

    name: str
    # Where training runs, for messages: "on AWS", "on this console's local engine".
    where: str
    # Images a training needs: training images (after the autosplit) and test images.
    min_training_images: int
    min_test_images: int
    # What training from verified predictions needs (the tutorial's gate on AWS).
    verification_minimums: VerificationMinimums
    # Whether the backend reads S3 objects itself; if not, the console copies them into its storage.
    reads_foreign_buckets: bool
    # Whether the backend keeps its own adapter lifecycle (DEPRECATED/EXPIRED) to poll.
    reports_adapter_lifecycle: bool
    # Whether the backend has a bulk analysis API; when it has one but refuses it (start_bulk_analysis
    # returns None), the job falls back to DetectModerationLabels image by image.
    has_bulk_api: bool
    # The list price of one analysed image in US dollars, None when free; the time assumed for one
    # image until this deployment has measured its own.
    price_per_image_usd: float | None
    default_seconds_per_image: float

    def prepare(self) -> None:  # noqa: B027 - a hook with nothing to do by default
        """Make the backend ready to answer (load or build its models)."""

    @property
    def snippet_endpoint_url(self) -> str:
        """The endpoint_url the "Use adapter" snippets need: "" where the AWS default serves."""
        return ""

    @property
    @abstractmethod
    def base_model_version(self) -> str: ...

    @abstractmethod
    def create_project(self, *, name: str, auto_update: bool, tags: dict[str, str]) -> str:
        """Create a CONTENT_MODERATION project; returns its ARN (the backend's own), or "" when the
        backend keeps no projects of its own and the console's ARN is the only one."""

    @abstractmethod
    def delete_project(self, *, project_arn: str) -> None: ...

    @abstractmethod
    def start_training(self, *, spec: TrainingSpec) -> TrainingStatus:
        """Start training an adapter. The local backend trains before it returns."""

    @abstractmethod
    def training_status(self, *, project_arn: str, adapter_arn: str, version_name: str) -> TrainingStatus: ...

    @abstractmethod
    def delete_adapter(self, *, adapter_arn: str) -> None: ...

    @abstractmethod
    def detect_moderation_labels(
        self,
        *,
        image: bytes | ImageRef,
        min_confidence: float = 50.0,
        adapter_arn: str | None = None,
    ) -> dict[str, Any]:
        """A DetectModerationLabels response: ModerationLabels, ModerationModelVersion, ProjectVersion."""

    @abstractmethod
    def start_bulk_analysis(
        self,
        *,
        job_name: str,
        images: list[ImageRef],
        min_confidence: float,
        adapter_arn: str | None,
        output_prefix: str,
    ) -> str | None:
        """Start a bulk job; returns the backend's job id, or None when the caller
        must analyse the images one by one with detect_moderation_labels (the local
        engine, or an AWS account refused bulk analysis)."""

    @abstractmethod
    def bulk_analysis_status(self, *, job_id: str) -> BulkStatus: ...

    def detect_moderation_labels_many(
        self,
        *,
        images: list[ImageRef],
        min_confidence: float = 50.0,
        adapter_arn: str | None = None,
    ) -> Iterator[dict[str, Any] | Exception]:
        """detect_moderation_labels on each image in turn: yields each response, or the exception
        raised for it. A backend that can overlap the work (the local engine) does better."""
        for image in images:
            try:
                yield self.detect_moderation_labels(
                    image=image, min_confidence=min_confidence, adapter_arn=adapter_arn
                )
            except Exception as exc:  # noqa: BLE001 - the caller records each image's failure
                yield exc


_REGISTRY: dict[str, str] = {
    "local": "console.backends.local.LocalBackend",
    "aws": "console.backends.aws.AwsBackend",
}
_instances: dict[str, ModerationBackend] = {}


def get_backend(name: str | None = None) -> ModerationBackend:
    """The configured backend (settings.MODERATION_BACKEND), one instance per process."""
    name = name or settings.MODERATION_BACKEND
    if name not in _instances:
        if name not in _REGISTRY:
            raise BackendError("InvalidParameterException", f"unknown moderation backend {name!r}")
        _instances[name] = import_string(_REGISTRY[name])()
    return _instances[name]
