"""Static files of the widget and pages, served under content-hashed names.

``widget.css`` is served as ``/web/static/widget.<hash>.css`` with a year-long, immutable cache;
``/widget.js`` (the small loader a webmaster embeds) stays short-lived and points at the current
hashes, so a deployment reaches every host page within minutes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
PREFIX = "/web/static"
VERSIONED = re.compile(r"^(?P<stem>[a-z0-9-]+)\.(?P<hash>[0-9a-f]{12})\.(?P<ext>js|css)$")
MEDIA_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}


@dataclass(frozen=True)
class Asset:
    name: str        # widget.css
    body: bytes
    digest: str      # first 12 hex digits of its sha256

    @property
    def versioned_name(self) -> str:
        stem, ext = self.name.rsplit(".", 1)
        return f"{stem}.{self.digest}.{ext}"

    @property
    def url(self) -> str:
        return f"{PREFIX}/{self.versioned_name}"

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.name.rsplit(".", 1)[1]]


class AssetCatalog:
    """Every file in ``static/``, read once at start (no build step at run time)."""

    def __init__(self, directory: Path = STATIC_DIR):
        self.assets: dict[str, Asset] = {}
        for path in sorted(directory.iterdir()):
            if path.suffix in (".js", ".css"):
                body = path.read_bytes()
                self.assets[path.name] = Asset(path.name, body, hashlib.sha256(body).hexdigest()[:12])

    def url(self, name: str) -> str:
        return self.assets[name].url

    def lookup(self, versioned_name: str) -> tuple[Asset, bool] | None:
        """The asset behind a requested name and whether the hash is current (an old hash still gets
        the current file, uncached, so that a page loaded before a deployment keeps working)."""
        match = VERSIONED.match(versioned_name)
        if not match:
            return None
        asset = self.assets.get(f"{match['stem']}.{match['ext']}")
        if asset is None:
            return None
        return asset, match["hash"] == asset.digest
