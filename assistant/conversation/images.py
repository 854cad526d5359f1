"""Images a user sends, made ready for a model: checked, upright, at most `max_side`
pixels a side, and re-encoded (which also drops their metadata, a photo's location too).

Everything a user can send is refused with `ImageRejected`, whose message they read.
"""

from __future__ import annotations

import io

from PIL import Image as Pillow
from PIL import ImageOps

from ..domain.messages import Image

MAX_SIDE = 1024
MAX_BYTES = 10_000_000
MAX_IMAGES = 4  # a message's images
MAX_PIXELS = 40_000_000  # decoded, before downscaling: about 160 MB of RGBA
JPEG_QUALITY = 85
FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
# OSError: also UnidentifiedImageError and a truncated file
_UNREADABLE = (OSError, SyntaxError, ValueError, EOFError, Pillow.DecompressionBombError)


class ImageRejected(ValueError):
    """An image we will not send; the message is for the user."""


def _label(name: str) -> str:
    return f"“{name}”" if name else "The image"


def check_images(count: int, max_count: int = MAX_IMAGES) -> None:
    """Refuses a message with more than `max_count` images."""
    if count > max_count:
        raise ImageRejected(f"A message can carry at most {max_count} images; this one has {count}. "
                            "Remove some and send it again.")


def prepare_image(data: bytes, name: str, *, max_side: int = MAX_SIDE,
                  max_bytes: int = MAX_BYTES) -> Image:
    """`data` as a JPEG (or a PNG when it has transparency) no larger than `max_side`."""
    if len(data) > max_bytes:
        raise ImageRejected(f"{_label(name)} is {len(data) / 1e6:.1f} MB; an image can be at most "
                            f"{max_bytes / 1e6:g} MB.")
    unreadable = ImageRejected(f"{_label(name)} is not an image this app can read "
                               "(PNG, JPEG, GIF or WebP).")
    try:
        with Pillow.open(io.BytesIO(data), formats=FORMATS) as opened:  # reads the header only
            if opened.width * opened.height > MAX_PIXELS:
                raise ImageRejected(f"{_label(name)} is too large to open "
                                    f"({opened.width}×{opened.height} pixels).")
            image = ImageOps.exif_transpose(opened)  # decodes; a GIF's first frame
    except ImageRejected:
        raise
    except _UNREADABLE as exc:
        raise unreadable from exc
    image.thumbnail((max_side, max_side), Pillow.Resampling.LANCZOS)  # never enlarges
    out = io.BytesIO()
    if _has_alpha(image):
        image.convert("RGBA").save(out, "PNG")
        return Image("image/png", out.getvalue(), name)
    image.convert("L" if image.mode in ("1", "L", "LA") else "RGB").save(
        out, "JPEG", quality=JPEG_QUALITY)
    return Image("image/jpeg", out.getvalue(), name)


def _has_alpha(image: Pillow.Image) -> bool:
    """Some pixel is not fully opaque."""
    if image.mode not in ("RGBA", "LA", "PA") and "transparency" not in image.info:
        return False
    low = image.convert("RGBA").getchannel("A").getextrema()[0]  # one band: (low, high)
    return isinstance(low, (int, float)) and low < 255
