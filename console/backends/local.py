"""The local backend: the ONNX engine in this process, files through Django's storage.

Training is synchronous: start_training embeds the images (each image is
embedded once per base model version and kept in ImageEmbedding), fits the
adapter, evaluates it on the test set and writes its files before it returns.

An adapter's files live under ``adapters/<sha1 of its ARN>/`` so that detect and
training_status find them from the ARN alone: ``adapter.npz`` (the heads, no
pickle) and ``status.json`` (where the evaluation and output manifests went).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from console.lib import storage
from console.models import ImageEmbedding
from moderation.engine import MAX_BYTES, MAX_STORED_BYTES, Analysis, Engine, EngineError, heads
from moderation.engine.evaluation import autosplit, evaluate
from moderation.engine.taxonomy_map import top_level_confidences

from .base import (
    LEASE_LOST,
    BackendError,
    BulkStatus,
    ImageRef,
    ManifestEntry,
    ModerationBackend,
    TrainingSpec,
    TrainingStatus,
    VerificationMinimums,
)

# The local engine trains on far fewer images than AWS asks for (50 FN or 20 FP, 20 test
# images): these are the least that give a fit and an evaluation at all.
MIN_TRAINING_IMAGES = 10
MIN_TEST_IMAGES = 2
# Output manifests hold predictions at this confidence, as AWS's do (spec 2.4).
OUTPUT_MIN_CONFIDENCE = 5.0
# detect_moderation_labels_many reads this many images (at most this many bytes) ahead: one
# embedding-cache query for them all, and bounded memory for 15 MB images.
READ_AHEAD = 25
READ_AHEAD_BYTES = 64 * 1024 * 1024

logger = logging.getLogger(__name__)

_engines: dict[tuple, Engine] = {}
_engine_lock = threading.Lock()
_heads: dict[str, heads.AdapterHead] = {}


def _engine_settings() -> tuple[str, bool, bool]:
    return settings.LOCAL_MODEL_VERSION, settings.LOCAL_ENGINE_NUDENET, settings.LOCAL_ENGINE_INT8


def engine() -> Engine:
    """The process's Engine for the settings (one per process in practice); its networks load
    on first use. Converted and quantized models are cached in the data folder's models/."""
    key = _engine_settings()
    with _engine_lock:
        if key not in _engines:
            version, nudenet, int8 = key
            try:
                _engines[key] = Engine(
                    threads=settings.LOCAL_ENGINE_THREADS,
                    model_dir=settings.DATA_DIR / "models",
                    version=version,
                    detector=nudenet,
                    int8=int8,
                )
            except EngineError as exc:
                raise BackendError(exc.code, f"LOCAL_MODEL_VERSION: {exc.message}", retryable=False) from None
        return _engines[key]


def embedding_version() -> str:
    """What ImageEmbedding rows are keyed by: the base model version, and how its networks ran
    (without NudeNet, in float32 for all), since those change the stored labels and vectors."""
    version, nudenet, int8 = _engine_settings()
    return version + ("" if nudenet else "-nudenet") + ("" if int8 else "-float32")


def adapter_dir(adapter_arn: str) -> str:
    return f"adapters/{hashlib.sha1(adapter_arn.encode()).hexdigest()}"


def _put(name: str, data: bytes) -> str:
    """Write bytes at exactly `name`, replacing what was there."""
    if default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(data))


def _get(name: str) -> bytes | None:
    if not default_storage.exists(name):
        return None
    with default_storage.open(name, "rb") as fh:
        return fh.read()


def _check_size(data: bytes, max_bytes: int) -> None:
    if len(data) > max_bytes:
        raise BackendError(
            "ImageTooLargeException", f"image is {len(data):,} bytes; the limit is {max_bytes:,} bytes"
        )


def _check_confidence(min_confidence: float) -> None:
    if not 0 <= min_confidence <= 100:
        raise BackendError(
            "InvalidParameterException", f"MinConfidence {min_confidence} is not between 0 and 100"
        )


