"""Figure uploads: the type is read from the content (Pillow), never trusted from the name.

Only the header is read: the declared pixel count is checked against ``FIGURE_MAX_PIXELS``
before anything could decode the image (a PDF render decoding a 20000 × 20000 PNG of a few
kilobytes would need gigabytes).
"""

from typing import IO

from django.conf import settings
from PIL import Image, UnidentifiedImageError

from dataflow.errors import InvalidInput

ALLOWED_FORMATS = {"PNG": "png", "JPEG": "jpeg"}


def _too_many_pixels(declared: str, limit: int) -> InvalidInput:
    return InvalidInput(
        "Image too large.",
        {"image": [f"The image is {declared} pixels; at most {limit:,} pixels are accepted."]},
    )


def check_figure(file: IO[bytes], size: int) -> str:
    """Return ``"png"`` or ``"jpeg"``; raise InvalidInput for anything else or too large."""
    limit = settings.FIGURE_MAX_BYTES
    if size > limit:
        raise InvalidInput(
            "Figure too large.",
            {
                "image": [
                    f"The file is {size / 1e6:.1f} MB; figures are limited to {limit / 1e6:.1f} MB."
                ]
            },
        )
    max_pixels: int = settings.FIGURE_MAX_PIXELS
    try:
        file.seek(0)
        with Image.open(file) as img:  # reads the header only: nothing is decoded here
            fmt = img.format
            width, height = img.size
            if width * height > max_pixels:
                raise _too_many_pixels(f"{width} × {height} = {width * height:,}", max_pixels)
            img.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow refuses (or, where warnings are errors, warns about) the header itself before
        # we see the size: its limit is well above ours, so "more than" it is all we can say.
        pillow_limit = Image.MAX_IMAGE_PIXELS or 0
        if isinstance(exc, Image.DecompressionBombError):
            pillow_limit *= 2
        raise _too_many_pixels(f"more than {pillow_limit:,}", max_pixels) from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise InvalidInput(
            "Not an image.",
            {"image": ["The file is not a PNG or JPEG image (checked by its content)."]},
        ) from exc
    finally:
        file.seek(0)
    if fmt not in ALLOWED_FORMATS:
        raise InvalidInput(
            "Unsupported image.", {"image": [f"{fmt} images are not accepted: use PNG or JPEG."]}
        )
    return ALLOWED_FORMATS[fmt]
