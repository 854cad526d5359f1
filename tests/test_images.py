"""Images for vision models: prepared (checked, upright, downscaled, re-encoded), sent in
each protocol's own shape to the fake server over HTTP, and a model that cannot see them
ends in one clear sentence."""

from __future__ import annotations

import asyncio
import base64
import io
import struct
import zlib

import pytest
from openai import AsyncOpenAI
from PIL import Image as Pillow

from assistant.conversation.history import IMAGE_TOKENS, messages_tokens
from assistant.conversation.images import ImageRejected, check_images, prepare_image
from assistant.domain.events import Event, Failed, Finished, TextDelta
from assistant.domain.failures import NO_IMAGES
from assistant.domain.messages import Image, Message, ModelRequest, Text
from assistant.providers.backends import Backend
from assistant.providers.base import Upstream
from assistant.providers.models import sees_images
from assistant.providers.protocols import build_adapters
from assistant.providers.retrying import RetryPolicy
from fakes.fake_openai import Scenario
from tests.conftest import APIS, FAKE_MODEL, model_posts

RED, BLUE = (220, 20, 20), (20, 20, 220)


def encoded(image: Pillow.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def decoded(image: Image) -> Pillow.Image:
    return Pillow.open(io.BytesIO(image.data))


def photo(width: int = 3000, height: int = 2000) -> bytes:
    return encoded(Pillow.linear_gradient("L").resize((width, height)).convert("RGB"), "JPEG")


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header says it is `width` x `height` pixels."""
    data = bytearray(encoded(Pillow.new("1", (1, 1)), "PNG"))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def send(fake, api: str, *messages: Message) -> list[Event]:
    """`messages` through the app's adapter for `api`, with its retries and fallback."""
    async def run() -> list[Event]:
        async with AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0) as client:
            adapter = build_adapters(Upstream(client, "fake", 5.0), RetryPolicy(base_delay=0.01))[api]
            return [e async for e in adapter.stream(ModelRequest(FAKE_MODEL, messages, 0.7, 256))]
    return asyncio.run(run())


def reply(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def failure(events: list[Event]):
    [failed] = [e for e in events if isinstance(e, Failed)]
    return failed.failure


# ---------------------------------------------------------------------- the wire
@pytest.mark.parametrize("api", APIS)
def test_both_protocols_send_images_in_their_own_part_shape_and_plain_messages_as_before(fake, api):
    image = Image("image/png", b"\x89PNG fake bytes", "cat.png")
    url = "data:image/png;base64," + base64.b64encode(image.data).decode()
    fake.enqueue(Scenario(text="A cat."))
    events = send(fake, api, Message.of("user", "Hi"), Message.of("assistant", "Hello."),
                  Message("user", (Text("What is "), Text("this?"), image)))

    assert reply(events) == "A cat." and isinstance(events[-1], Finished)
    [post] = model_posts(fake)
    if api == "chat_completions":
        assert post.body["messages"] == [
            {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                         {"type": "image_url", "image_url": {"url": url}}]}]
    else:
        assert post.body["input"] == [
            {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": [{"type": "input_text", "text": "What is this?"},
                                         {"type": "input_image", "image_url": url}]}]


@pytest.mark.parametrize("api", APIS)
def test_a_message_of_images_alone_sends_no_empty_text_part(fake, api):
    first, second = Image("image/jpeg", b"a"), Image("image/png", b"b")
    send(fake, api, Message("user", (first, second)))

    [post] = model_posts(fake)
    [sent] = post.body["messages" if api == "chat_completions" else "input"]
    assert [p["type"] for p in sent["content"]] == (
        ["image_url", "image_url"] if api == "chat_completions" else ["input_image", "input_image"])


@pytest.mark.parametrize("api", APIS)
def test_a_3000_by_2000_photo_reaches_the_model_as_a_1024_by_683_jpeg(fake, api):
    image = prepare_image(photo(), "holiday.jpg")
    fake.enqueue(Scenario(echo_images=True))
    events = send(fake, api, Message("user", (Text("Where is this?"), image)))

    assert reply(events) == "Saw 1 image: image/jpeg 1024x683"
    assert image.name == "holiday.jpg"


# ---------------------------------------------------------------------- a model that cannot see
@pytest.mark.parametrize("api", APIS)
def test_a_model_that_cannot_see_images_says_so_in_one_clear_sentence(fake, api):
    fake.enqueue(Scenario(reject_images=True))
    events = send(fake, api, Message("user", (Text("What is this?"), Image("image/png", b"x"))))

    found = failure(events)
    assert (found.kind, found.status) == ("no_images", 400)
    assert found.message == ("This model cannot read images. Choose a model that can, "
                             "or send the message without them.")
    assert len(model_posts(fake)) == 1  # not retried


@pytest.mark.parametrize("api", APIS)
def test_the_fake_rejects_images_only_when_a_request_has_them(fake, api):
    fake.enqueue(Scenario(reject_images=True, text="Plain words."))
    assert reply(send(fake, api, Message.of("user", "Hi"))) == "Plain words."


