"""Suspected label errors in `make bench`: moderation.engine.label_quality.find_label_errors on
1,000 and 10,000 labeled images (targets: under 10 s and 60 s), synthetic embeddings of the
engine's width (two gaussian clusters, one concept, 10 % of its labels flipped), the v2 feature set.

Called by bench/run.py; standalone: .venv/bin/python bench/label_quality_bench.py (BENCH_QUICK=1: 200 and 1,000).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

SIZES = ((1_000, 10.0), (10_000, 60.0))  # images, target seconds


def _dataset(n: int, seed: int):
    from moderation.engine.networks import EMBEDDING_DIM

    rng = np.random.default_rng(seed)
    centre = rng.normal(0, 1, EMBEDDING_DIM).astype(np.float32)
    sides = np.where(np.arange(n) < n // 2, 0.1, -0.1).astype(np.float32)
    embeddings = rng.standard_normal((n, EMBEDDING_DIM), dtype=np.float32) + sides[:, None] * centre
    truth = [["Alcohol"] if i < n // 2 and i % 10 else [] for i in range(n)]
    return embeddings, truth


def rows(*, quick: bool, say: Callable[[str], None]) -> list[tuple[str, str, str, bool, str]]:
    from moderation.engine import label_quality
    from moderation.engine.heads import FEATURE_SET_V2

    out: list[tuple[str, str, str, bool, str]] = []
    warm, warm_truth = _dataset(100, 0)  # imports (cleanlab's take seconds) and a first fit, untimed
    label_quality.find_label_errors(warm, [[]] * 100, warm_truth, feature_set=FEATURE_SET_V2)
    for n, target in ((200, 10.0), (1_000, 60.0)) if quick else SIZES:
        embeddings, truth = _dataset(n, n)
        say(f"label errors: {n:,} labeled images")
        started = time.perf_counter()
        suspects = label_quality.find_label_errors(embeddings, [[]] * n, truth, feature_set=FEATURE_SET_V2)
        seconds = time.perf_counter() - started
        out.append(
            (
                f"Find suspected label errors, {n:,} labeled images",
                f"{seconds:.1f} s",
                f"< {target:.0f} s",
                seconds < target,
                f"{label_quality.FOLDS}-fold heads on {embeddings.shape[1]}-wide synthetic embeddings, one label, "
                f"then cleanlab; {len(suspects)} suspects",
            )
        )
        say(out[-1][1])
    return out


if __name__ == "__main__":
    import os
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    quick = os.environ.get("BENCH_QUICK") == "1"
    for row in rows(quick=quick, say=lambda m: print(f"[label quality bench] {m}", flush=True)):
        print(" | ".join(str(part) for part in row[:4]))
