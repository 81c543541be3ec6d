"""The multi-concept proxy: concepts the base model does not cover, drawn with Pillow onto bundled
photos, to measure how well adapters learn them on each base model's features.

Ten concepts (a wine glass, a bottle, a cigarette, dice, playing cards, a gun, a middle finger, a
flag with an extremist-style emblem, blood, a syringe) are drawn at random sizes, angles and
colours onto crops of the scikit-image and scikit-learn photos; negatives are plain crops and
crops with neutral shapes. Training images come from one set of photos and test images from
another (tests/engine/imagegen.py's TRAIN_PHOTOS and TEST_PHOTOS), so a head cannot learn the
photos. For each concept and each training size (positives, with twice as many negatives), a
standardised logistic head (moderation.engine.heads.train) is scored on the test set: AUC and
accuracy at 50. Small sizes are averaged over several disjoint training subsets.
"""

from __future__ import annotations

import math
import random

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance

from tests.engine.imagegen import TEST_PHOTOS, TRAIN_PHOTOS, photo, to_jpeg

CONCEPTS = (
    "wine glass",
    "bottle",
    "cigarette",
    "dice",
    "cards",
    "gun",
    "middle finger",
    "extremist flag",
    "blood",
    "syringe",
)
SIZES = (10, 50, 200)
SUBSETS = {10: 5, 50: 4, 200: 1}  # disjoint training subsets averaged per size
TEST_POSITIVES = 40  # per concept
TEST_NEGATIVES = 160
LABEL = "Hate Symbols"  # any top-level name: each concept is its own binary task


def _colour(rng: random.Random, base: tuple[int, int, int], spread: int = 25) -> tuple[int, int, int]:
    return tuple(max(0, min(255, c + rng.randint(-spread, spread))) for c in base)  # type: ignore[return-value]


