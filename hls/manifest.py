"""The bitstream manifest: its schema and the checks the host makes before loading a bitstream.

``manifest.json`` sits next to the ``.bit``/``.hwh`` in a bitstream folder (the Vivado flow,
``zynqyolo.hls.bitstream``, writes it last). It records the design point and its hash, the model
hash, the plan summary, the DMAs (``"mode": "sg"``, length register width), the hardware reset
path (``"reset"``: the AXI GPIO that resets the accelerator and both DMAs), board, part, clock,
tool versions and the sha256 of every file. ``load_manifest`` reads it and verifies the
``.bit``/``.hwh`` it lists; ``check_manifest`` refuses a bitstream whose manifest does not match
the design point and model, or whose DMAs are not in scatter-gather mode.

This module needs none of the Vivado or HLS flows, so the PYNQ board (``zynqyolo.host``) reads
manifests through it alone.
"""

from __future__ import annotations

import json
from pathlib import Path

from zynqyolo.dse.hwconfig import HwConfig
from zynqyolo.errors import ZynqyoloError
from zynqyolo.fetch import sha256_file

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "zynqyolo-bitstream-manifest"
MANIFEST_VERSION = 1
# The DMAs run in scatter-gather mode (the manifest says so; older bitstreams had them in simple mode).
DMA_MODE = "sg"
# The hardware reset path (``hls.bitstream``'s block design; ``host.reset`` drives it): bit 0 of this
# AXI GPIO's channel 1 resets the accelerator and both DMAs. The manifest's "reset" entry names it;
# a manifest without one is a bitstream built before the reset path existed.
RESET_GPIO_CELL = "reset_gpio"
RESET_GPIO_MASK = 0x1


def load_manifest(directory) -> dict:
    """Read ``manifest.json`` from a bitstream folder and verify the .bit/.hwh it lists (sha256)."""
    directory = Path(directory)
    path = directory / MANIFEST if directory.is_dir() else directory
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise ZynqyoloError(f"no bitstream manifest at {path}; build one with 'zynqyolo build'") from None
    except (OSError, ValueError) as exc:
        raise ZynqyoloError(f"{path}: unreadable manifest: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise ZynqyoloError(f"{path}: not a zynqyolo bitstream manifest")
    if manifest.get("format_version") != MANIFEST_VERSION:
        raise ZynqyoloError(f"{path}: manifest format version {manifest.get('format_version')}, this zynqyolo reads "
                            f"version {MANIFEST_VERSION}")
    missing = [k for k in ("design_hash", "design", "model_hash", "dma", "board", "part", "files", "built")
               if k not in manifest]
    if missing:
        raise ZynqyoloError(f"{path}: manifest lacks {', '.join(missing)}")
    for kind, name in (manifest.get("bitstream") or {}).items():
        file = path.parent / name
        if not file.is_file():
            raise ZynqyoloError(f"{path}: the {kind} file {name} it lists is missing")
        if sha256_file(file) != manifest["files"].get(name):
            raise ZynqyoloError(f"{path}: {name} does not match its sha256 in the manifest (replaced or damaged)")
    return manifest


def check_manifest(manifest: dict, config: HwConfig, model_hash: str | None, plan=None) -> None:
    """Refuse a bitstream made for another design point or model, or with its DMAs in simple mode
    (a manifest without ``"dma": {"mode": "sg"}``): a ZynqyoloError naming what differs.

    A manifest without a model hash was sized for any plan (26-bit DMA lengths) and accepts any
    model; ``plan`` (optional) is also checked against the DMA length register."""
    mode = (manifest.get("dma") or {}).get("mode")
    if mode != DMA_MODE:
        raise ZynqyoloError(f"bitstream {manifest.get('design_name', '?')} has its AXI DMAs in "
                            f"{'simple (direct register)' if mode is None else repr(mode)} mode (built by an older "
                            f"zynqyolo); this host drives them in scatter-gather mode. Rebuild the bitstream with "
                            "'zynqyolo build'")
    problems = []
    if manifest.get("design_hash") != config.content_hash:
        recorded = manifest.get("design") or {}
        fields = sorted(k for k in set(recorded) | set(config.to_dict()) if recorded.get(k) != config.to_dict().get(k))
        detail = ", ".join(f"{k}: bitstream {recorded.get(k)!r} vs requested {config.to_dict().get(k)!r}"
                           for k in fields) or "the recorded design point was edited"
        problems.append(f"design point differs (hash {str(manifest.get('design_hash'))[:12]} vs "
                        f"{config.content_hash[:12]}; {detail})")
    recorded_model = manifest.get("model_hash")
    if recorded_model is not None and recorded_model != model_hash:
        problems.append(f"quantised model differs (bitstream built for {recorded_model[:12]}, requested "
                        f"{str(model_hash)[:12]})")
    if plan is not None:
        width = int(manifest["dma"]["buffer_length_width"])
        if plan.largest_transfer() >= 1 << width:
            problems.append(f"the plan's largest transfer ({plan.largest_transfer():,} bytes) exceeds the "
                            f"bitstream's {width}-bit DMA length register")
    if problems:
        raise ZynqyoloError(f"bitstream {manifest.get('design_name', '?')} does not fit: " + "; ".join(problems)
                            + ". Build a bitstream for this design point and model with 'zynqyolo build'")


__all__ = ["DMA_MODE", "MANIFEST", "MANIFEST_FORMAT", "MANIFEST_VERSION", "RESET_GPIO_CELL", "RESET_GPIO_MASK",
           "check_manifest", "load_manifest"]
