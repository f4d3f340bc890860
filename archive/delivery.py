"""Delivering archived files: a zip written while it is sent (never whole in memory or on
disk), and a download script that fetches each file through the API with the user's token
(ESO's request handler offers both)."""

from __future__ import annotations

import shlex
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from archive.models import ArchiveFile

CHUNK = 1 << 16


class _Sink:
    """A write-only, unseekable file for :class:`zipfile.ZipFile`: what it is given is taken
    out by the generator after each write (zipfile then writes data descriptors instead of
    seeking back to patch the local headers)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._written = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def zip_stream(entries: Iterable[tuple[str, Path]], notes: str = "") -> Iterator[bytes]:
    """A zip of ``(name in the zip, path on disk)`` entries, yielded in pieces of about
    ``CHUNK`` bytes as the files are read; ``notes`` becomes README.txt when given. FITS
    frames compress poorly and fast delivery matters more: stored, not deflated; zip64 so
    large files need no size known up front."""
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for name, path in entries:
            with path.open("rb") as source, archive.open(name, mode="w", force_zip64=True) as out:
                while chunk := source.read(CHUNK):
                    out.write(chunk)
                    yield sink.take()
            yield sink.take()
        if notes:
            archive.writestr("README.txt", notes)
    yield sink.take()


def download_script(*, files: Iterable[ArchiveFile], base_url: str, token: str) -> str:
    """A POSIX shell script that downloads ``files`` with curl (or wget) through the API,
    authenticated with ``token``, skipping files already there."""
    lines = [
        "#!/bin/sh",
        "# Download script of the Observatory DFS archive. It holds your API token: keep it",
        "# private. Run it with sh; files already downloaded are skipped.",
        "set -eu",
        f"TOKEN={shlex.quote(token)}",
        'fetch() { if [ -s "$2" ]; then echo "have $2"; return; fi',
        "  if command -v curl >/dev/null 2>&1; then",
        '    curl -fSL -H "Authorization: Bearer $TOKEN" -o "$2.part" "$1"',
        "  else",
        '    wget -q --header="Authorization: Bearer $TOKEN" -O "$2.part" "$1"',
        "  fi",
        '  mv "$2.part" "$2"; echo "got $2"; }',
    ]
    for archive_file in files:
        url = f"{base_url.rstrip('/')}/api/v1/archive/files/{archive_file.pk}/download/"
        lines.append(f"fetch {shlex.quote(url)} {shlex.quote(archive_file.arcfile)}")
    return "\n".join(lines) + "\n"
