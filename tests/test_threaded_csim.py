"""The threaded C simulation: every dataflow process on its own thread, FIFOs bounded at their depths.

- Whole frames, call by call: the threaded flavour's output stream and loop counts equal the
  sequential flavour's on every call, and the frame it computes equals the integer reference
  (model.intref), at the header's depths (hls.header.FIFO_DEPTHS), so no call deadlocks there.
- A FIFO too shallow deadlocks with a message naming the stream, its depth, full or empty, and
  the blocked processes. Today's kernels need no internal FIFO deeper than 1, so the too-shallow
  case is a test-only dataflow kernel built on the same hls/sim/zy_threaded.h: a producer writes N
  items to A, then one to B; the consumer reads B first. It deadlocks exactly when depth(A) < N.
- On the real design, a call whose parameter stream is short deadlocks with `wts` named.
- The depths are one table: the STREAM pragmas and the threaded FIFOs of zy_accel.h both use the
  header's macros, and depth overrides reach the library (and its cache key).

``threaded_frame(model, config, photo, depths=...)`` runs every call of a frame threaded at the
given depths (and sequentially, to compare): a too-shallow test of a real channel is one line,
    with pytest.raises(ZynqyoloError, match=re.escape("stream 'params' (depth 15) full")):
        threaded_frame(models[16], DESIGNS["oc16ic8-b16"], photos[PHOTO], depths={"params": 15})
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

import numpy as np
import pytest

from zynqyolo.dse import blocks
from zynqyolo.dse.hwconfig import HwConfig
from zynqyolo.errors import ZynqyoloError

pytestmark = pytest.mark.csim

SIZE = 96
PHOTO = "astronaut"
# 16 bit, one band per call; 8 bit with a tile small enough to force several bands per call.
DESIGNS = {"oc16ic8-b16": HwConfig(p_oc=16, p_ic=8),
           "oc8ic8-b8-t128": HwConfig(p_oc=8, p_ic=8, bits=8, tile_pixels=128, stage3_lanes=4),
           "w-oc16ic8-b16": HwConfig(p_oc=16, p_ic=8, conv_engine="winograd"),
           "w-oc8ic8-b8-t128": HwConfig(p_oc=8, p_ic=8, bits=8, tile_pixels=128, stage3_lanes=4,
                                        conv_engine="winograd")}


@pytest.fixture(scope="module")
def models(model_files, photos, require_csim):
    """bits -> a model of the network at SIZE x SIZE quantised at that precision."""
    from zynqyolo.model import load_cfg, load_weights
    from zynqyolo.model.quantize import calibrate

    net = load_cfg(model_files[0], width=SIZE, height=SIZE)
    weights = load_weights(model_files[1], net)
    return {bits: calibrate(net, weights, [photos["bus"]], bits=bits) for bits in (16, 8)}


def _input_codes(model, photo):
    from zynqyolo.model.intref import IntegerReference
    from zynqyolo.model.preprocess import letterbox, load_image

    net = model.network
    return IntegerReference(model).quantize_input(letterbox(load_image(photo), net.width, net.height))


@dataclass(frozen=True)
class CallPair:
    """One call of a frame: its registers and streams, and what each schedule made of them."""

    registers: dict
    in_words: np.ndarray
    wts_words: np.ndarray
    threaded: object  # hls.csim.CallResult
    sequential: object


class PairedAccelerator:
    """In CsimBackend's place of its accelerator: every call runs threaded and sequentially on the
    same streams; the frame continues with the threaded result, and both results are kept."""

    def __init__(self, threaded, sequential):
        self.threaded, self.sequential = threaded, sequential
        self.config = threaded.config
        self.pairs: list[CallPair] = []

    def call(self, registers, in_words, wts_words):
        got = self.threaded.call(registers, in_words, wts_words)
        self.pairs.append(CallPair(dict(registers), in_words, wts_words, got,
                                   self.sequential.call(registers, in_words, wts_words)))
        return got


def threaded_frame(model, config: HwConfig, photo, depths: dict[str, int] | None = None):
    """Run every call of one frame of ``model`` on the threaded C simulation at FIFO ``depths``
    (the header's, overridden by ``depths``), each call also sequentially on the same streams;
    return (backend, output codes), ``backend.accel.pairs`` holding both results of every call.
    A deadlock raises ZynqyoloError naming the streams."""
    from zynqyolo.hls.csim import CsimAccelerator
    from zynqyolo.host.runner import CsimBackend

    backend = CsimBackend(model, config)
    backend.accel = PairedAccelerator(CsimAccelerator(config, threaded=True, depths=depths), backend.accel)
    return backend, backend.forward_codes(_input_codes(model, photo))


@pytest.fixture(scope="module")
def frames(models, photos):
    """design -> (backend, output codes) of threaded_frame at the header's depths, run once."""
    done = {}

    def frame(design):
        if design not in done:
            config = DESIGNS[design]
            done[design] = threaded_frame(models[config.bits], config, photos[PHOTO])
        return done[design]

    return frame


@pytest.mark.parametrize("design", list(DESIGNS))
def test_threaded_equals_sequential_on_every_call(design, frames, models, photos):
    from zynqyolo.hls.header import FIFO_DEPTHS
    from zynqyolo.model.intref import IntegerReference

    model = models[DESIGNS[design].bits]
    backend, got = frames(design)  # no call deadlocked at the header's depths
    assert backend.accel.threaded.fifo_depths == FIFO_DEPTHS
    pairs = backend.accel.pairs
    assert len(pairs) == len(backend.plan.calls)
    for index, pair in enumerate(pairs):
        where = f"call {index} {pair.registers}"
        assert np.array_equal(pair.threaded.out_words, pair.sequential.out_words), f"{where}: outputs differ"
        assert pair.threaded.counts == pair.sequential.counts, f"{where}: loop counts differ"
    if design.endswith("oc8ic8-b8-t128"):
        assert any(p.registers["bands"] > 1 for p in pairs), "the small tile should force several bands"
    if DESIGNS[design].winograd_engine:
        assert any(p.registers["winograd"] for p in pairs), "some calls should take the Winograd path"
    want, _ = IntegerReference(model).run(_input_codes(model, photos[PHOTO]))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and np.array_equal(g, w)


@pytest.mark.parametrize("design", ["oc16ic8-b16", "w-oc16ic8-b16"])
def test_no_internal_fifo_needs_more_than_depth_one(design, models, photos):
    """Every internal FIFO at depth 1 still completes the frame bit-exact: stage 2 reads the whole
    bias preamble before any partial sum, so no pair of paths from stage 1 to stage 2 can block each
    other. The header's depths (2) are for throughput, not for freedom from deadlock."""
    from zynqyolo.hls.header import FIFO_DEPTHS
    from zynqyolo.model.intref import IntegerReference

    config = DESIGNS[design]
    model = models[16]
    _, got = threaded_frame(model, config, photos[PHOTO], depths=dict.fromkeys(FIFO_DEPTHS, 1))
    want, _ = IntegerReference(model).run(_input_codes(model, photos[PHOTO]))
    assert all(np.array_equal(g, w) for g, w in zip(got, want))


@pytest.mark.slow
def test_threaded_full_frame_416(model_files, photos, require_csim):
    from zynqyolo.model import load_cfg, load_weights
    from zynqyolo.model.intref import IntegerReference
    from zynqyolo.model.quantize import calibrate

    net = load_cfg(model_files[0])
    model = calibrate(net, load_weights(model_files[1], net), [photos["bus"], photos["zidane"]], bits=16)
    backend, got = threaded_frame(model, HwConfig(), photos["bus"])
    for p in backend.accel.pairs:
        assert np.array_equal(p.threaded.out_words, p.sequential.out_words), p.registers
        assert p.threaded.counts == p.sequential.counts, p.registers
    want, _ = IntegerReference(model).run(_input_codes(model, photos["bus"]))
    assert all(g.shape == w.shape and np.array_equal(g, w) for g, w in zip(got, want))


def test_depths_are_one_table_used_by_pragmas_and_fifos():
    """Every internal FIFO's STREAM pragma and threaded depth come from the header's macro, the table
    names exactly the channels zy_accel.h declares, and each is bound to shift registers (what
    dse.blocks.fifo charges; Vitis HLS's own choice would leave SRLs past 1024 bits)."""
    from zynqyolo.hls import HLS_DIR
    from zynqyolo.hls.header import FIFO_DEPTHS, depth_macro, render_header

    source = (HLS_DIR / "include" / "zy_accel.h").read_text()
    declared = re.findall(r"^\s*chan<[^;]*>\s+(\w+)\(\"(\w+)\"\);", source, re.MULTILINE)
    assert [v for v, _ in declared] == [n for _, n in declared] == list(FIFO_DEPTHS)
    header = render_header(HwConfig())
    for name, depth in FIFO_DEPTHS.items():
        assert depth >= 2, f"{name}: a depth of {depth} halves the hand-off throughput"
        macro = depth_macro(name)
        assert f"ZY_PRAGMA(HLS STREAM variable={name} depth={macro})" in source
        assert f"ZY_PRAGMA(HLS BIND_STORAGE variable={name} type=fifo impl=srl)" in source
        assert depth <= blocks.SRL_MAX_DEPTH  # one SRLC32E a bit, as fifo() charges
        assert f"{name}.set_depth({macro});" in source
        assert f"#define {macro} {depth}\n" in header


def test_depth_overrides_reach_the_library(require_csim):
    from zynqyolo.hls import csim
    from zynqyolo.hls.header import FIFO_DEPTHS

    config = HwConfig(p_oc=8, p_ic=8, max_width=16, max_height=16, max_in_channels=64, max_out_channels=64)
    default = csim.CsimAccelerator(config, threaded=True)
    shallow = csim.CsimAccelerator(config, threaded=True, depths={"params": 1, "s3_out": 5})
    assert shallow.fifo_depths == {**FIFO_DEPTHS, "params": 1, "s3_out": 5}  # checked against the library's
    assert shallow.library_path != default.library_path != csim.CsimAccelerator(config).library_path
    assert csim.CsimAccelerator(config, threaded=True, depths=dict(FIFO_DEPTHS)).library_path == default.library_path
    assert "-DZY_DEPTH_PARAMS=1" in csim.build_flags(True, True, {"params": 1})
    for bad, match in (({"parms": 1}, "unknown FIFO 'parms'"), ({"pix": 0}, r"depths\['pix'\]"),
                       ({"pix": 2.0}, r"depths\['pix'\]")):
        with pytest.raises(ValueError, match=match):
            csim.CsimAccelerator(config, threaded=True, depths=bad)
    with pytest.raises(ValueError, match="threaded=True"):
        csim.CsimAccelerator(config, depths={"pix": 4})


def test_short_parameter_stream_deadlocks_naming_wts(frames, monkeypatch):
    """The real design: a conv call of a frame given 3 parameter words too few. The sequential
    flavour counts reads from an empty stream; the threaded one waits, as the board would, until the
    watchdog finds every process blocked, and names the stream that starved them."""
    from zynqyolo.dse.registers import CallWords
    from zynqyolo.hls import csim

    backend, _ = frames("oc16ic8-b16")
    acc = backend.accel.threaded
    pair = next(p for p in backend.accel.pairs if p.registers["conv_enable"])
    real = csim.call_words(acc.config, csim.check_registers(acc.config, pair.registers))
    with monkeypatch.context() as patch, pytest.raises(ZynqyoloError) as info:
        patch.setattr(csim, "call_words", lambda c, r: CallWords(real.in_words, real.wts_words - 3, real.out_words))
        acc.call(pair.registers, pair.in_words, pair.wts_words[:-3])
    message = str(info.value)
    assert "did not complete: deadlock: stream 'wts' (a call input, no more words) empty, reader conv_stage " \
           "blocked; " in message
    again = acc.call(pair.registers, pair.in_words, pair.wts_words)  # the library recovers for the next call
    assert np.array_equal(again.out_words, pair.sequential.out_words)


# ----------------------------------------------------------------------------- a test-only dataflow kernel

TOY_KERNEL = r"""
// Test-only dataflow regions on hls/sim/zy_threaded.h (tests/test_threaded_csim.py).
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "zy_threaded.h"

int main(int argc, char** argv) {
    const char* mode = argv[1];
    const int n = atoi(argv[2]), depth = atoi(argv[3]);
    long long sum = 0;
    std::string report;
    if (strcmp(mode, "ab") == 0 || strcmp(mode, "starve") == 0) {
        // producer: n items to A, then one to B; consumer: B first, then A (n, or n + 1 to starve).
        const int reads = strcmp(mode, "starve") == 0 ? n + 1 : n;
        zy::sim::fifo<int> a("A", depth), b("B", 2);
        zy::sim::dataflow region;
        region.process("producer", [&] {
            for (int i = 0; i < n; i++) a.write(i);
            b.write(-1);
        });
        region.process("consumer", [&] {
            sum += b.read();
            for (int i = 0; i < reads; i++) sum += a.read();
        });
        report = region.join();
    } else {  // "chain": five processes pass n items along four FIFOs of the given depth
        zy::sim::fifo<long long> f0("f0", depth), f1("f1", depth), f2("f2", depth), f3("f3", depth);
        zy::sim::dataflow region;
        region.process("source", [&] { for (int i = 0; i < n; i++) f0.write(i); });
        region.process("stage1", [&] { for (int i = 0; i < n; i++) f1.write(f0.read() + 1); });
        region.process("stage2", [&] { for (int i = 0; i < n; i++) f2.write(f1.read() * 2); });
        region.process("stage3", [&] { for (int i = 0; i < n; i++) f3.write(f2.read() - 1); });
        region.process("sink", [&] { for (int i = 0; i < n; i++) sum += f3.read(); });
        report = region.join();
    }
    if (!report.empty()) {
        printf("%s\n", report.c_str());
        return 3;
    }
    printf("%lld\n", sum);
    return 0;
}
"""


@pytest.fixture(scope="module")
def toy(tmp_path_factory, toolchain):
    """The test-only kernel, compiled with the csim build's compiler and warnings."""
    from zynqyolo.hls.csim import SIM_DIR, compiler, system_includes

    folder = tmp_path_factory.mktemp("toy")
    source = folder / "toy.cpp"
    source.write_text(TOY_KERNEL)
    exe = folder / "toy"
    subprocess.run([compiler(), "-std=c++14", "-O2", "-pthread", "-Wall", "-Werror", f"-I{SIM_DIR}",
                    *system_includes(toolchain), str(source), "-o", str(exe)], check=True, capture_output=True)

    def run(mode: str, n: int, depth: int) -> tuple[int, str]:
        # the timeout only keeps a broken watchdog from hanging the test run
        proc = subprocess.run([str(exe), mode, str(n), str(depth)], check=False, capture_output=True,
                              text=True, timeout=120)
        return proc.returncode, proc.stdout.strip()

    return run


N = 8


@pytest.mark.parametrize("depth", [N, N + 1, 64])
def test_toy_passes_at_depth_n(toy, depth):
    assert toy("ab", N, depth) == (0, str(N * (N - 1) // 2 - 1))


@pytest.mark.parametrize("depth", [1, N - 1])
def test_toy_too_shallow_deadlocks_naming_the_stream(toy, depth):
    rc, message = toy("ab", N, depth)
    assert rc == 3
    assert message == (f"deadlock: stream 'A' (depth {depth}) full, writer producer blocked; "
                       "stream 'B' (depth 2) empty, reader consumer blocked")


def test_toy_starved_reader_deadlocks_naming_the_stream(toy):
    rc, message = toy("starve", N, N)
    assert (rc, message) == (3, f"deadlock: stream 'A' (depth {N}) empty, reader consumer blocked; finished: producer")


@pytest.mark.parametrize("depth", [1, 2])
def test_toy_chain_of_shallow_fifos_runs_through(toy, depth):
    """Many full/empty hand-offs between five threads: the watchdog must not mistake one for a deadlock."""
    n = 20000
    assert toy("chain", n, depth) == (0, str(sum(2 * (i + 1) - 1 for i in range(n))))
