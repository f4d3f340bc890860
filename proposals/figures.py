"""Figure uploads: the type is read from the content (Pillow), never trusted from the name."""

from typing import IO

from django.conf import settings
from PIL import Image, UnidentifiedImageError

from dataflow.errors import InvalidInput

ALLOWED_FORMATS = {"PNG": "png", "JPEG": "jpeg"}


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
    try:
        file.seek(0)
        with Image.open(file) as img:
            fmt = img.format
            img.verify()
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