def _draw(concept: str, rng: random.Random, s: int) -> Image.Image:
    """The concept on a transparent s x s canvas."""
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    u = s / 100
    if concept == "wine glass":
        glass = (220, 225, 230, 200)
        d.chord((25 * u, 5 * u, 75 * u, 60 * u), 0, 180, fill=_colour(rng, (120, 10, 30)) + (255,))
        d.ellipse((25 * u, 5 * u, 75 * u, 60 * u), outline=glass, width=max(1, int(2 * u)))
        d.rectangle((48 * u, 58 * u, 52 * u, 88 * u), fill=glass)
        d.ellipse((33 * u, 85 * u, 67 * u, 93 * u), fill=glass)
    elif concept == "bottle":
        c = rng.choice([(20, 70, 30), (90, 45, 10), (200, 210, 200)])
        c = _colour(rng, c) + (255,)
        d.rectangle((44 * u, 2 * u, 56 * u, 35 * u), fill=c)
        d.ellipse((32 * u, 25 * u, 68 * u, 45 * u), fill=c)
        d.rectangle((32 * u, 35 * u, 68 * u, 97 * u), fill=c)
        d.rectangle((34 * u, 55 * u, 66 * u, 75 * u), fill=_colour(rng, (235, 225, 190)) + (255,))
    elif concept == "cigarette":
        d.rectangle((10 * u, 46 * u, 70 * u, 54 * u), fill=(245, 245, 240, 255))
        d.rectangle((70 * u, 46 * u, 90 * u, 54 * u), fill=_colour(rng, (200, 120, 50)) + (255,))
        d.rectangle((6 * u, 46 * u, 10 * u, 54 * u), fill=(255, 90, 20, 255))
        for i in range(3):
            x = 6 * u - i * 3 * u
            d.line(
                [(x, 44 * u), (x - 4 * u, 30 * u), (x + 2 * u, 15 * u)], fill=(180, 180, 180, 150), width=2
            )
    elif concept == "dice":
        for _ in range(rng.randint(1, 2)):
            x, y, w = rng.uniform(5, 45) * u, rng.uniform(5, 45) * u, rng.uniform(35, 50) * u
            d.rounded_rectangle(
                (x, y, x + w, y + w), radius=w / 6, fill=(250, 250, 250, 255), outline=(60, 60, 60, 255)
            )
            pips = rng.randint(1, 6)
            spots = [(0.5, 0.5), (0.25, 0.25), (0.75, 0.75), (0.25, 0.75), (0.75, 0.25), (0.25, 0.5)][:pips]
            for px, py in spots:
                r = w / 11
                d.ellipse(
                    (x + px * w - r, y + py * w - r, x + px * w + r, y + py * w + r), fill=(10, 10, 10, 255)
                )
    elif concept == "cards":
        for i in range(rng.randint(2, 4)):
            card = Image.new("RGBA", (int(40 * u), int(58 * u)), (250, 250, 250, 255))
            cd = ImageDraw.Draw(card)
            cd.rectangle((0, 0, card.width - 1, card.height - 1), outline=(40, 40, 40, 255))
            red = rng.random() < 0.5
            colour = (200, 20, 20, 255) if red else (10, 10, 10, 255)
            cx, cy, r = card.width / 2, card.height / 2, card.width / 5
            cd.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=colour)
            cd.text((3, 2), rng.choice("A23456789JQK"), fill=colour)
            card = card.rotate(-25 + 18 * i, expand=True)
            img.alpha_composite(card, (int(15 * u + 8 * i * u), int(15 * u)))
    elif concept == "gun":
        c = _colour(rng, (35, 35, 40), 20) + (255,)
        d.rectangle((15 * u, 30 * u, 85 * u, 42 * u), fill=c)  # barrel and slide
        d.polygon([(55 * u, 40 * u), (80 * u, 40 * u), (88 * u, 85 * u), (66 * u, 85 * u)], fill=c)  # grip
        d.arc((42 * u, 36 * u, 62 * u, 58 * u), 0, 180, fill=c, width=max(2, int(3 * u)))  # trigger guard
        d.rectangle((16 * u, 27 * u, 20 * u, 30 * u), fill=c)
    elif concept == "middle finger":
        skin = _colour(rng, rng.choice([(224, 172, 140), (170, 110, 75), (110, 70, 45)])) + (255,)
        d.rounded_rectangle((30 * u, 45 * u, 72 * u, 85 * u), radius=8 * u, fill=skin)  # fist
        d.rounded_rectangle((44 * u, 8 * u, 56 * u, 50 * u), radius=6 * u, fill=skin)  # the finger
        for x in (30, 58, 65):
            d.ellipse((x * u, 40 * u, (x + 11) * u, 52 * u), fill=skin, outline=(0, 0, 0, 60))
        d.ellipse((20 * u, 55 * u, 34 * u, 70 * u), fill=skin)  # thumb
    elif concept == "extremist flag":
        d.rectangle((5 * u, 20 * u, 95 * u, 80 * u), fill=_colour(rng, (190, 15, 20), 20) + (255,))
        d.ellipse((32 * u, 32 * u, 68 * u, 68 * u), fill=(250, 250, 250, 255))
        w = max(2, int(5 * u))
        d.line([(40 * u, 40 * u), (60 * u, 60 * u)], fill=(0, 0, 0, 255), width=w)
        d.line([(60 * u, 40 * u), (40 * u, 60 * u)], fill=(0, 0, 0, 255), width=w)
        d.line([(40 * u, 40 * u), (46 * u, 36 * u)], fill=(0, 0, 0, 255), width=w)
        d.line([(60 * u, 60 * u), (54 * u, 64 * u)], fill=(0, 0, 0, 255), width=w)
    elif concept == "blood":
        red = _colour(rng, (120, 5, 10), 30) + (235,)
        cx, cy = 50 * u, 50 * u
        points = []
        for k in range(14):
            a = 2 * math.pi * k / 14
            r = rng.uniform(15, 40) * u
            points.append((cx + r * math.cos(a), cy + r * math.sin(a)))
        d.polygon(points, fill=red)
        for _ in range(rng.randint(4, 10)):
            x, y, r = rng.uniform(5, 95) * u, rng.uniform(5, 95) * u, rng.uniform(1, 5) * u
            d.ellipse((x - r, y - r, x + r, y + r), fill=red)
        for _ in range(rng.randint(1, 3)):
            x = rng.uniform(35, 65) * u
            d.line([(x, cy), (x, cy + rng.uniform(25, 48) * u)], fill=red, width=max(2, int(3 * u)))
    elif concept == "syringe":
        d.rectangle((20 * u, 44 * u, 70 * u, 56 * u), fill=(225, 235, 245, 230), outline=(110, 110, 130, 255))
        d.rectangle(
            (22 * u, 46 * u, rng.uniform(35, 65) * u, 54 * u), fill=_colour(rng, (200, 40, 40), 40) + (220,)
        )
        d.rectangle((8 * u, 48 * u, 20 * u, 52 * u), fill=(190, 190, 200, 255))
        d.rectangle((4 * u, 40 * u, 8 * u, 60 * u), fill=(190, 190, 200, 255))
        d.line([(70 * u, 50 * u), (96 * u, 50 * u)], fill=(150, 150, 150, 255), width=max(1, int(u)))
    else:
        raise ValueError(concept)
    return img


def _neutral(rng: random.Random, s: int) -> Image.Image:
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    for _ in range(rng.randint(1, 3)):
        box = sorted(rng.uniform(0, s) for _ in range(2))
        boy = sorted(rng.uniform(0, s) for _ in range(2))
        colour = tuple(rng.randint(0, 255) for _ in range(3)) + (255,)
        shape = rng.choice(["ellipse", "rectangle", "line"])
        if shape == "line":
            d.line([(box[0], boy[0]), (box[1], boy[1])], fill=colour, width=rng.randint(2, 8))
        else:
            getattr(d, shape)((box[0], boy[0], box[1] + 4, boy[1] + 4), fill=colour)
    return img