def _named(exc: BackendError, ref: ImageRef) -> BackendError:
    """The error naming the image, once: read_ref's messages already start with its URI."""
    message = exc.message if exc.message.startswith(ref.uri) else f"{ref.uri}: {exc.message}"
    return BackendError(exc.code, message, retryable=exc.retryable)


def _read_ahead(images: list[ImageRef]) -> Iterator[list[tuple[ImageRef, bytes | Exception, str]]]:
    """The images in batches of (image, its bytes or the error reading them, sha256): at most
    READ_AHEAD images or READ_AHEAD_BYTES bytes held at once."""
    batch: list[tuple[ImageRef, bytes | Exception, str]] = []
    size = 0
    for ref in images:
        try:
            data = storage.read_ref(ref, max_bytes=MAX_STORED_BYTES)
            _check_size(data, MAX_STORED_BYTES)
            batch.append((ref, data, hashlib.sha256(data).hexdigest()))
            size += len(data)
        except BackendError as exc:
            batch.append((ref, _named(exc, ref), ""))
        except Exception as exc:  # noqa: BLE001 - handed to the caller, as one image's failure
            batch.append((ref, exc, ""))
        if len(batch) >= READ_AHEAD or size >= READ_AHEAD_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _as_backend_error(exc: EngineError, where: str = "") -> BackendError:
    return BackendError(exc.code, f"{where}: {exc.message}" if where else exc.message, retryable=False)


def _response_labels(labels: list[dict], min_confidence: float) -> list[dict]:
    return [label for label in labels if label["Confidence"] >= min_confidence]