def test_llama_cpps_500_for_images_is_the_same_sentence_and_is_not_retried(fake):
    fake.enqueue(Scenario(status=500, error_type="server_error", error_message=(
        "image input is not supported - hint: if this is unexpected, you may need to provide the mmproj")))
    found = failure(send(fake, "chat_completions", Message("user", (Image("image/png", b"x"),))))

    assert (found.kind, found.message, found.retryable) == ("no_images", NO_IMAGES.message, False)
    assert len(model_posts(fake)) == 1


def test_an_image_the_server_could_not_decode_is_not_called_a_model_that_cannot_see(fake):
    fake.enqueue(Scenario(status=400, error_message="You uploaded an unsupported image. "
                          "Please make sure your image is valid."))
    found = failure(send(fake, "chat_completions", Message("user", (Image("image/png", b"x"),))))

    assert found.kind == "bad_request"


def test_which_models_see_images_is_known_without_a_request():
    assert sees_images("gpt-4.1-mini") and sees_images("gpt-4o-2024-08-06") and sees_images("o4-mini")
    assert sees_images("gpt-5-nano") is True
    assert sees_images("some-local-model") is None
    client = AsyncOpenAI(api_key="test")
    assert Backend("openai", "OpenAI", client, "gpt-4.1-mini").sees_images("gpt-4.1-mini") is True
    assert Backend("custom", "Custom", client, None).sees_images("llama3") is None
    assert Backend("local", "Local", client, "local", images_supported=False).sees_images("gpt-4o") is False


# ---------------------------------------------------------------------- preparing images
def test_a_png_with_transparency_stays_a_png_with_its_alpha():
    picture = Pillow.new("RGBA", (2000, 500), (0, 128, 0, 0))
    picture.paste((0, 128, 0, 255), (0, 0, 1000, 500))
    image = prepare_image(encoded(picture, "PNG"), "logo.png")

    assert image.media_type == "image/png"
    out = decoded(image)
    assert (out.format, out.mode, out.size) == ("PNG", "RGBA", (1024, 256))
    assert out.getpixel((10, 10))[3] == 255 and out.getpixel((1000, 10))[3] == 0


def test_a_png_without_transparency_is_sent_as_a_jpeg_and_a_small_one_is_not_enlarged():
    image = prepare_image(encoded(Pillow.new("RGBA", (300, 200), (*RED, 255)), "PNG"), "chart.png")

    out = decoded(image)
    assert (image.media_type, out.format, out.size) == ("image/jpeg", "JPEG", (300, 200))


def test_the_photo_is_upright_by_its_exif_orientation():
    picture = Pillow.new("RGB", (300, 200), BLUE)
    picture.paste(RED, (0, 0, 150, 200))  # stored: red on the left
    exif = Pillow.Exif()
    exif[0x0112] = 6  # shown turned 90° clockwise: the left goes to the top
    image = prepare_image(encoded(picture, "JPEG", exif=exif.tobytes()), "phone.jpg")

    out = decoded(image).convert("RGB")
    assert out.size == (200, 300)
    top, bottom = out.getpixel((100, 30)), out.getpixel((100, 270))
    assert top[0] > 180 > top[2] and bottom[2] > 180 > bottom[0]
    assert 0x0112 not in out.getexif()  # re-encoded without the camera's metadata


def test_an_animated_gif_sends_its_first_frame_and_webp_is_read():
    frames = [Pillow.new("RGB", (64, 64), RED), Pillow.new("RGB", (64, 64), BLUE)]
    gif = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    first = decoded(prepare_image(gif, "wave.gif")).convert("RGB").getpixel((32, 32))
    webp = prepare_image(encoded(frames[1], "WEBP"), "b.webp")

    assert first[0] > 180 > first[2]
    assert webp.media_type == "image/jpeg" and decoded(webp).size == (64, 64)


@pytest.mark.parametrize("width,height", [(30_000, 30_000), (8000, 6000)], ids=["bomb", "too-many-pixels"])
def test_an_image_with_huge_dimensions_is_refused_before_it_is_decoded(width, height):
    with pytest.raises(ImageRejected, match=r"“huge\.png”"):
        prepare_image(png_claiming(width, height), "huge.png")


def test_a_text_file_is_not_an_image():
    with pytest.raises(ImageRejected) as refused:
        prepare_image(b"Dear diary,\nnot a picture.\n", "notes.txt")
    assert str(refused.value) == "“notes.txt” is not an image this app can read (PNG, JPEG, GIF or WebP)."


def test_an_image_over_the_byte_limit_is_refused_before_it_is_opened():
    with pytest.raises(ImageRejected) as refused:
        prepare_image(b"\0" * 2_000_001, "big.jpg", max_bytes=2_000_000)
    assert str(refused.value) == "“big.jpg” is 2.0 MB; an image can be at most 2 MB."


def test_a_message_with_too_many_images_is_refused():
    check_images(4, 4)
    with pytest.raises(ImageRejected, match="at most 4 images; this one has 5"):
        check_images(5, 4)


# ---------------------------------------------------------------------- the conversation model
def test_an_image_is_a_part_that_text_and_token_estimates_understand():
    image = Image("image/jpeg", b"\xff" * 100_000)
    message = Message("user", (Text("Look "), image, Text("here")))

    assert message.text == "Look here" and message.images == (image,)
    assert messages_tokens([message]) == messages_tokens([Message.of("user", "Look here")]) + IMAGE_TOKENS
    assert "100000" not in repr(image) and b"\xff" not in repr(image).encode()