def _crop(sources: list[Image.Image], rng: random.Random) -> Image.Image:
    src = rng.choice(sources)
    w, h = src.size
    s = rng.uniform(0.5, 1.0)
    cw, ch = int(w * s), int(h * s)
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    img = src.crop((x, y, x + cw, y + ch)).resize((rng.randint(220, 320), rng.randint(220, 320)))
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return ImageEnhance.Brightness(img).enhance(rng.uniform(0.8, 1.2))


def _compose(img: Image.Image, overlay: Image.Image, rng: random.Random) -> Image.Image:
    overlay = overlay.rotate(rng.uniform(-35, 35), expand=True, resample=Image.Resampling.BICUBIC)
    if rng.random() < 0.5:
        overlay = overlay.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    w, h = img.size
    x, y = rng.randint(0, max(0, w - overlay.width)), rng.randint(0, max(0, h - overlay.height))
    out = img.convert("RGBA")
    out.alpha_composite(overlay, (x, y))
    return out.convert("RGB")


def images(
    photos, positives: int, negatives: int, seed: int, concepts=CONCEPTS
) -> tuple[list[bytes], list[int]]:
    """JPEGs and their concept index (-1 for a negative): `positives` per concept, then negatives."""
    rng = random.Random(seed)
    sources = [photo(*p) for p in photos]
    data, kind = [], []
    for c, concept in enumerate(concepts):
        for _ in range(positives):
            img = _crop(sources, rng)
            side = int(min(img.size) * rng.uniform(0.3, 0.55))
            data.append(to_jpeg(_compose(img, _draw(concept, rng, side), rng)))
            kind.append(c)
    for i in range(negatives):
        img = _crop(sources, rng)
        if i % 2:
            img = _compose(img, _neutral(rng, int(min(img.size) * rng.uniform(0.3, 0.55))), rng)
        data.append(to_jpeg(img))
        kind.append(-1)
    return data, kind


def auc(scores: np.ndarray, truth: np.ndarray) -> float:
    """Area under the ROC curve (ties count a half)."""
    pos, neg = scores[truth], scores[~truth]
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def evaluate(train, test, feature_set: str, *, sizes=SIZES) -> dict[int, dict[str, list[float]]]:
    """train/test: (embeddings, base labels, concept index per image). Returns, per training size,
    per concept: [AUC, accuracy at 50], each the mean over the size's subsets."""
    from moderation.engine import heads

    emb_tr, lab_tr, kind_tr = train
    emb_te, lab_te, kind_te = test
    kind_tr, kind_te = np.array(kind_tr), np.array(kind_te)
    neg_tr = np.flatnonzero(kind_tr == -1)
    neg_te = np.flatnonzero(kind_te == -1)
    out: dict[int, dict[str, list[float]]] = {}
    for n in sizes:
        out[n] = {}
        for c, concept in enumerate(CONCEPTS):
            pos_tr = np.flatnonzero(kind_tr == c)
            pos_te = np.flatnonzero(kind_te == c)
            test_idx = np.concatenate([pos_te, neg_te])
            truth = np.isin(test_idx, pos_te)
            results = []
            for k in range(min(SUBSETS[n], len(pos_tr) // n)):
                p = pos_tr[k * n : (k + 1) * n]
                q = neg_tr[(k * 2 * n) % len(neg_tr) :][: 2 * n]
                idx = np.concatenate([p, q])
                head = heads.train(
                    [emb_tr[i] for i in idx],
                    [lab_tr[i] for i in idx],
                    [[LABEL] if i in set(p) else [] for i in idx],
                    base_model_version="proxy",
                    feature_set=feature_set,
                )
                X = np.array([heads.features(emb_te[i], lab_te[i], feature_set) for i in test_idx])
                probs = head.probabilities(X)[:, 0]
                results.append((auc(probs, truth), float(((probs >= 0.5) == truth).mean())))
            out[n][concept] = [
                float(np.mean([r[0] for r in results])),
                float(np.mean([r[1] for r in results])),
            ]
    return out


def embed(engine, data: list[bytes]) -> tuple[list[np.ndarray], list[list[dict]]]:
    analyses = [engine.analyze(blob) for blob in data]
    return [a.embedding for a in analyses], [a.labels for a in analyses]


def datasets(quick: bool = False):
    """(train images and kinds, test images and kinds)."""
    top = 20 if quick else max(SIZES)
    train = images(TRAIN_PHOTOS, top, 2 * top, seed=1)
    test = images(TEST_PHOTOS, 8 if quick else TEST_POSITIVES, 30 if quick else TEST_NEGATIVES, seed=2)
    return train, test


def summary(results: dict[int, dict[str, list[float]]]) -> dict[int, tuple[float, float, str, float]]:
    """Per size: (mean AUC, mean accuracy at 50, worst concept, its AUC)."""
    out = {}
    for n, per in results.items():
        worst = min(per, key=lambda c: per[c][0])
        out[n] = (
            float(np.mean([v[0] for v in per.values()])),
            float(np.mean([v[1] for v in per.values()])),
            worst,
            per[worst][0],
        )
    return out