class LocalBackend(ModerationBackend):
    name = "local"
    where = "on this console's local engine"
    min_training_images = MIN_TRAINING_IMAGES
    min_test_images = MIN_TEST_IMAGES
    # The local engine trains and evaluates on far fewer images than AWS recommends, so its gate
    # is lower; the tutorial's wording stays the guidance.
    verification_minimums = VerificationMinimums(false_positives=3, false_negatives=3, test_images=2)
    reads_foreign_buckets = False
    reports_adapter_lifecycle = False
    has_bulk_api = False
    price_per_image_usd = None
    default_seconds_per_image = 0.05  # ~50 ms an image on one CPU core (bench/engine_bench.py)

    def prepare(self) -> None:
        """Build the engine's converted and quantized model files (once per data folder) and load them."""
        engine().load()

    @property
    def snippet_endpoint_url(self) -> str:
        return settings.CONSOLE_API_URL

    @property
    def base_model_version(self) -> str:
        return settings.LOCAL_MODEL_VERSION

    # Base model, with the embedding cache

    def analyse(self, data: bytes, *, max_bytes: int = MAX_BYTES) -> tuple[np.ndarray, list[dict]]:
        """(embedding, base labels at every confidence) for an image, computed once per content and version."""
        _check_size(data, max_bytes)
        sha = hashlib.sha256(data).hexdigest()
        cached = self._cached([sha]).get(sha)
        if cached is not None:
            return cached
        try:
            analysis = engine().analyze(data, max_bytes=max_bytes)
        except EngineError as exc:
            raise _as_backend_error(exc) from None
        self._store([analysis])
        return analysis.embedding, analysis.labels

    def _cached(self, shas: list[str]) -> dict[str, tuple[np.ndarray, list[dict]]]:
        """The stored (embedding, base labels) of the images among shas analysed before: one query."""
        rows = ImageEmbedding.objects.filter(sha256__in=set(shas), model_version=embedding_version())
        return {
            sha: (np.frombuffer(bytes(vector), dtype="<f4").copy(), labels)
            for sha, vector, labels in rows.values_list("sha256", "vector", "base_labels")
        }

    def _store(self, analyses: list[Analysis]) -> None:
        """Keep the embeddings of analysed images: one INSERT; an image already stored (by another worker) is skipped."""
        ImageEmbedding.objects.bulk_create(
            [
                ImageEmbedding(
                    sha256=a.sha256,
                    model_version=embedding_version(),
                    vector=a.embedding.astype("<f4").tobytes(),
                    base_labels=a.labels,
                )
                for a in analyses
            ],
            ignore_conflicts=True,
        )

    def _analyse_ref(self, ref: ImageRef) -> tuple[np.ndarray, list[dict]]:
        try:
            return self.analyse(storage.read_ref(ref, max_bytes=MAX_STORED_BYTES), max_bytes=MAX_STORED_BYTES)
        except BackendError as exc:
            raise _named(exc, ref) from None

    def _head(self, adapter_arn: str) -> heads.AdapterHead:
        head = _heads.get(adapter_arn)
        if head is None:
            data = _get(f"{adapter_dir(adapter_arn)}/adapter.npz")
            if data is None:
                raise BackendError(
                    "ResourceNotFoundException", f"no trained adapter {adapter_arn} in this console"
                )
            try:
                # A deprecated adapter (trained on an older base model version) still answers
                # until the console marks it EXPIRED; apply_vector refuses features that no longer fit.
                head = heads.AdapterHead.from_bytes(data, base_model_version=None)
            except EngineError as exc:
                raise _as_backend_error(exc, adapter_arn) from None
            _heads[adapter_arn] = head
        return head

    # Projects

    def create_project(self, *, name: str, auto_update: bool, tags: dict[str, str]) -> str:
        # Nothing is stored per project: the console's ARN is the project's only one. (Minting
        # another here, a few milliseconds later, gave one project two ARNs.)
        return ""

    def delete_project(self, *, project_arn: str) -> None:
        return None  # nothing is stored per project; adapters are deleted one by one

    # Adapters

    def start_training(self, *, spec: TrainingSpec) -> TrainingStatus:
        started = time.perf_counter()
        training, testing = spec.training, spec.testing
        if testing is None:
            train_idx, test_idx = autosplit([e.image.uri for e in training])
            training, testing = [training[i] for i in train_idx], [training[i] for i in test_idx]
        if len(training) < MIN_TRAINING_IMAGES:
            raise BackendError(
                "InvalidParameterException",
                f"the training set has {len(training)} images; the local engine needs at least "
                f"{MIN_TRAINING_IMAGES} (after the 80/20 autosplit, if used)",
            )
        if len(testing) < MIN_TEST_IMAGES:
            raise BackendError(
                "InvalidParameterException",
                f"the test set has {len(testing)} images; it needs at least {MIN_TEST_IMAGES} (20 recommended)",
            )
        train_rows = [self._analyse_ref(e.image) for e in training]
        test_rows = [self._analyse_ref(e.image) for e in testing]
        version = self.base_model_version
        try:
            head = heads.train(
                [emb for emb, _ in train_rows],
                [labels for _, labels in train_rows],
                [e.labels for e in training],
                base_model_version=version,
                feature_set=heads.FEATURE_SET_V2 if engine().v2 else heads.DEFAULT_FEATURE_SET,
            )
        except EngineError as exc:
            raise _as_backend_error(exc, "training set") from None

        adapter_labels = [heads.apply_vector(head, emb, labels) for emb, labels in test_rows]
        doc = evaluate(
            truth=[e.labels for e in testing],
            base=[top_level_confidences(labels) for _, labels in test_rows],
            adapter=[top_level_confidences(labels) for labels in adapter_labels],
            labels=head.labels,
            threshold=spec.confidence_threshold,
            adapter_arn=spec.adapter_arn,
            training_images=len(training),
        )
        test_lines = [
            self._output_line(e, spec.adapter_arn, base_labels, labels)
            for e, (_, base_labels), labels in zip(testing, test_rows, adapter_labels, strict=True)
        ]
        train_lines = [self._output_line(e) for e in training]

        if spec.still_held is not None and not spec.still_held():
            raise BackendError(LEASE_LOST, "another worker took this training over")
        directory = adapter_dir(spec.adapter_arn)
        prefix = (spec.output_prefix or directory).rstrip("/")
        seconds = round(time.perf_counter() - started, 3)
        names = {
            "artifact": _put(f"{directory}/adapter.npz", head.to_bytes()),
            "evaluation": _put(f"{prefix}/evaluation.json", json.dumps(doc, indent=1).encode()),
            "train_output": _put(f"{prefix}/train_output.manifest", _jsonl(train_lines)),
            "test_output": _put(f"{prefix}/test_output.manifest", _jsonl(test_lines)),
        }
        status = {"names": names, "training_seconds": seconds, "base_model_version": version}
        _put(f"{directory}/status.json", json.dumps(status).encode())
        _heads.pop(spec.adapter_arn, None)
        return TrainingStatus(
            status="TRAINING_COMPLETED",
            adapter_arn=spec.adapter_arn,
            base_model_version=version,
            evaluation=doc,
            f1_score=doc["AggregatedEvaluationResults"]["F1Score"],
            test_results=test_lines,
            training_seconds=seconds,
            locations={key: storage.uri_for(name) for key, name in names.items()},
        )

    def _output_line(
        self,
        entry: ManifestEntry,
        adapter_arn: str = "",
        base_labels: list[dict] | None = None,
        labels: list[dict] | None = None,
    ) -> dict[str, Any]:
        """One line of an output manifest (spec 2.4); predictions only for test images."""
        line: dict[str, Any] = {
            "source-ref": entry.image.uri,
            "content-moderation-groundtruth": {"ModerationLabels": [{"Name": name} for name in entry.labels]},
        }
        if labels is not None:
            line["detect-moderation-labels"] = {
                "ModerationLabels": _response_labels(labels, OUTPUT_MIN_CONFIDENCE),
                "ModerationModelVersion": self.base_model_version,
                "ProjectVersion": adapter_arn,
            }
            line["detect-moderation-labels-base-model"] = {
                "ModerationLabels": _response_labels(base_labels or [], OUTPUT_MIN_CONFIDENCE),
                "ModerationModelVersion": self.base_model_version,
            }
        return line

    def training_status(self, *, project_arn: str, adapter_arn: str, version_name: str) -> TrainingStatus:
        raw = _get(f"{adapter_dir(adapter_arn)}/status.json")
        if raw is None:
            raise BackendError(
                "ResourceNotFoundException", f"no trained adapter {adapter_arn} in this console"
            )
        status = json.loads(raw)
        names = status["names"]
        doc = json.loads(_get(names["evaluation"]) or b"null")
        test_raw = _get(names["test_output"]) or b""
        return TrainingStatus(
            status="TRAINING_COMPLETED",
            adapter_arn=adapter_arn,
            base_model_version=status["base_model_version"],
            evaluation=doc,
            f1_score=doc["AggregatedEvaluationResults"]["F1Score"] if doc else None,
            test_results=[json.loads(line) for line in test_raw.decode().splitlines() if line.strip()],
            training_seconds=status["training_seconds"],
            locations={key: storage.uri_for(name) for key, name in names.items()},
        )

    def delete_adapter(self, *, adapter_arn: str) -> None:
        directory = adapter_dir(adapter_arn)
        raw = _get(f"{directory}/status.json")
        names = list(json.loads(raw)["names"].values()) if raw else []
        for name in [*names, f"{directory}/adapter.npz", f"{directory}/status.json"]:
            if default_storage.exists(name):
                default_storage.delete(name)
        _heads.pop(adapter_arn, None)

    # Inference

    def detect_moderation_labels(
        self,
        *,
        image: bytes | ImageRef,
        min_confidence: float = 50.0,
        adapter_arn: str | None = None,
    ) -> dict[str, Any]:
        _check_confidence(min_confidence)
        head = self._head(adapter_arn) if adapter_arn else None
        if isinstance(image, ImageRef):
            embedding, labels = self._analyse_ref(image)
        else:
            embedding, labels = self.analyse(image, max_bytes=MAX_BYTES)
        return self._response(embedding, labels, head, min_confidence, adapter_arn)

    def _response(
        self,
        embedding: np.ndarray,
        labels: list[dict],
        head: heads.AdapterHead | None,
        min_confidence: float,
        adapter_arn: str | None,
    ) -> dict[str, Any]:
        if head is not None:
            try:
                labels = heads.apply_vector(head, embedding, labels)
            except EngineError as exc:
                raise _as_backend_error(exc, adapter_arn) from None
        response: dict[str, Any] = {
            "ModerationLabels": _response_labels(labels, min_confidence),
            "ModerationModelVersion": self.base_model_version,
            "ContentTypes": [],
        }
        if adapter_arn:
            response["ProjectVersion"] = adapter_arn
        return response

    def detect_moderation_labels_many(
        self,
        *,
        images: list[ImageRef],
        min_confidence: float = 50.0,
        adapter_arn: str | None = None,
    ) -> Iterator[dict[str, Any] | Exception]:
        """detect_moderation_labels on stored images, as a pipeline (what a bulk analysis unit runs).

        Yields, in order, each image's response or the exception detect_moderation_labels would
        have raised for it. The networks run on one helper thread, one image at a time with the
        engine's threads, while this thread reads, hashes and decodes the next images, stores
        embeddings and lets the caller record each result. Every database query runs on this
        thread: the embedding cache is read, and written, once per READ_AHEAD images. Close the
        generator to stop early: the image in the networks finishes, the queued one is dropped.
        """
        try:
            _check_confidence(min_confidence)
            head = self._head(adapter_arn) if adapter_arn else None
        except BackendError as exc:
            for _ in images:
                yield exc
            return
        eng = engine()
        flight: deque[tuple[ImageRef, Any]] = deque()  # (image, Future | (embedding, labels) | exception)
        analysed: dict[str, Analysis] = {}  # by sha256: to store in ImageEmbedding

        def outcome(ref: ImageRef, item: Any) -> dict[str, Any] | Exception:
            try:
                if isinstance(item, Future):
                    analysis = item.result()
                    analysed[analysis.sha256] = analysis
                    item = (analysis.embedding, analysis.labels)
                if isinstance(item, Exception):
                    return item
                return self._response(*item, head, min_confidence, adapter_arn)
            except EngineError as exc:
                return _named(_as_backend_error(exc), ref)
            except Exception as exc:  # noqa: BLE001 - handed to the caller, as this image's failure
                return exc

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine") as networks:
            try:
                for batch in _read_ahead(images):
                    cached = self._cached([sha for _, _, sha in batch if sha])
                    running: dict[str, Future] = {}  # the same content twice in a batch runs once
                    for ref, data, sha in batch:
                        if isinstance(data, Exception):
                            flight.append((ref, data))
                        elif sha in cached:
                            flight.append((ref, cached[sha]))
                        elif sha in running:
                            flight.append((ref, running[sha]))
                        else:
                            try:
                                prepared = eng.prepare(data, max_bytes=MAX_STORED_BYTES, sha256=sha)
                            except EngineError as exc:
                                flight.append((ref, _named(_as_backend_error(exc), ref)))
                            except Exception as exc:  # noqa: BLE001
                                flight.append((ref, exc))
                            else:
                                running[sha] = networks.submit(eng.infer, prepared)
                                flight.append((ref, running[sha]))
                        # Keep one image in the networks and the next queued; hand out the ones before.
                        while len(flight) > 2 or (flight and not isinstance(flight[0][1], Future)):
                            yield outcome(*flight.popleft())
                    if len(analysed) >= READ_AHEAD:
                        self._store(list(analysed.values()))
                        analysed.clear()
                while flight:
                    yield outcome(*flight.popleft())
            finally:
                for _, item in flight:
                    if isinstance(item, Future):
                        item.cancel()
                try:
                    if analysed:
                        self._store(list(analysed.values()))
                except Exception:  # noqa: BLE001 - the cache only: the images are analysed again if asked
                    logger.warning("could not store %d image embeddings", len(analysed), exc_info=True)

    # Bulk analysis: the caller runs detect_moderation_labels per image.

    def start_bulk_analysis(
        self,
        *,
        job_name: str,
        images: list[ImageRef],
        min_confidence: float,
        adapter_arn: str | None,
        output_prefix: str,
    ) -> str | None:
        return None

    def bulk_analysis_status(self, *, job_id: str) -> BulkStatus:
        raise BackendError(
            "InvalidParameterException",
            "the local backend has no bulk jobs: its images are analysed one by one by the console's tasks",
        )


def _jsonl(lines: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
