"""C simulation of the HLS kernels: build them with g++ into a shared library, call them via ctypes.

``CsimAccelerator(config).call(registers, in_words, wts_words)`` is one hardware call, exactly
as the board's DMA and AXI-Lite would make it: the same registers, the same word streams, the
same output stream (with TLAST checked on the final word). It also returns the iteration count
of every pipelined loop of the kernels, by loop label, for the latency model.

Build
-----
- Sources: ``hls/include/*.h`` and ``hls/top/*`` of this package, the generated
  ``zynqyolo_config.h`` (``header.render_header``) and the Xilinx ap_types headers fetched from
  PyPI (``zynqyolo fetch hls``; fetched on first use).
- Two flavours: ``native=True`` compiles with ``ZYNQYOLO_NATIVE_TYPES`` (plain integers of the
  same widths; fast enough for whole 416x416 frames), ``native=False`` with Xilinx's ``ap_int``
  emulation (what synthesis sees; slow, for reduced sizes). Both are bit-exact to
  ``model.fixed``; the tests hold them to it.
- Two schedules: sequential (default) runs the five dataflow processes of ``zy::accel`` one after
  the other over unbounded FIFOs; ``threaded=True`` (``ZYNQYOLO_THREADED_CSIM``,
  ``hls/sim/zy_threaded.h``) runs each on its own thread over FIFOs bounded at the header's depths
  (``header.FIFO_DEPTHS``), as the hardware runs them: a depth too shallow deadlocks the call, and
  ``call`` raises a ZynqyoloError naming the streams (``deadlock: stream 'params' (depth 2) full,
  writer conv_stage blocked; ...``). ``depths={"params": 1}`` overrides depths in a threaded build
  (``-DZY_DEPTH_PARAMS=1``), to find out what a depth does; synthesis always takes the header's.
- ``g++ -std=c++14 -O2 -shared -fPIC``; the library is cached under
  ``$ZYNQYOLO_HOME/csim/<key>/`` where the key hashes the sources, the header, the flags and the
  compiler version. A build happens in a temporary folder renamed into place, so concurrent
  builders and interrupted builds never leave a broken cache entry.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zynqyolo.dse.hwconfig import HwConfig
from zynqyolo.errors import ZynqyoloError

from zynqyolo.dse.registers import CallWords, call_words, check_registers

from . import HLS_DIR
from .header import FIFO_DEPTHS, HEADER_NAME, depth_macro, render_header

INCLUDE_DIR = HLS_DIR / "include"
TOP_DIR = HLS_DIR / "top"
SIM_DIR = HLS_DIR / "sim"  # simulation-only stand-ins for vendor headers
TOP_SOURCES = ("yolo_accel.cpp", "csim_bridge.cpp")
LIBRARY_NAME = "libzynqyolo_csim.so"

# Hidden visibility: a library exports only its C ABI (csim_bridge.cpp's ZY_EXPORT). Otherwise the
# static locals of inline functions (the loop counters, the threaded flavour's state) are
# STB_GNU_UNIQUE symbols, which the dynamic loader merges across every library loaded in the process
# despite RTLD_LOCAL: two designs, or the two schedules of one, would share (and, with different
# layouts, corrupt) one object.
CXX_FLAGS = ("-std=c++14", "-O2", "-shared", "-fPIC", "-pthread", "-fvisibility=hidden",
             "-fvisibility-inlines-hidden", "-Wall", "-Wno-unknown-pragmas", "-Wno-unused-label")
# The ap_int flavour silences GCC's uninitialised-use analysis, which misfires inside Xilinx's
# ap_private; the native flavour compiles the same kernel code with every -Wall check.
FLAVOUR_FLAGS = {True: ("-DZYNQYOLO_NATIVE_TYPES", "-DZYNQYOLO_COUNTERS"),
                 False: ("-DZYNQYOLO_COUNTERS", "-Wno-uninitialized", "-Wno-maybe-uninitialized")}
THREADED_FLAGS = ("-DZYNQYOLO_THREADED_CSIM",)
STALE_BUILD_S = 24 * 3600  # temporary build folders older than this are debris of killed builds

STATUS_FIELDS = ("written", "dropped", "in_left", "wts_left", "empty_reads", "leftover")


def compiler() -> str:
    """Path of the C++ compiler (``$CXX`` or g++), or a ZynqyoloError saying how to get one."""
    name = os.environ.get("CXX", "g++")
    path = shutil.which(name)
    if path is None:
        raise ZynqyoloError(f"C++ compiler '{name}' not found on PATH: the HLS C simulation needs g++ "
                            "(Debian/Ubuntu: apt-get install g++; or set CXX to a g++-compatible compiler)")
    return path


def ap_types_dir() -> Path:
    """The fetched ap_types header folder (fetched from PyPI on first use)."""
    from zynqyolo.fetch import GROUPS, fetch

    paths = fetch(("hls",))
    first = paths[GROUPS["hls"][0].name]
    return first.parent


def system_includes(ap_dir: Path) -> list[str]:
    """g++ flags for the vendor-side headers: the ap_types folder, and hls/sim's stand-ins
    (ap_axi_sdata.h) only where the ap_types folder lacks the vendor's own."""
    flags = ["-isystem", str(ap_dir)]
    for stand_in in sorted(SIM_DIR.glob("*.h")):
        if not (ap_dir / stand_in.name).exists():
            flags += ["-isystem", str(SIM_DIR)]
            break
    return flags


