"""Adapters: one logistic-regression head per top-level label, on base-model features.

Features per image are slices of the base model's embedding (the feature set,
stored in the artifact) followed by its top-level confidence vector (10 values,
0-1). Base model 7's feature set is stage-2 GeM alone: on the drawn-symbol task
(300 training crops, 100 test crops from other photos) it scored 0.99 accuracy,
GeM + final average 0.95, the final average alone 0.79-0.86. Base model 8 adds
Lite2's 1280 ImageNet features; which set it trains on was chosen on the
multi-concept proxy (bench/proxy.py; FEATURE_SET_V2). Each head is fitted by scikit-learn on
standardised features, then the scaler is folded into plain weights and a bias,
so applying an adapter is one matrix product and an artifact is a few arrays:
saved with np.savez and loaded with allow_pickle=False, never pickled.

What apply() emits (kept simple on purpose):
- a trained label: the L1 label at the head's probability; the base model's
  children of that label stay, each capped at the head's confidence, so they
  vanish when the adapter disagrees and the parent stays the max of its children;
- an untrained label: the base model's labels pass through unchanged.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import numpy as np

from moderation import taxonomy

from . import taxonomy_map
from .networks import EngineError

FORMAT = "console-adapter/1"
DEFAULT_C = 0.1  # measured best on the drawn-symbol task (local-engine.md)
# Name -> slices of Analysis.embedding: GeM [0, 512), final average [512, 1536), Lite2 [1536, 2816).
FEATURE_SETS: dict[str, tuple[tuple[int, int], ...]] = {
    "gem": ((0, 512),),
    "gem+avg": ((0, 1536),),
    "lite2": ((1536, 2816),),
    "gem+lite2": ((0, 512), (1536, 2816)),
}
DEFAULT_FEATURE_SET = "gem"  # base model 7's, and that of artifacts that name none
FEATURE_SET_V2 = "gem+lite2"


@dataclass
class AdapterHead:
    labels: list[str]  # top-level names, one per row of weights
    weights: np.ndarray  # float32 [K, D]
    bias: np.ndarray  # float32 [K]
    base_model_version: str
    feature_set: str = DEFAULT_FEATURE_SET

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """features [N, D] -> probabilities [N, K]."""
        z = features.astype(np.float32) @ self.weights.T + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    def to_bytes(self) -> bytes:
        meta = {
            "format": FORMAT,
            "labels": self.labels,
            "base_model_version": self.base_model_version,
            "feature_set": self.feature_set,
        }
        buf = io.BytesIO()
        np.savez(
            buf, weights=self.weights, bias=self.bias, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8)
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, *, base_model_version: str | None) -> AdapterHead:
        """Load an artifact; refuses one trained for another base model version.

        `base_model_version=None` accepts any version: a DEPRECATED adapter keeps
        answering until it expires, as on AWS, as long as its features still fit.
        """
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                meta = json.loads(npz["meta"].tobytes().decode())
                weights, bias = npz["weights"].astype(np.float32), npz["bias"].astype(np.float32)
        except Exception as exc:  # noqa: BLE001
            raise EngineError(
                "InvalidParameterException", f"the adapter artifact cannot be read: {exc}"
            ) from None
        if meta.get("format") != FORMAT:
            raise EngineError(
                "InvalidParameterException", f"unknown adapter artifact format {meta.get('format')!r}"
            )
        if base_model_version is not None and meta["base_model_version"] != base_model_version:
            raise EngineError(
                "InvalidParameterException",
                f"the adapter was trained on base model {meta['base_model_version']}, "
                f"this engine runs {base_model_version}: train it again",
            )
        if meta.get("feature_set") not in FEATURE_SETS:
            raise EngineError(
                "InvalidParameterException", f"unknown adapter feature set {meta.get('feature_set')!r}"
            )
        return cls(meta["labels"], weights, bias, meta["base_model_version"], meta["feature_set"])


def features(
    embedding: np.ndarray, base_labels: list[dict], feature_set: str = DEFAULT_FEATURE_SET
) -> np.ndarray:
    """One image's adapter input: the feature set's slices of the embedding, then the top-level base confidences."""
    slices = FEATURE_SETS[feature_set]
    stop = max(end for _, end in slices)
    if embedding.shape[0] < stop:
        raise EngineError(
            "InvalidParameterException",
            f"the embedding has {embedding.shape[0]} values, feature set {feature_set!r} needs {stop}: embed again",
        )
    parts = [embedding[start:end].astype(np.float32) for start, end in slices]
    return np.concatenate([*parts, taxonomy_map.top_level_vector(base_labels)])


def train(
    embeddings: list[np.ndarray] | np.ndarray,
    base_labels: list[list[dict]],
    truth: list[list[str]],
    *,
    base_model_version: str,
    feature_set: str = DEFAULT_FEATURE_SET,
    C: float = DEFAULT_C,
) -> AdapterHead:
    """Fit one standardised logistic head per top-level label present in `truth`.

    One row per training image: its embedding, the base model's labels for it, and
    its top-level ground-truth labels ([] = safe).
    """
    from sklearn.linear_model import LogisticRegression

    X = np.array(
        [features(e, b, feature_set) for e, b in zip(embeddings, base_labels, strict=True)], dtype=np.float64
    )
    names = {name for names in truth for name in names}
    unknown = sorted(names - set(taxonomy.TOP_LEVEL))
    if unknown:
        raise EngineError(
            "InvalidParameterException", f"training labels must be top-level categories, not {unknown}"
        )
    labels = sorted(names, key=taxonomy.TOP_LEVEL.index)
    if not labels:
        raise EngineError(
            "InvalidParameterException", "no training image has a label: an adapter needs labeled images"
        )
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    std[std < 1e-6] = 1.0
    Z = (X - mean) / std
    weights, bias = [], []
    for label in labels:
        y = np.array([label in names for names in truth])
        if y.all():
            raise EngineError(
                "InvalidParameterException",
                f"every training image is labeled {label!r}: add images without it so the adapter can tell them apart",
            )
        clf = LogisticRegression(C=C, max_iter=1000, class_weight="balanced")
        clf.fit(Z, y)
        w = clf.coef_[0] / std  # fold the scaler: w.(x - m)/s + b = (w/s).x + (b - (w/s).m)
        weights.append(w)
        bias.append(clf.intercept_[0] - w @ mean)
    return AdapterHead(
        labels,
        np.array(weights, dtype=np.float32),
        np.array(bias, dtype=np.float32),
        base_model_version,
        feature_set,
    )


def apply(head: AdapterHead, analysis) -> list[dict]:
    """The adapter's labels at every level for one analysed image (unfiltered)."""
    return apply_vector(head, analysis.embedding, analysis.labels)


def apply_vector(head: AdapterHead, embedding: np.ndarray, base_labels: list[dict]) -> list[dict]:
    """apply() from a stored embedding and the base model's stored labels."""
    x = features(embedding, base_labels, head.feature_set)
    probs = head.probabilities(x[None])[0]
    trained = dict(zip(head.labels, (100.0 * probs).tolist(), strict=True))
    confidences: dict[str, float] = {}
    for label in base_labels:
        top = taxonomy.top_level_of(label["Name"])
        conf = float(label["Confidence"])
        if top in trained:
            if label["TaxonomyLevel"] == 1:
                continue
            conf = min(conf, trained[top])
        confidences[label["Name"]] = max(confidences.get(label["Name"], 0.0), conf)
    for top, conf in trained.items():
        confidences[top] = max(confidences.get(top, 0.0), conf)
    return taxonomy_map.expand(confidences)
