"""The local engine's numbers for `make bench`: throughput of base models v1 and v2 (float32 and
int8), the work per image against this machine's measured peak, int8 against float32, adapter
quality on the multi-concept proxy (bench/proxy.py), the largest confidence on benign photos, and
the peak memory of a worker with every network loaded.

Standalone: .venv/bin/python bench/engine_bench.py (BENCH_QUICK=1 for a quick check of the bench).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import proxy  # noqa: E402
from moderation.engine import Engine, heads, macs  # noqa: E402
from moderation.engine.networks import INT8_PARTS, NETWORKS, detector_scores, int8_model, int8_part  # noqa: E402
from tests.engine.imagegen import (  # noqa: E402
    BENIGN_PHOTOS,
    TRAIN_PHOTOS,
    photo,
    photo_bytes,
    plain_synthetics,
    symbol_set,
)

REALISTIC_SIZES = ((1280, 960), (1920, 1080), (4032, 3024))
ROUNDS = 5
V1_FEATURE_SET = heads.DEFAULT_FEATURE_SET


def realistic_photos(per_size: int) -> list[bytes]:
    """JPEGs of phone-camera sizes made from the bundled photos (quality 92, as cameras save)."""
    sources = [photo(*p) for p in TRAIN_PHOTOS[:7]]
    out = []
    for i in range(per_size):
        for w, h in REALISTIC_SIZES:
            src = sources[(i * 3 + w) % len(sources)]
            buf = io.BytesIO()
            src.resize((w, h), Image.Resampling.BICUBIC).save(buf, "JPEG", quality=92)
            out.append(buf.getvalue())
    return out


def throughput(engine: Engine, images: list[bytes]) -> float:
    """Images a second through Engine.analyze, one after the other (decode, networks, labels)."""
    engine.analyze(images[0])  # warm-up
    started = time.perf_counter()
    for data in images:
        engine.analyze(data)
    return len(images) / (time.perf_counter() - started)


def _session(model: bytes, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])


def peak_gmacs(threads: int) -> dict[str, float]:
    """This machine's measured peak, GMAC/s: a 1024 x 1024 x 1024 MatMul in ONNX Runtime, float32
    (MLAS SGEMM) and int8 (MatMulInteger, u8 x s8: VNNI where the CPU has it)."""
    from onnx import TensorProto, helper, numpy_helper

    n = 1024
    rng = np.random.default_rng(0)
    out = {}
    for kind in ("float32", "int8"):
        if kind == "float32":
            b = numpy_helper.from_array(rng.standard_normal((n, n)).astype(np.float32), "B")
            node = helper.make_node("MatMul", ["A", "B"], ["C"])
            a_type, c_type, a = (
                TensorProto.FLOAT,
                TensorProto.FLOAT,
                rng.standard_normal((n, n)).astype(np.float32),
            )
        else:
            b = numpy_helper.from_array(rng.integers(-127, 127, (n, n), dtype=np.int8), "B")
            node = helper.make_node("MatMulInteger", ["A", "B"], ["C"])
            a_type, c_type, a = (
                TensorProto.UINT8,
                TensorProto.INT32,
                rng.integers(0, 255, (n, n), dtype=np.uint8),
            )
        graph = helper.make_graph(
            [node],
            "peak",
            [helper.make_tensor_value_info("A", a_type, [n, n])],
            [helper.make_tensor_value_info("C", c_type, [n, n])],
            [b],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 8
        session = _session(model.SerializeToString(), threads)
        session.run(None, {"A": a})
        started, runs = time.perf_counter(), 0
        while time.perf_counter() - started < 1.0:
            session.run(None, {"A": a})
            runs += 1
        out[kind] = runs * n**3 / (time.perf_counter() - started) / 1e9
    return out


def network_rates(engine: Engine, images: list[bytes], threads: int) -> dict[str, tuple[float, float, bool]]:
    """Per network: (GMAC an image, ms an image in its session alone, int8?)."""
    prepared = [engine.inputs(engine.prepare(d)) for d in images]
    out = {}
    for name in engine.networks:
        float_model = NETWORKS[name][0](engine.model_dir)
        sizes = {"images": [1, 3, 320, 320]} if name == "detector" else None
        work = macs.count(float_model, sizes=sizes) / 1e9
        session = _session(engine.model(name), threads)
        feed = NETWORKS[name][1]
        session.run(None, {feed: prepared[0][name]})
        started = time.perf_counter()
        for p in prepared:
            session.run(None, {feed: p[name]})
        ms = 1000 * (time.perf_counter() - started) / len(prepared)
        out[name] = (work, ms, engine.int8 and name in INT8_PARTS)
    return out


def int8_agreement(engine_fp: Engine, images: list[bytes]) -> dict[str, str]:
    """Each network quantized against itself in float32 on the bench images: what decides which
    networks run in int8 (1 % of answers at 0.5, mean embedding cosine 0.99)."""
    prepared = [engine_fp.inputs(engine_fp.prepare(d)) for d in images]
    out = {}
    for name in engine_fp.networks:
        float_model = NETWORKS[name][0](engine_fp.model_dir)
        fp, q = _session(float_model, 2), _session(int8_model(name, float_model, engine_fp.model_dir), 2)
        feed = NETWORKS[name][1]
        a = [fp.run(None, {feed: p[name]}) for p in prepared]
        b = [q.run(None, {feed: p[name]}) for p in prepared]
        if name == "detector":
            x = np.array([detector_scores(o[0][0]).max(axis=1) for o in a])
            y = np.array([detector_scores(o[0][0]).max(axis=1) for o in b])
            text = f"{100 * np.mean((x >= 0.5) != (y >= 0.5)):.2f} % of class answers at 0.5 change, scores by ≤ {np.abs(x - y).max():.2f}"
        elif name == "nsfw":
            gem = [np.cbrt(np.mean(o[1][0].reshape(512, -1) ** 3, axis=1)) for o in a]
            gem_q = [np.cbrt(np.mean(o[1][0].reshape(512, -1) ** 3, axis=1)) for o in b]
            avg_cos = _cos([o[2][0] for o in a], [o[2][0] for o in b])
            flips = np.mean([(o[0][0, 1] >= 0.5) != (p[0][0, 1] >= 0.5) for o, p in zip(a, b, strict=True)])
            text = (
                f"{100 * flips:.2f} % of answers at 0.5 change, score by ≤ {max(abs(o[0][0, 1] - p[0][0, 1]) for o, p in zip(a, b, strict=True)):.3f}; "
                f"GeM cosine {_cos(gem, gem_q):.4f} (final average {avg_cos:.4f}, in no default feature set)"
            )
        elif name == "lite2":
            top1 = np.mean([o[0][0].argmax() == p[0][0].argmax() for o, p in zip(a, b, strict=True)])
            text = f"embedding cosine {_cos([o[1][0] for o in a], [o[1][0] for o in b]):.4f}, top-1 class kept {100 * top1:.0f} %"
        else:
            x, y = np.array([o[0][0] for o in a]), np.array([o[0][0] for o in b])
            text = f"{100 * np.mean((x >= 0.5) != (y >= 0.5)):.2f} % of class answers at 0.5 change, NSFL by ≤ {np.abs(x - y)[:, 0].max():.2f}"
        out[name] = f"{_part(name)}: {text}"
    return out


def _part(name: str) -> str:
    part = int8_part(name)
    if part is None:
        return f"{name} int8" + (" but the end of its detection head" if name == "detector" else "")
    what = "1x1 convolutions" if part[0] == "pointwise" else "nodes"
    return f"{name} int8 in its {what} of ≤ {part[1]} px, the rest float32"


def _cos(a, b) -> float:
    a, b = np.array(a), np.array(b)
    return float(((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)).mean())


# VmHWM, not getrusage: a child's ru_maxrss keeps the RSS its parent had when it forked.
WORKER_MEMORY = """
import sys
import django
django.setup()
import console.celery  # noqa: F401 - what a worker imports
from console.backends.local import engine
engine().load()
for path in sys.argv[1:]:
    engine().analyze(open(path, "rb").read(), max_bytes=15 * 1024 * 1024)
