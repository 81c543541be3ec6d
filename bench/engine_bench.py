"""Local engine numbers: throughput, peak memory, adapter training time, a proxy-concept evaluation.

Run: .venv/bin/python bench/engine_bench.py [threads]
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moderation.engine import Engine, heads  # noqa: E402
from moderation.engine.evaluation import evaluate, fn_improvement, fp_improvement  # noqa: E402
from moderation.engine.taxonomy_map import top_level_confidences  # noqa: E402
from tests.engine.imagegen import TEST_PHOTOS, TRAIN_PHOTOS, symbol_set  # noqa: E402


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    train_items = symbol_set(TRAIN_PHOTOS, 300, seed=1)
    test_items = symbol_set(TEST_PHOTOS, 100, seed=2)
    print(f"images: {len(train_items) + len(test_items)} generated JPEGs, 200-320 px; threads={threads}")
    print(f"peak RSS before loading: {rss_mb():.0f} MB")

    engine = Engine(threads=threads)
    started = time.perf_counter()
    engine.load()
    print(f"model load: {time.perf_counter() - started:.2f} s, peak RSS {rss_mb():.0f} MB")

    engine.analyze(train_items[0][0])  # warm-up
    started = time.perf_counter()
    train = [engine.analyze(data) for data, _ in train_items]
    test = [engine.analyze(data) for data, _ in test_items]
    seconds = time.perf_counter() - started
    n = len(train) + len(test)
    print(
        f"analyze (decode + both networks + labels + embedding): {n / seconds:.1f} images/s, "
        f"{1000 * seconds / n:.1f} ms/image"
    )
    print(f"peak RSS after analysing: {rss_mb():.0f} MB")

    truth = [labels for _, labels in train_items]
    started = time.perf_counter()
    head = heads.train(
        [a.embedding for a in train], [a.labels for a in train], truth, base_model_version="7.0"
    )
    print(f"adapter training, {len(train)} images: {time.perf_counter() - started:.2f} s")

    # 1,000 training rows: the 300 real embeddings, repeated with 2 % noise.
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(train), 1000)
    emb = [
        train[i].embedding * (1 + 0.02 * rng.standard_normal(train[i].embedding.shape)).astype(np.float32)
        for i in idx
    ]
    started = time.perf_counter()
    heads.train(emb, [train[i].labels for i in idx], [truth[i] for i in idx], base_model_version="7.0")
    print(f"adapter training, 1,000 images from embeddings: {time.perf_counter() - started:.2f} s")

    started = time.perf_counter()
    predicted = [top_level_confidences(heads.apply(head, a)) for a in test]
    apply_ms = 1000 * (time.perf_counter() - started) / len(test)
    doc = evaluate(
        truth=[labels for _, labels in test_items],
        base=[top_level_confidences(a.labels) for a in test],
        adapter=predicted,
        labels=head.labels,
        threshold=50.0,
        adapter_arn="bench",
        training_images=len(train),
    )
    agg = doc["ContentModeration"]["InputConfidenceThresholdEvalResults"]["AggregatedEvaluationResults"]
    print(f"adapter apply: {apply_ms:.3f} ms/image")
    print(
        f"drawn-symbol proxy (train 300 crops, test 100 crops of other photos), threshold 50: "
        f"F1 {doc['AggregatedEvaluationResults']['F1Score']}, base {agg['BaseModel']}, adapter {agg['Adapter']}, "
        f"FN improvement {fn_improvement(doc)} %, FP improvement {fp_improvement(doc)}"
    )


if __name__ == "__main__":
    main()
