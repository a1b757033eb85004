"""The release catalog: OS release x device type -> an image (and its bmap)."""

from __future__ import annotations

import shutil
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from hil.errors import ConfigError, HarnessError
from hil.lab.models import LabConfig

CACHE = Path("out/cache/images")


@dataclass(frozen=True)
class ReleaseImageFile:
    release: str
    device_type: str
    path: Path
    bmap: Path | None


def find_image(
    lab: LabConfig, release: str, device_type: str, cache: Path = CACHE
) -> ReleaseImageFile:
    """The image of `release` for `device_type`; URLs are fetched into `cache` once."""
    catalog = lab.releases
    if catalog is None:
        raise ConfigError(f"lab {lab.name}: no release catalog (releases: {{dir: ...}})")
    for entry in catalog.images:
        if entry.release == release and entry.device_type == device_type:
            if entry.path:
                path = Path(entry.path)
            else:
                assert entry.url is not None
                path = _fetch(entry.url, cache)
            bmap = (
                Path(entry.bmap)
                if entry.bmap and "://" not in entry.bmap
                else (_fetch(entry.bmap, cache) if entry.bmap else None)
            )
            return _checked(release, device_type, path, bmap)
    if catalog.dir:
        base = Path(catalog.dir) / f"{device_type}-{release}.img"
        if base.exists():
            bmap = base.with_suffix(".img.bmap")
            return _checked(release, device_type, base, bmap if bmap.exists() else None)
    known = sorted({f"{e.release}/{e.device_type}" for e in catalog.images})
    where = f" or {catalog.dir}/{device_type}-{release}.img" if catalog.dir else ""
    raise ConfigError(
        f"lab {lab.name}: no image of release {release} for {device_type} in the "
        f"release catalog{where} (catalog entries: {', '.join(known) or 'none'})"
    )


def _checked(release: str, device_type: str, path: Path, bmap: Path | None) -> ReleaseImageFile:
    if not path.is_file():
        raise ConfigError(f"{path}: image of release {release} for {device_type} not found")
    if bmap is not None and not bmap.is_file():
        raise ConfigError(f"{bmap}: bmap of release {release} for {device_type} not found")
    return ReleaseImageFile(release, device_type, path, bmap)


def _fetch(url: str, cache: Path) -> Path:
    name = Path(urllib.parse.urlparse(url).path).name or "image.img"
    target = cache / name
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, tmp.open("wb") as out:
            shutil.copyfileobj(resp, out, 1 << 20)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise HarnessError(f"{url}: download failed: {e}") from None
    tmp.replace(target)
    return target
