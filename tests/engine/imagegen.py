"""Real photos that ship inside the scikit-image and scikit-learn wheels, and a drawn-symbol proxy concept.

The symbol (a red disk with a white cross) stands in for a concept the base model
cannot know, such as a hate symbol; plain disks in other colours are look-alike negatives.
"""

from __future__ import annotations

import io
import random
from importlib import resources

from PIL import Image, ImageDraw, ImageEnhance

TRAIN_PHOTOS = [
    ("skimage.data", "astronaut.png"),
    ("skimage.data", "coffee.png"),
    ("skimage.data", "chelsea.png"),
    ("skimage.data", "rocket.jpg"),
    ("skimage.data", "brick.png"),
    ("skimage.data", "grass.png"),
    ("skimage.data", "motorcycle_left.png"),
    ("skimage.data", "camera.png"),
    ("skimage.data", "hubble_deep_field.jpg"),
    ("skimage.data", "moon.png"),
    ("skimage.data", "ihc.png"),
]
TEST_PHOTOS = [
    ("sklearn.datasets.images", "china.jpg"),
    ("sklearn.datasets.images", "flower.jpg"),
    ("skimage.data", "gravel.png"),
    ("skimage.data", "retina.jpg"),
    ("skimage.data", "coins.png"),
    ("skimage.data", "page.png"),
]
BENIGN_PHOTOS = (
    TRAIN_PHOTOS
    + TEST_PHOTOS
    + [
        ("skimage.data", "horse.png"),
        ("skimage.data", "text.png"),
        ("skimage.data", "motorcycle_right.png"),
        ("skimage.data", "color.png"),
        ("skimage.data", "logo.png"),
        ("skimage.data", "phantom.png"),
        ("skimage.data", "clock_motion.png"),
        ("skimage.data", "cell.png"),
    ]
)
LABEL = "Hate Symbols"


def photo(package: str, name: str) -> Image.Image:
    with resources.files(package).joinpath(name).open("rb") as f:
        return Image.open(io.BytesIO(f.read())).convert("RGB")


def photo_bytes(package: str, name: str) -> bytes:
    return resources.files(package).joinpath(name).read_bytes()


def to_jpeg(img: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _draw_symbol(img: Image.Image, rng: random.Random, positive: bool) -> None:
    w, h = img.size
    r = int(min(w, h) * rng.uniform(0.1, 0.22))
    cx, cy = rng.randint(r, w - r), rng.randint(r, h - r)
    draw = ImageDraw.Draw(img)
    if positive:
        draw.ellipse(
            (cx - r, cy - r, cx + r, cy + r),
            fill=(200 + rng.randint(0, 55), rng.randint(0, 40), rng.randint(0, 40)),
        )
        t = max(2, r // 4)
        a = int(r * 0.7)
        draw.rectangle((cx - a, cy - t // 2, cx + a, cy + t // 2), fill=(255, 255, 255))
        draw.rectangle((cx - t // 2, cy - a, cx + t // 2, cy + a), fill=(255, 255, 255))
    else:
        colour = rng.choice([(30, 60, 200), (40, 160, 60), (230, 200, 40), (120, 120, 120)])
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)


def symbol_set(photos, n: int, seed: int) -> list[tuple[bytes, list[str]]]:
    """n augmented crops of the photos: half carry the symbol, a quarter a plain look-alike disk."""
    rng = random.Random(seed)
    sources = [photo(*p) for p in photos]
    out = []
    for i in range(n):
        src = sources[i % len(sources)]
        w, h = src.size
        s = rng.uniform(0.5, 1.0)
        cw, ch = int(w * s), int(h * s)
        x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
        img = src.crop((x, y, x + cw, y + ch)).resize((rng.randint(200, 320), rng.randint(200, 320)))
        if rng.random() < 0.5:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.8, 1.2))
        kind = i % 4
        positive = kind in (0, 1)
        if positive or kind == 2:
            _draw_symbol(img, rng, positive)
        out.append((to_jpeg(img), [LABEL] if positive else []))
    return out


def plain_synthetics() -> list[tuple[str, bytes]]:
    """Plain pictures no moderation label should ever fire on: flat colours, gradients, noise, shapes."""
    out = []
    for name, colour in [
        ("black", (0, 0, 0)),
        ("white", (255, 255, 255)),
        ("red", (200, 30, 30)),
        ("green", (30, 180, 60)),
        ("skin", (224, 172, 140)),
        ("grey", (128, 128, 128)),
    ]:
        out.append((name, to_jpeg(Image.new("RGB", (240, 200), colour))))
    out.append(("gradient", to_jpeg(Image.linear_gradient("L").convert("RGB").resize((300, 220)))))
    rng = random.Random(0)
    noise = Image.frombytes("RGB", (256, 256), bytes(rng.randrange(256) for _ in range(256 * 256 * 3)))
    out.append(("noise", to_jpeg(noise)))
    shapes = Image.new("RGB", (320, 240), (240, 240, 235))
    draw = ImageDraw.Draw(shapes)
    draw.ellipse((30, 30, 150, 150), fill=(200, 40, 40))
    draw.rectangle((170, 60, 300, 200), fill=(40, 60, 200))
    draw.line((0, 230, 320, 10), fill=(20, 20, 20), width=6)
    out.append(("shapes", to_jpeg(shapes)))
    return out
