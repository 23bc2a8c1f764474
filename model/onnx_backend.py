"""ONNX export of the float model and an onnxruntime (CPU) runner with the same outputs.

The exported file carries the network it was made for in its ``metadata_props``: the IR as
canonical JSON (``zynqyolo.network``) and its sha256 (``zynqyolo.network_hash``, see
``Network.content_hash``). Loading checks both, so a model exported for another cfg or input
size, or a file whose metadata was edited, is refused instead of silently giving wrong boxes.

Export needs torch and onnx (the TorchScript-based exporter, ``dynamo=False``: a graph of plain
ONNX ops, fixed H x W, dynamic batch); running needs only onnxruntime and numpy.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from zynqyolo.atomic import write_bytes_atomic
from zynqyolo.errors import ZynqyoloError

from .ir import Network
from .weights import Weights

DEFAULT_OPSET = 17
MIN_OPSET = 11  # Resize with asymmetric/floor nearest (the upsample) needs opset 11
INPUT_NAME = "image"
HASH_KEY = "zynqyolo.network_hash"
NETWORK_KEY = "zynqyolo.network"


def output_names(network: Network) -> list[str]:
    """ONNX output names, one per yolo layer in IR order: ``yolo_<layer index>``."""
    return [f"yolo_{y.index}" for y in network.yolos]


def _check_output_path(path: Path) -> None:
    if path.is_dir():
        raise ZynqyoloError(f"output {path} is a directory; give a file name such as {path / 'model.onnx'}")
    if not path.parent.is_dir():
        raise ZynqyoloError(f"output directory {path.parent} does not exist")


def export_onnx(network: Network, weights: Weights, path: str | Path, opset: int = DEFAULT_OPSET) -> Path:
    """Export the float model of ``network`` to ``path`` (input (N, C, H, W), dynamic batch N).

    The file is written to a temporary name next to ``path`` and renamed into place, so a
    failed export never leaves a partial file. Returns ``path``.
    """
    path = Path(path)
    _check_output_path(path)
    try:
        import onnx

        from .torch_model import max_onnx_opset, onnx_bytes
    except ImportError as exc:
        raise ZynqyoloError(f"ONNX export needs torch and onnx ({exc}); install them with "
                            "pip install 'zynqyolo[torch]'") from None

    # Checked here: torch dumps its whole IR graph to stderr when the export fails on an opset.
    max_opset = max_onnx_opset()
    if not isinstance(opset, int) or not MIN_OPSET <= opset <= max_opset:
        raise ZynqyoloError(f"ONNX opset {opset} is not supported; choose {MIN_OPSET}..{max_opset} "
                            f"(default {DEFAULT_OPSET})")
    try:
        blob = onnx_bytes(network, weights, opset, INPUT_NAME, output_names(network))
    except RuntimeError as exc:  # torch reports unsupported opsets and ops as RuntimeError subclasses
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ZynqyoloError(f"ONNX export at opset {opset} failed: {first[:300]}") from None
    proto = onnx.load_model_from_string(blob)
    meta = {
        HASH_KEY: network.content_hash,
        NETWORK_KEY: json.dumps(network.to_dict(), sort_keys=True, separators=(",", ":")),
    }
    kept = [p for p in proto.metadata_props if p.key not in meta]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "zynqyolo"
    proto.doc_string = (f"darknet network {network.width}x{network.height}, outputs "
                        f"{', '.join(output_names(network))}: yolo-layer tensors (N, C, h, w), sigmoid on "
                        "x, y, objectness and classes, w/h raw")
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()

    write_bytes_atomic(path, data)
    return path


class OnnxModel:
    """An exported model on onnxruntime's CPU provider.

    ``network`` (optional) is the network the caller expects; the file must have been exported
    for exactly that network (same ``content_hash``). Without it, the network stored in the file
    is used (still checked against the stored hash) and exposed as ``.network``.
    """

    def __init__(self, path: str | Path, network: Network | None = None):
        self.path = Path(path)
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            raise ZynqyoloError(f"ONNX model not found: {self.path} (create one with 'zynqyolo export-onnx')") from None
        except OSError as exc:
            raise ZynqyoloError(f"cannot read ONNX model {self.path}: {exc}") from None
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ZynqyoloError(f"running an ONNX model needs onnxruntime ({exc})") from None
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only
        try:
            self.session = ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own pybind exception types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ZynqyoloError(f"{self.path} is not a loadable ONNX model: {first[:300]}") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        self.network = self._stored_network(meta)
        if network is not None and network.content_hash != self.network.content_hash:
            raise ZynqyoloError(
                f"{self.path} was exported for another network (hash {self.network.content_hash[:12]}, "
                f"{self.network.width}x{self.network.height}) than the one given (hash {network.content_hash[:12]}, "
                f"{network.width}x{network.height}); re-export it with 'zynqyolo export-onnx'")
        self.output_names = output_names(self.network)
        have_out = [o.name for o in self.session.get_outputs()]
        have_in = [i.name for i in self.session.get_inputs()]
        if have_in != [INPUT_NAME] or have_out != self.output_names:
            raise ZynqyoloError(f"{self.path}: inputs {have_in} / outputs {have_out} do not match the network "
                                f"(expected [{INPUT_NAME!r}] / {self.output_names})")

    def _stored_network(self, meta: dict) -> Network:
        if HASH_KEY not in meta or NETWORK_KEY not in meta:
            raise ZynqyoloError(f"{self.path} has no zynqyolo network metadata ({HASH_KEY}); it was not written by "
                                "'zynqyolo export-onnx', re-export it")
        try:
            stored = Network.from_dict(json.loads(meta[NETWORK_KEY]))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ZynqyoloError(f"{self.path}: unreadable network metadata ({exc}); re-export it") from None
        if stored.content_hash != meta[HASH_KEY]:
            raise ZynqyoloError(f"{self.path}: the network metadata does not match its hash {meta[HASH_KEY][:12]} "
                                "(the file was edited); re-export it")
        return stored

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        """Yolo-layer outputs for ``x`` float32 (N, C, H, W) in [0, 1], one array per yolo layer."""
        net = self.network
        expected = (net.channels, net.height, net.width)
        if not isinstance(x, np.ndarray) or x.ndim != 4 or tuple(x.shape[1:]) != expected:
            got = x.shape if isinstance(x, np.ndarray) else type(x).__name__
            raise ZynqyoloError(f"ONNX model input must be a float32 array (N, {expected[0]}, {expected[1]}, "
                                f"{expected[2]}), got {got}")
        if x.dtype != np.float32:
            raise ZynqyoloError(f"ONNX model input must be float32, got {x.dtype}")
        return self.session.run(self.output_names, {INPUT_NAME: np.ascontiguousarray(x)})

    __call__ = forward