def fifo_depths(threaded: bool, depths: dict[str, int] | None = None) -> dict[str, int]:
    """The internal FIFO depths of a build: the header's, with ``depths`` overriding some (threaded
    builds only: the sequential schedule never fills a FIFO)."""
    depths = dict(depths or {})
    if depths and not threaded:
        raise ValueError(f"depths: {depths} given for a sequential build; FIFO depths only matter with threaded=True")
    for name, value in depths.items():
        if name not in FIFO_DEPTHS:
            raise ValueError(f"depths: unknown FIFO '{name}'; the internal FIFOs are {sorted(FIFO_DEPTHS)}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"depths['{name}']: a whole number of items >= 1 expected, got {value!r}")
    return {**FIFO_DEPTHS, **depths}


def build_flags(native: bool, threaded: bool = False, depths: dict[str, int] | None = None) -> tuple[str, ...]:
    """The flavour's compiler flags: arithmetic (native or ap_int), schedule, depth overrides."""
    overrides = {n: d for n, d in fifo_depths(threaded, depths).items() if d != FIFO_DEPTHS[n]}
    flags = FLAVOUR_FLAGS[native]
    if threaded:
        flags += THREADED_FLAGS + tuple(f"-D{depth_macro(n)}={d}" for n, d in sorted(overrides.items()))
    return flags


def _sources() -> list[Path]:
    files = (sorted(INCLUDE_DIR.glob("*.h")) + sorted(TOP_DIR.glob("*.h")) + [TOP_DIR / s for s in TOP_SOURCES]
             + sorted(SIM_DIR.glob("*.h")))
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ZynqyoloError(f"HLS sources missing from the installation: {missing}")
    return files


def _compiler_version(cxx: str) -> str:
    proc = subprocess.run([cxx, "--version"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ZynqyoloError(f"'{cxx} --version' failed (exit {proc.returncode}): {proc.stderr.strip()[-400:]}")
    return proc.stdout.splitlines()[0] if proc.stdout else ""


def build_key(config: HwConfig, native: bool, cxx: str, ap_dir: Path, flavour: tuple[str, ...] | None = None) -> str:
    """Cache key: sources, generated header, flags (``flavour``: ``build_flags``, the native
    sequential flavour's by default), compiler version, ap_types headers."""
    digest = hashlib.sha256()
    flavour = build_flags(native) if flavour is None else flavour
    digest.update(json.dumps({"flags": CXX_FLAGS, "flavour": list(flavour),
                              "compiler": _compiler_version(cxx)}, sort_keys=True).encode())
    digest.update(render_header(config).encode())
    for path in _sources():
        digest.update(f"\n{path.relative_to(HLS_DIR)}\n".encode())
        digest.update(path.read_bytes())
    for path in sorted(ap_dir.rglob("*.h")):
        digest.update(f"\n{path.relative_to(ap_dir)}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _cache_root() -> Path:
    from zynqyolo.fetch import home

    return home() / "csim"


def _clean_stale(root: Path) -> None:
    now = time.time()
    for d in root.glob(".build-*"):
        try:
            if now - d.stat().st_mtime > STALE_BUILD_S:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            pass


def build_library(config: HwConfig, native: bool = True, log=lambda msg: None, threaded: bool = False,
                  depths: dict[str, int] | None = None) -> Path:
    """Compile (or find in the cache) the csim library of ``config`` in the flavour of ``native``,
    ``threaded`` and ``depths`` (see the module docstring); return its path."""
    if config.bus_bits != 64:
        raise ZynqyoloError(f"the C simulation supports a 64-bit bus only; design {config.name} has "
                            f"bus_bits={config.bus_bits}")
    flavour = build_flags(native, threaded, depths)
    cxx = compiler()
    ap_dir = ap_types_dir()
    key = build_key(config, native, cxx, ap_dir, flavour)
    root = _cache_root()
    final = root / key[:24]
    lib = final / LIBRARY_NAME
    if lib.is_file():
        return lib
    root.mkdir(parents=True, exist_ok=True)
    _clean_stale(root)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".build-"))
    try:
        (tmp / HEADER_NAME).write_text(render_header(config))
        cmd = [cxx, *CXX_FLAGS, *flavour, f"-I{tmp}", f"-I{INCLUDE_DIR}", f"-I{TOP_DIR}",
               *system_includes(ap_dir), *[str(TOP_DIR / s) for s in TOP_SOURCES], "-o", str(tmp / LIBRARY_NAME)]
        log(f"compiling the {'native' if native else 'ap_int'} {'threaded' if threaded else 'sequential'} "
            f"C simulation of {config.name}")
        proc = subprocess.run(cmd, capture_output=True, text=True)
        (tmp / "build.log").write_text(" ".join(cmd) + "\n\n" + proc.stdout + proc.stderr)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
            raise ZynqyoloError(f"compiling the HLS C simulation of {config.name} failed (exit {proc.returncode}); "
                                f"the compiler's last lines:\n{tail}")
        (tmp / "build.json").write_text(json.dumps({"hwconfig": config.to_dict(), "hash": config.content_hash,
                                                    "native": native, "threaded": threaded,
                                                    "fifo_depths": fifo_depths(threaded, depths), "command": cmd},
                                                   indent=2))
        if final.exists() and not lib.is_file():  # a damaged entry (library deleted by hand)
            shutil.rmtree(final, ignore_errors=True)
        try:
            os.rename(tmp, final)
        except OSError:
            if not lib.is_file():  # not a concurrent builder that won the race: a real failure
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return lib


@dataclass(frozen=True)
class CallResult:
    """What one hardware call produced: the ``out`` stream and the loop iteration counts."""

    out_words: np.ndarray  # uint64, TLAST was on the last one and only there
    counts: dict[str, int]  # loop label -> iterations in this call


# One lock per loaded library: the kernels' loop counters are process-global inside it, and two
# accelerators of the same design share the library.
_LIBRARY_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _library_lock(path: Path) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LIBRARY_LOCKS.setdefault(str(path), threading.Lock())


_I64P = ctypes.POINTER(ctypes.c_int64)
_U64P = ctypes.POINTER(ctypes.c_uint64)
_U8P = ctypes.POINTER(ctypes.c_uint8)


class CsimAccelerator:
    """The kernels of one design point in C simulation; ``call`` is one hardware call."""

    def __init__(self, config: HwConfig, native: bool = True, threaded: bool = False,
                 depths: dict[str, int] | None = None):
        if not isinstance(config, HwConfig):
            raise ValueError(f"config: a HwConfig expected, got {type(config).__name__}")
        self.config = config
        self.native = bool(native)
        self.threaded = bool(threaded)
        self.fifo_depths = fifo_depths(self.threaded, depths)
        self.library_path = build_library(config, self.native, threaded=self.threaded, depths=depths)
        lib = ctypes.CDLL(str(self.library_path))
        for name in ("zy_hw_hash", "zy_register_names", "zy_counter_names", "zy_fifo_depths", "zy_last_error"):
            getattr(lib, name).restype = ctypes.c_char_p
            getattr(lib, name).argtypes = []
        lib.zy_native.restype = ctypes.c_int
        lib.zy_threaded.restype = ctypes.c_int
        lib.zy_call.restype = ctypes.c_int
        lib.zy_call.argtypes = [_I64P, ctypes.c_int, _U64P, ctypes.c_int64, _U64P, ctypes.c_int64, _U64P, _U8P,
                                ctypes.c_int64, _I64P, _U64P, ctypes.c_int]
        self._lib = lib
        self._lock = _library_lock(self.library_path)
        if lib.zy_hw_hash().decode() != config.content_hash:
            raise ZynqyoloError(f"{self.library_path} was built for another design point; remove "
                                f"{self.library_path.parent} and try again")
        self.register_names = [n for n in lib.zy_register_names().decode().split(",") if n]
        if self.register_names != list(config.register_fields()):
            raise ZynqyoloError(f"{self.library_path}: register fields {self.register_names} differ from "
                                f"HwConfig.register_fields() {list(config.register_fields())}")
        if bool(lib.zy_native()) != self.native:
            raise ZynqyoloError(f"{self.library_path}: built for the other arithmetic flavour")
        if bool(lib.zy_threaded()) != self.threaded:
            raise ZynqyoloError(f"{self.library_path}: built for the other schedule (threaded or sequential)")
        built = dict(item.split("=") for item in lib.zy_fifo_depths().decode().split(",") if item)
        if {n: int(d) for n, d in built.items()} != self.fifo_depths:
            raise ZynqyoloError(f"{self.library_path}: FIFO depths {built} differ from the requested "
                                f"{self.fifo_depths}")
        self.counter_names = [n for n in lib.zy_counter_names().decode().split(",") if n]

    @staticmethod
    def _words(name: str, words, expected: int) -> np.ndarray:
        arr = np.asarray(words)
        if arr.dtype != np.uint64 or arr.ndim != 1:
            raise ValueError(f"{name}: a 1-D uint64 array expected, got {arr.dtype} of shape {arr.shape}")
        if arr.size != expected:
            raise ValueError(f"{name}: {arr.size} words, but these registers make the kernel read {expected}")
        return np.ascontiguousarray(arr)

    def call_words(self, registers: dict[str, int]) -> CallWords:
        """The lengths of the streams a call with these registers reads and writes (``ValueError`` for
        registers the kernels refuse)."""
        return call_words(self.config, registers)

    def call(self, registers: dict[str, int], in_words, wts_words) -> CallResult:
        """Run one hardware call: ``registers`` by field name, the ``in`` and ``wts`` streams as
        uint64 words. Returns the ``out`` stream and the loop counts."""
        regs = check_registers(self.config, registers)
        lengths = call_words(self.config, regs)
        inw = self._words("in_words", in_words, lengths.in_words)
        wtw = self._words("wts_words", wts_words, lengths.wts_words)
        reg_arr = np.array([regs[n] for n in self.register_names], dtype=np.int64)
        capacity = lengths.out_words
        out = np.zeros(max(capacity, 1), dtype=np.uint64)
        last = np.zeros(max(capacity, 1), dtype=np.uint8)
        status = np.zeros(len(STATUS_FIELDS), dtype=np.int64)
        counts = np.zeros(len(self.counter_names), dtype=np.uint64)
        with self._lock:
            rc = self._lib.zy_call(reg_arr.ctypes.data_as(_I64P), reg_arr.size, inw.ctypes.data_as(_U64P), inw.size,
                                   wtw.ctypes.data_as(_U64P), wtw.size, out.ctypes.data_as(_U64P),
                                   last.ctypes.data_as(_U8P), capacity, status.ctypes.data_as(_I64P),
                                   counts.ctypes.data_as(_U64P), counts.size)
        if rc == -3:
            report = self._lib.zy_last_error().decode()
            raise ZynqyoloError(f"threaded csim call of {self.config.name} did not complete: {report} "
                                f"(FIFO depths {self.fifo_depths}; registers {regs})")
        if rc != 0:
            why = "could not start the call's thread" if rc == -2 else "library and bindings disagree"
            raise ZynqyoloError(f"csim bridge refused the call (code {rc}): {why}")
        st = dict(zip(STATUS_FIELDS, (int(v) for v in status)))
        problems = []
        if st["written"] + st["dropped"] != capacity:
            problems.append(f"the kernel wrote {st['written'] + st['dropped']} output words, expected {capacity}")
        if st["in_left"]:
            problems.append(f"{st['in_left']} input words were not read")
        if st["wts_left"]:
            problems.append(f"{st['wts_left']} parameter words were not read")
        if st["empty_reads"]:
            problems.append(f"{st['empty_reads']} reads from an empty stream (the hardware would stall)")
        if st["leftover"]:
            problems.append(f"{st['leftover']} items left in internal FIFOs")
        if problems:
            raise ZynqyoloError(f"csim call of {self.config.name} is inconsistent with its registers {regs}: "
                                + "; ".join(problems))
        out = out[:capacity]
        last = last[:capacity]
        if capacity and (last[-1] != 1 or np.count_nonzero(last) != 1):
            where = np.flatnonzero(last).tolist()[:5]
            raise ZynqyoloError(f"output stream TLAST at words {where}, expected only on the final word {capacity - 1}")
        return CallResult(out, dict(zip(self.counter_names, (int(c) for c in counts))))
