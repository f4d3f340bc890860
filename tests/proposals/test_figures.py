"""Figure uploads: a decompression bomb is refused from its header, and nothing is stored."""

import io
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from dataflow.errors import InvalidInput
from proposals import services
from proposals.figures import check_figure
from proposals.models import Figure, Proposal


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (8, 8)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, "navy").save(buf, format=fmt)
    return buf.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny valid PNG whose header declares ``width`` × ``height`` pixels (CRC fixed up)."""
    data = bytearray(image_bytes("PNG"))
    # signature (8) + IHDR length (4) + b"IHDR" (4): width, height, then 5 more bytes, then CRC
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def jpeg_declaring(width: int, height: int) -> bytes:
    """A tiny valid JPEG whose SOF0 frame header declares ``width`` × ``height`` pixels."""
    data = bytearray(image_bytes("JPEG"))
    sof = data.index(b"\xff\xc0")
    # marker (2) + length (2) + precision (1), then height and width
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def stored_files(settings) -> set:
    return {p for p in settings.MEDIA_ROOT.rglob("*") if p.is_file()}


BOMB_WARNING = "PIL.Image.DecompressionBombWarning"


@pytest.mark.parametrize(
    "content",
    [
        # beyond Pillow's DecompressionBombError threshold (2 × MAX_IMAGE_PIXELS)
        pytest.param(png_declaring(20000, 20000), id="png-bomb-error"),
        pytest.param(jpeg_declaring(20000, 20000), id="jpeg-bomb-error"),
        # in Pillow's DecompressionBombWarning zone, with the warning ignored or an error
        pytest.param(
            png_declaring(10000, 10000),
            id="png-bomb-warning",
            marks=pytest.mark.filterwarnings(f"ignore::{BOMB_WARNING}"),
        ),
        pytest.param(
            png_declaring(10000, 10000),
            id="png-bomb-warning-as-error",
            marks=pytest.mark.filterwarnings(f"error::{BOMB_WARNING}"),
        ),
    ],
)
def test_an_image_declaring_too_many_pixels_is_refused_on_image(content):
    # when
    with pytest.raises(InvalidInput) as err:
        check_figure(io.BytesIO(content), len(content))
    # then
    (message,) = err.value.errors["image"]
    assert "pixels; at most 50,000,000" in message


def test_the_pixel_limit_is_a_setting(settings):
    # given
    settings.FIGURE_MAX_PIXELS = 100
    content = image_bytes("PNG", (20, 10))
    # when
    with pytest.raises(InvalidInput) as err:
        check_figure(io.BytesIO(content), len(content))
    # then the declared size is quoted
    assert err.value.errors["image"] == [
        "The image is 20 × 10 = 200 pixels; at most 100 pixels are accepted."
    ]


def test_an_image_at_the_pixel_limit_is_accepted(settings):
    settings.FIGURE_MAX_PIXELS = 200
    content = image_bytes("JPEG", (20, 10))
    assert check_figure(io.BytesIO(content), len(content)) == "jpeg"


def test_a_bomb_is_refused_by_the_service_and_nothing_is_stored(draft, settings):
    # given
    content = png_declaring(20000, 20000)
    upload = SimpleUploadedFile("bomb.png", content, content_type="image/png")
    before = stored_files(settings)
    # when
    with pytest.raises(InvalidInput):
        services.figure_add(proposal_id=draft.pk, actor=draft.pi, file=upload, size=len(content))
    # then
    assert not Figure.objects.exists()
    assert stored_files(settings) == before
    assert Proposal.objects.get(pk=draft.pk).version == draft.version


def test_a_bomb_posted_to_the_api_is_400_on_image(draft: Proposal, settings) -> None:
    # given
    token, _ = Token.objects.get_or_create(user=draft.pi)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.key}")
    upload = SimpleUploadedFile("bomb.png", png_declaring(20000, 20000), content_type="image/png")
    before = stored_files(settings)
    # when
    response = client.post(
        f"/api/v1/proposals/{draft.pk}/figures/", {"image": upload}, format="multipart"
    )
    # then
    assert response.status_code == 400
    assert "pixels; at most" in response.json()["errors"]["image"][0]
    assert not Figure.objects.exists()
    assert stored_files(settings) == before