print(next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) / 1024)
"""


def worker_peak_mib(photos: list[bytes], data_dir: Path) -> float:
    """Peak RSS of a fresh process set up as a worker (Django, the Celery app, the local backend),
    every network loaded, after analysing the realistic photos."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, data in enumerate(photos):
            path = Path(tmp) / f"{i}.jpg"
            path.write_bytes(data)
            paths.append(str(path))
        env = {**os.environ, "DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "console.settings"}
        out = subprocess.run(
            [sys.executable, "-c", WORKER_MEMORY, *paths],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    return float(out.stdout.strip().splitlines()[-1])


def rows(*, model_dir: Path, data_dir: Path, threads: int = 2, quick: bool = False, say=print) -> list[tuple]:
    """(name, figure, target, ok, note) per measure."""
    out: list[tuple] = []
    bench_images = [d for d, _ in symbol_set(TRAIN_PHOTOS, 12 if quick else 120, seed=21)]
    photos = realistic_photos(1 if quick else 4)
    say(f"engine v2: building and quantizing models into {model_dir}")
    started = time.perf_counter()
    v1 = Engine(threads=threads, version="7")
    v2f = Engine(threads=threads, model_dir=model_dir, int8=False)
    v2q = Engine(threads=threads, model_dir=model_dir)
    for engine in (v1, v2f, v2q):
        engine.load()
    build = time.perf_counter() - started

    say("engine v2: throughput")
    for label, images in (
        ("the bench's images (200-320 px crops)", bench_images),
        ("realistic photos (1280x960, 1920x1080, 4032x3024 JPEGs)", photos),
    ):
        # The engines in turn, ROUNDS times: a machine whose speed drifts (a shared VM) moves all three.
        rounds = [[throughput(e, images) for e in (v1, v2f, v2q)] for _ in range(1 if quick else ROUNDS)]
        r1, rf, rq = np.median(rounds, axis=0)
        size = sum(map(len, images)) / len(images) / 1e6
        out.append(
            (
                f"Base model throughput on {label}: v1 float32 / v2 float32 / v2 int8",
                f"{r1:.1f} / {rf:.1f} / {rq:.1f} images/s",
                "v2 int8 ≥ v1",
                rq >= r1,
                f"Engine.analyze one image after another, {threads} threads, {len(images)} images, median of {len(rounds)} rounds ({size:.2f} MB on average); "
                f"v2 int8: {'; '.join(_part(n) for n in INT8_PARTS)}; v2 runs its networks on two lanes of one "
                f"thread each, v1 one at a time on {threads} threads; the first load built and quantized the models in {build:.0f} s",
            )
        )
        say(out[-1][1])

    say("engine v2: work per image")
    peak = peak_gmacs(threads)
    rates = network_rates(v2q, bench_images[:40], threads)
    parts = []
    for name, (work, ms, int8) in rates.items():
        kind = "int8" if int8 else "float32"  # int8 in part: its rate against the int8 peak
        rate = work / ms * 1000
        parts.append(
            f"{name} {work:.2f} GMAC, {ms:.1f} ms ({kind}): {rate:.0f} GMAC/s, {100 * rate / peak[kind]:.0f} % of peak"
        )
    total = sum(w for w, _, _ in rates.values())
    out.append(
        (
            "Work per image (v2 int8) and rate against this machine's measured peak",
            f"{total:.2f} GMAC an image; " + "; ".join(parts),
            "reported",
            True,
            f"multiply-accumulates of Conv, MatMul and Gemm from each ONNX graph; measured peak (1024³ MatMul in ONNX Runtime, "
            f"{threads} threads): float32 {peak['float32']:.0f} GMAC/s, int8 {peak['int8']:.0f} GMAC/s; v1 is 2.08 GMAC an image",
        )
    )
    say(out[-1][1])

    say("engine v2: int8 against float32")
    agreement = int8_agreement(v2f, bench_images[:60])
    out.append(
        (
            "int8 against float32, per network, on the bench's images",
            "; ".join(f"{name}: {text}" for name, text in agreement.items()),
            "int8 where ≤ 1 % change and cosine ≥ 0.99",
            True,
            "ONNX Runtime static quantization (QDQ, per-channel int8 weights, uint8 activations, MinMax on 48 images "
            "made from scikit-learn's photos); NudeNet's detection head stays float32",
        )
    )
    say(out[-1][1])

    say("engine v2: benign photos")
    benign = [photo_bytes(*p) for p in BENIGN_PHOTOS] + [d for _, d in plain_synthetics()]
    names = [n for _, n in BENIGN_PHOTOS] + [n for n, _ in plain_synthetics()]
    best = max(
        (
            (label["Confidence"], label["Name"], name)
            for data, name in zip(benign, names, strict=True)
            for label in v2q.analyze(data).labels
        ),
        default=(0.0, "", ""),
    )
    out.append(
        (
            "Base model v2 on the bundled benign photos and plain synthetics: largest confidence of any label",
            f"{best[0]:.1f} ({best[1]}, {best[2]})",
            "< 50",
            best[0] < 50,
            f"{len(benign)} images: the scikit-image and scikit-learn photos and {len(plain_synthetics())} plain pictures",
        )
    )
    say(out[-1][1])

    say("engine v2: the multi-concept proxy (embedding with v1 and v2)")
    (train_data, train_kind), (test_data, test_kind) = proxy.datasets(quick)
    sets = {}
    for name, engine in (("v1", v1), ("v2", v2q)):
        emb_tr, lab_tr = proxy.embed(engine, train_data)
        emb_te, lab_te = proxy.embed(engine, test_data)
        sets[name] = ((emb_tr, lab_tr, train_kind), (emb_te, lab_te, test_kind))
    sizes = (10,) if quick else proxy.SIZES
    results = {"v1": proxy.summary(proxy.evaluate(*sets["v1"], V1_FEATURE_SET, sizes=sizes))}
    candidates = {
        fs: proxy.summary(proxy.evaluate(*sets["v2"], fs, sizes=sizes)) for fs in ("lite2", "gem+lite2")
    }
    results["v2"] = candidates[heads.FEATURE_SET_V2]
    for n in sizes:
        (m1, a1, _, _), (m2, a2, _, _) = results["v1"][n], results["v2"][n]
        margin = 0.03 if n == 10 else 0.0
        others = ", ".join(f"{fs} {s[n][0]:.3f}" for fs, s in candidates.items())
        out.append(
            (
                f"Adapters on the multi-concept proxy, {n} positives per concept: mean AUC (accuracy at 50), v1 / v2",
                f"{m1:.3f} ({a1:.2f}) / {m2:.3f} ({a2:.2f})",
                f"v2 ≥ v1 + {margin:.2f}" if margin else "v2 ≥ v1",
                m2 >= m1 + margin - 1e-9,
                f"v1: {V1_FEATURE_SET} + top-level confidences; v2: {heads.FEATURE_SET_V2} + top-level confidences "
                f"(v2 candidates: {others}); {len(proxy.CONCEPTS)} concepts, {2 * n} negatives, test {proxy.TEST_POSITIVES} "
                f"positives per concept and {proxy.TEST_NEGATIVES} negatives from other photos, mean of {proxy.SUBSETS[n]} subsets",
            )
        )
        say(out[-1][1])
    n = 10 if quick else 50
    (_, _, w1, x1), (_, _, w2, x2) = results["v1"][n], results["v2"][n]
    out.append(
        (
            f"Adapters on the multi-concept proxy, worst concept at {n} positives: v1 / v2",
            f"{x1:.3f} ({w1}) / {x2:.3f} ({w2})",
            "v2 ≥ v1 + 0.03",
            x2 >= x1 + 0.03,
            "AUC of the concept each feature set learns worst; " + ", ".join(proxy.CONCEPTS),
        )
    )
    say(out[-1][1])

    say("engine v2: peak memory of a worker")
    mib = worker_peak_mib(photos[:3], data_dir)
    out.append(
        (
            "Peak memory of a worker process with every v2 network loaded",
            f"{mib:.0f} MiB",
            "reported",
            True,
            "peak RSS of a fresh process with Django, the Celery app and the local backend, the four networks loaded "
            "(int8 where they run so), after analysing three realistic photos",
        )
    )
    say(out[-1][1])
    return out


def main() -> None:
    quick = os.environ.get("BENCH_QUICK") == "1"
    data_dir = Path(tempfile.mkdtemp(prefix="engine-bench-"))
    for name, figure, target, ok, note in rows(model_dir=data_dir / "models", data_dir=data_dir, quick=quick):
        print(f"{'pass' if ok else 'MISS'} | {name} | {figure} | {target} | {note}")


if __name__ == "__main__":
    main()
