"""Images to calibrate int8 quantization on, made from photos that ship with a runtime dependency.

scikit-learn (a dependency of the console) bundles two photos; crops of them at several scales,
flipped and in other light, plus plain synthetic pictures (gradients, shapes, noise, text-like
strokes), give the activation ranges of ordinary images. The set is deterministic, so the same
install always quantizes to the same int8 model.
"""

from __future__ import annotations

import io
import random
from importlib import resources

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

PHOTOS = ("china.jpg", "flower.jpg")
COUNT = 48
VERSION = "1"  # bump when the set changes: int8 models are cached per calibration set


def _photo(name: str) -> Image.Image:
    data = resources.files("sklearn.datasets").joinpath("images", name).read_bytes()
    return Image.open(io.BytesIO(data)).convert("RGB")


def _synthetic(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    w, h = size
    top = tuple(rng.randint(0, 255) for _ in range(3))
    bottom = tuple(rng.randint(0, 255) for _ in range(3))
    img = Image.linear_gradient("L").resize(size).convert("RGB")
    img = Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), img.convert("L"))
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(2, 8)):
        x0, y0 = rng.randint(0, w - 10), rng.randint(0, h - 10)
        box = (x0, y0, rng.randint(x0 + 5, w), rng.randint(y0 + 5, h))
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse(box, fill=colour)
        else:
            draw.rectangle(box, fill=colour)
    for _ in range(rng.randint(0, 6)):
        points = [(rng.randint(0, w), rng.randint(0, h)) for _ in range(3)]
        draw.line(points, fill=tuple(rng.randint(0, 255) for _ in range(3)), width=rng.randint(1, 6))
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 3)))
    return img


def images(count: int = COUNT, seed: int = 0) -> list[Image.Image]:
    """`count` RGB images, 200-480 px a side: three in four are photo crops, one in four synthetic."""
    rng = random.Random(seed)
    photos = [_photo(name) for name in PHOTOS]
    out = []
    for i in range(count):
        size = (rng.randint(200, 480), rng.randint(200, 480))
        if i % 4 == 3:
            out.append(_synthetic(rng, size))
            continue
        src = photos[i % len(photos)]
        w, h = src.size
        s = rng.uniform(0.3, 1.0)
        cw, ch = int(w * s), int(h * s)
        x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
        img = src.crop((x, y, x + cw, y + ch)).resize(size, Image.Resampling.BILINEAR)
        if rng.random() < 0.5:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        img = ImageEnhance.Brightness(img).enhance(rng.uniform(0.6, 1.4))
        img = ImageEnhance.Color(img).enhance(rng.uniform(0.5, 1.5))
        out.append(img)
    return out
