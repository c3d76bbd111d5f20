"""Images for the conversation: from bytes, a file, a data URI or an http(s) URL.

The Realtime API takes an image as an ``input_image`` part of a user message whose
``image_url`` is a base64 *data URI*, in PNG or JPEG (the OpenAI SDK's
``RealtimeConversationItemUserMessage``); it documents no remote URLs. So an http(s) URL is
fetched here, by the application's process, and sent as a data URI like any other image.

The type is told from the bytes (magic numbers), not from a file name or a server's
``Content-Type``; GIF and WebP are recognised and refused with the reason. Images above
:data:`DEFAULT_MAX_IMAGE_BYTES` (before base64, which adds a third) are refused before anything
is read past the limit.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, get_args

from agentkit._redact import redact
from agentkit.errors import AgentkitError

__all__ = [
    "DEFAULT_MAX_IMAGE_BYTES",
    "IMAGE_TYPES",
    "Image",
    "ImageDetail",
    "ImageError",
    "ImageLike",
    "ImageTooLargeError",
    "load_image",
    "sniff_image_type",
]

DEFAULT_MAX_IMAGE_BYTES = 5 * 1024 * 1024
"""5 MiB of image bytes (about 6.7 MiB once base64-encoded in the event)."""

IMAGE_TYPES = ("image/png", "image/jpeg")
"""The formats the Realtime API takes."""

ImageDetail = Literal["auto", "low", "high"]
"""How closely the model looks: ``auto`` (the service's default, ``high``), ``low``, ``high``."""

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


class ImageError(AgentkitError):
    """An image cannot be sent: unreadable, empty, not PNG or JPEG, or unreachable."""


class ImageTooLargeError(ImageError):
    """An image is larger than the limit.

    Attributes:
        size: its size in bytes (at least this many, when it was cut off while reading).
        limit: the limit in bytes.
    """

    def __init__(self, source: str, size: int, limit: int, *, cut_off: bool = False) -> None:
        self.size = size
        self.limit = limit
        has = f"more than {limit:,}" if cut_off else f"{size:,}"
        super().__init__(
            f"{source} has {has} bytes; the image limit is {limit:,} bytes "
            "(pass max_bytes= to raise it)"
        )


def sniff_image_type(data: bytes) -> str | None:
    """The MIME type the bytes' magic number shows (PNG, JPEG, GIF, WebP), or ``None``."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((mime for magic, mime in _SIGNATURES if data.startswith(magic)), None)


@dataclass(frozen=True, repr=False)
class Image:
    """An image ready to send: PNG or JPEG bytes within the size limit. Build it with a
    classmethod; :meth:`agentkit.Session.send_image` also takes bytes, paths and URLs.

    Attributes:
        data: the encoded image (PNG or JPEG file contents).
        mime_type: ``image/png`` or ``image/jpeg``, from the bytes.
        detail: ``auto``, ``low`` or ``high``; ``None`` leaves it to the service.
        source: where it came from, for messages (a file name or a URL without credentials).
    """

    data: bytes
    mime_type: str
    detail: ImageDetail | None = None
    source: str = "image"

    def __post_init__(self) -> None:
        if self.detail is not None and self.detail not in get_args(ImageDetail):
            raise ImageError(f"detail must be 'auto', 'low' or 'high', not {self.detail!r}")

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        *,
        detail: ImageDetail | None = None,
        max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
        source: str = "image",
    ) -> Image:
        """Check ``data`` (size, then type from its magic number) and wrap it.

        Raises:
            ImageTooLargeError: more than ``max_bytes``.
            ImageError: empty, or not PNG or JPEG.
        """
        data = bytes(data)
        if len(data) > max_bytes:
            raise ImageTooLargeError(source, len(data), max_bytes)
        if not data:
            raise ImageError(f"{source} is empty")
        mime = sniff_image_type(data)
        if mime not in IMAGE_TYPES:
            found = f"it is {mime}" if mime else "its bytes are not a known image format"
            raise ImageError(f"{source} is not PNG or JPEG, which the Realtime API takes: {found}")
        return cls(data, mime, detail, source)

    @classmethod
    def from_path(
        cls,
        path: str | os.PathLike[str],
        *,
        detail: ImageDetail | None = None,
        max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    ) -> Image:
        """Read an image file; its size is checked before it is read.

        Raises:
            ImageTooLargeError: the file is larger than ``max_bytes``.
            ImageError: it cannot be read, or is not PNG or JPEG.
        """
        file = Path(path)
        try:
            size = file.stat().st_size
            if size > max_bytes:
                raise ImageTooLargeError(str(file), size, max_bytes)
            data = file.read_bytes()
        except OSError as exc:
            raise ImageError(f"cannot read {file}: {exc.strerror or exc}") from exc
        return cls.from_bytes(data, detail=detail, max_bytes=max_bytes, source=str(file))

    @classmethod
    def from_data_uri(
        cls,
        uri: str,
        *,
        detail: ImageDetail | None = None,
        max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    ) -> Image:
        """Decode a ``data:image/...;base64,...`` URI (the type is still told from the bytes).

        Raises:
            ImageError: not a base64 data URI, or its bytes are not a PNG or JPEG.
        """
        header, comma, payload = uri.partition(",")
        if not comma or not header.startswith("data:") or not header.endswith(";base64"):
            raise ImageError("a data URI must look like data:image/png;base64,...")
        if len(payload) > (max_bytes + 2) // 3 * 4 + 4:
            raise ImageTooLargeError("the data URI", len(payload) * 3 // 4, max_bytes, cut_off=True)
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ImageError(f"the data URI's base64 is invalid: {exc}") from exc
        return cls.from_bytes(data, detail=detail, max_bytes=max_bytes, source="the data URI")

    @classmethod
    async def from_url(
        cls,
        url: str,
        *,
        detail: ImageDetail | None = None,
        max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
        timeout: float = 30.0,
    ) -> Image:
        """Fetch an ``http(s)://`` image (in a worker thread), or decode a ``data:`` URI.

        Reading stops past ``max_bytes``, so a huge or endless body costs no more than that.

        Raises:
            ImageTooLargeError: the body is larger than ``max_bytes``.
            ImageError: another scheme, an HTTP error, no connection, or not PNG or JPEG.
        """
        if url.startswith("data:"):
            return cls.from_data_uri(url, detail=detail, max_bytes=max_bytes)
        shown = redact(url)
        if not url.lower().startswith(("http://", "https://")):
            raise ImageError(f"an image URL must be http(s):// or data:, not {shown!r}")
        data = await asyncio.to_thread(_fetch, url, shown, max_bytes, timeout)
        return cls.from_bytes(data, detail=detail, max_bytes=max_bytes, source=shown)

    def data_uri(self) -> str:
        """The ``image_url`` the Realtime API takes: ``data:image/png;base64,...``."""
        return f"data:{self.mime_type};base64,{base64.b64encode(self.data).decode('ascii')}"

    def __repr__(self) -> str:
        return f"Image({self.mime_type}, {len(self.data):,} bytes, source={self.source!r})"


ImageLike = Image | bytes | str | os.PathLike[str]
"""What :func:`load_image` takes: an :class:`Image`, encoded bytes, a path, or a URL."""


async def load_image(
    image: ImageLike, *, detail: ImageDetail | None = None, max_bytes: int = DEFAULT_MAX_IMAGE_BYTES
) -> Image:
    """An :class:`Image` from any :data:`ImageLike`; a string is a URL if it starts with
    ``http://``, ``https://`` or ``data:``, else a path. ``detail`` overrides the image's own.

    Raises:
        ImageError: see the :class:`Image` constructors.
    """
    if isinstance(image, Image):
        return image if detail is None else replace(image, detail=detail)
    if isinstance(image, (bytes, bytearray, memoryview)):
        return Image.from_bytes(bytes(image), detail=detail, max_bytes=max_bytes)
    if isinstance(image, str) and image.lower().startswith(("http://", "https://", "data:")):
        return await Image.from_url(image, detail=detail, max_bytes=max_bytes)
    if isinstance(image, (str, os.PathLike)):
        return Image.from_path(image, detail=detail, max_bytes=max_bytes)
    raise TypeError(f"expected an Image, bytes, a path or a URL, not {type(image).__name__}")


def _fetch(url: str, shown: str, max_bytes: int, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "agentkit"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise ImageTooLargeError(shown, int(length), max_bytes)
            data: bytes = response.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the response's socket
        raise ImageError(f"fetching {shown} failed: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ImageError(f"fetching {shown} failed: {reason}") from None
    if len(data) > max_bytes:
        raise ImageTooLargeError(shown, len(data), max_bytes, cut_off=True)
    return data
