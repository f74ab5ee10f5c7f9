"""Photos for the demo's proofs: a few small JPEGs, made once per process (stored once, by content hash)."""

from __future__ import annotations

import io
from functools import cache

from PIL import Image, ImageDraw

_COLOURS = ((90, 140, 90), (70, 110, 150), (150, 120, 80), (110, 110, 110), (130, 90, 120), (80, 130, 130))


@cache
def demo_photo(variant: int = 0, text: str = "after") -> bytes:
    image = Image.new("RGB", (640, 480), _COLOURS[variant % len(_COLOURS)])
    ImageDraw.Draw(image).text((20, 20), f"{text} #{variant}", fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()
