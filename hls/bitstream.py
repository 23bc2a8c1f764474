"""The Vivado flow: from a design point (and its plan) to a PYNQ overlay and its manifest.

Block design (Zynq-7000 boards with a PS7 board preset: Zedboard, PYNQ-Z2)::

    ps7  (board preset; FCLK0 = clock_mhz; M_AXI_GP0; S_AXI_HP0 and S_AXI_HP1 at the bus width)
      M_AXI_GP0 -> ctrl_ic -> accel/s_axi_control, dma0/S_AXI_LITE, dma1/S_AXI_LITE, reset_gpio/S_AXI
    dma0 (AXI DMA, MM2S + S2MM, scatter-gather): M_AXIS_MM2S -> accel/in,  accel/out -> S_AXIS_S2MM
      M_AXI_MM2S, M_AXI_S2MM, M_AXI_SG (descriptors) -> hp0_ic -> ps7/S_AXI_HP0
    dma1 (AXI DMA, MM2S only, scatter-gather):   M_AXIS_MM2S -> accel/wts
      M_AXI_MM2S, M_AXI_SG (descriptors) -> hp1_ic -> ps7/S_AXI_HP1
    rst  (proc_sys_reset on FCLK_RESET0_N): the interconnects and reset_gpio
    reset_gpio (AXI GPIO, 1 output bit) -> accel_rst/aux_reset_in (active high)
    accel_rst (proc_sys_reset on FCLK_RESET0_N or the GPIO): accel/ap_rst_n, dma0 and dma1 axi_resetn
    every clock is FCLK_CLK0

Two reset domains: after a DMA fault in the middle of a call the IP waits on its streams for
ever, and only a reset of the IP brings it back; the host pulses ``reset_gpio`` (``host.reset``)
and ``accel_rst`` resets the accelerator and both DMAs together (both ends of every stream at
once). The interconnects and the GPIO stay on ``rst``, so no AXI transaction of the PS is cut; the
host soft-resets the DMAs first, which completes their outstanding memory transactions. The
manifest records the GPIO (``"reset"``) for the PYNQ board.

Every AXI master gets its address segment (the PS's DDR, through its HP port) from
``assign_bd_address``. The DMAs run in scatter-gather mode (``c_include_sg`` 1, no
status/control stream): the host builds every transfer of a frame as a descriptor chain once
(``host.sgdma``), so a call costs a few register accesses instead of one DMA start per transfer.

The DMA buffer length register (``c_sg_length_width``, PG021: 8..26 bits, default 14) is sized from
the plan: the largest single transfer must fit, ``max(14, bits needed)``; a plan that needs more than
26 bits is refused. The AXI interconnects convert the DMAs' AXI4 to the HP ports' AXI3. The host
polls the DMA and accelerator status registers (no interrupts are wired).

``write_manifest`` writes the manifest (``manifest.json``, last) from the build folder: the design
point and its hash, the model hash, the plan summary, the DMAs (``"mode": "sg"``, length register
width), the reset GPIO (``"reset"``), board, part, clock, tool versions and the sha256 of every
file. A folder is replaced only if the flow wrote everything in it (``check_build_dir``: a
hand-copied .bit, the user's notes or an edited script need --force). Its schema and the checks
the host makes before loading a bitstream (``load_manifest``, ``check_manifest``) are
``zynqyolo.hls.manifest``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from zynqyolo.atomic import write_bytes_atomic, write_text_atomic
from zynqyolo.dse.devices import get_board
from zynqyolo.dse.hwconfig import HwConfig
from zynqyolo.errors import ZynqyoloError
from zynqyolo.fetch import sha256_file

from . import tcl
from .manifest import DMA_MODE, MANIFEST, MANIFEST_FORMAT, MANIFEST_VERSION, RESET_GPIO_CELL, RESET_GPIO_MASK
from .tcl import CONTROL_BUNDLE, HLS_DIR, STREAMS, rtl_port, staged_dir, tcl_list, tcl_word
from .tools import run_hls, tool_version

MARKER = ".zynqyolo-build"  # marks a folder this flow made (and may replace)
SCRIPT = "build_bitstream.tcl"
HLS_SUBDIR = "hls"
VIVADO_SUBDIR = "vivado"
PROJECT_NAME = "zynqyolo"
BD_NAME = "system"
BUILD_HLS_STEPS = ("csim", "csynth", "cosim", "export")  # tools.run_hls gates on them before Vivado runs

# PG021 (AXI DMA v7.1): "Width of Buffer Length Register", 8..26 bits, default 14.
DMA_LENGTH_WIDTH_MIN = 14
DMA_LENGTH_WIDTH_MAX = 26
# AXI3 (the Zynq-7000 HP ports) bursts are at most 16 beats (UG585); the DMAs issue bursts that size.
DMA_BURST_BEATS = 16


@dataclass(frozen=True)
class BoardFlow:
    """What the Vivado flow needs to know about a board beyond ``dse.devices``."""

    name: str
    board_part_patterns: tuple[str, ...]  # tried in order with get_board_parts -latest_file_version


# Board part names: Vivado's own board files for the Zedboard changed owner over the years
# (em.avnet.com:zed in 2019-2020, avnet.com:zedboard and digilentinc.com:zedboard in the board
# store); the PYNQ-Z2's board files come from TUL (tul.com.tw:pynq-z2).
BOARD_FLOWS = {
    "zedboard": BoardFlow("zedboard", ("digilentinc.com:zedboard:part0:*", "avnet.com:zedboard:part0:*",
                                       "em.avnet.com:zed:part0:*")),
    "pynq-z2": BoardFlow("pynq-z2", ("tul.com.tw:pynq-z2:part0:*",)),
}
BOARDS = tuple(BOARD_FLOWS)


# ------------------------------------------------------------------------------------------------
# Checks that follow from the design point, the board and the plan
# ------------------------------------------------------------------------------------------------


def check_board(config: HwConfig, board_name: str):
    """The board, if this design point can be built for it; else a ZynqyoloError saying why."""
    if board_name not in BOARD_FLOWS:
        raise ZynqyoloError(f"board {board_name!r}: the Vivado flow supports {', '.join(BOARDS)}")
    board = get_board(board_name)
    if config.part.lower() != board.ordering_code.lower():
        raise ZynqyoloError(f"the design point's part is {config.part} but {board.name} carries "
                            f"{board.ordering_code}; make a design point for this board (HwConfig part="
                            f"{board.ordering_code!r})")
    if config.bus_bits > board.hp_port_bits:
        raise ZynqyoloError(f"the design point streams {config.bus_bits}-bit words but {board.name}'s HP ports are "
                            f"{board.hp_port_bits}-bit; use bus_bits={board.hp_port_bits}")
    if board.pl_clock.divisor(config.clock_mhz) is None:  # FCLK0 = PLL / (d0 x d1): the PS makes no other clock
        raise ZynqyoloError(f"{board.name}'s PS cannot make the design point's {config.clock_mhz:g} MHz: its PL clock "
                            f"is the {board.pl_clock.pll} ({board.pl_clock.mhz:g} MHz) divided by two divisors of "
                            f"1..63, and the fastest not above is {board.achieved_clock_mhz(config.clock_mhz):g} MHz; "
                            "make the design point with 'zynqyolo dse', which picks it")
    return board


def fclk0(config: HwConfig, board_name: str) -> dict:
    """PL clock 0 of the build: what the block design asks of the PS and how the PS makes it."""
    src = get_board(board_name).pl_clock
    return {"mhz": config.clock_mhz, "source": src.pll, "source_mhz": src.mhz, "divisor": src.divisor(config.clock_mhz)}


def dma_length_width(largest_transfer: int | None) -> int:
    """Buffer-length register width for a plan whose largest DMA transfer is ``largest_transfer`` bytes
    (None: no plan, the widest register)."""
    if largest_transfer is None:
        return DMA_LENGTH_WIDTH_MAX
    needed = int(largest_transfer).bit_length()  # a w-bit register holds at most 2**w - 1 bytes
    if needed > DMA_LENGTH_WIDTH_MAX:
        raise ZynqyoloError(f"the plan's largest DMA transfer is {largest_transfer:,} bytes; AXI DMA moves at most "
                            f"{2 ** DMA_LENGTH_WIDTH_MAX - 1:,} bytes per transfer (26-bit length register). "
                            "Make smaller calls: a smaller tile_pixels (more bands) or a smaller p_oc")
    return max(DMA_LENGTH_WIDTH_MIN, needed)


def check_plan(plan, width: int) -> dict:
    """Check every planned transfer against the DMAs (length register, alignment) and summarise it."""
    word = plan.config.bus_bits // 8
    for call in plan.calls:
        for t in call.transfers:
            if t.nbytes >= 1 << width:
                raise ZynqyoloError(f"call {call.index} (layers {call.layers}): a {t.channel} transfer of {t.nbytes:,} "
                                    f"bytes does not fit the {width}-bit DMA length register")
            if t.offset % word or t.nbytes % word:
                raise ZynqyoloError(f"call {call.index} (layers {call.layers}): {t.channel} transfer at offset "
                                    f"{t.offset} of {t.nbytes} bytes is not in whole {word}-byte words; the DMAs "
                                    "are built without unaligned-transfer support (DRE)")
    return {"calls": len(plan.calls), "transfers": plan.n_transfers, "largest_transfer_bytes": plan.largest_transfer(),
            "network_hash": plan.network_hash, "dma_bytes_per_frame": plan.dma_bytes()}


# ------------------------------------------------------------------------------------------------
# The block design and the Vivado script
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockDesign:
    ip_cells: tuple[tuple[str, str], ...]  # (cell, VLNV pattern) of the Xilinx IP
    accel_cell: str
    ps_cell: str
    cell_config: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  # (cell, ((CONFIG.x, value), ...))
    intf_nets: tuple[tuple[str, str], ...]
    clock_source: str
    clock_pins: tuple[str, ...]
    reset_nets: tuple[tuple[str, tuple[str, ...]], ...]  # (driving pin, driven pins), in connection order
    reset_gpio_cell: str
    reset_domain: tuple[str, ...]  # cells the GPIO resets
    stream_nets: tuple[tuple[str, str], ...] = ()  # the AXI4-Stream links DMA <-> accelerator (master, slave)

    def config_of(self, cell: str) -> dict:
        return {k: v for c, props in self.cell_config if c == cell for k, v in props}

    def driven_by(self, source: str) -> tuple[str, ...]:
        """The pins the reset net from ``source`` drives."""
        return next((sinks for src, sinks in self.reset_nets if src == source), ())


def _interconnect(name: str, masters: Sequence[str], slaves: Sequence[str]):
    """Config, interface nets and clock/reset pins of one AXI interconnect joining masters to slaves."""
    config = (name, (("CONFIG.NUM_SI", str(len(masters))), ("CONFIG.NUM_MI", str(len(slaves)))))
    nets = [(m, f"{name}/S{i:02d}_AXI") for i, m in enumerate(masters)]
    nets += [(f"{name}/M{i:02d}_AXI", s) for i, s in enumerate(slaves)]
    ports = [f"{name}/S{i:02d}" for i in range(len(masters))] + [f"{name}/M{i:02d}" for i in range(len(slaves))]
    clocks = [f"{name}/ACLK"] + [f"{p}_ACLK" for p in ports]
    resets = [f"{p}_ARESETN" for p in ports]
    return config, nets, clocks, resets


def block_design(config: HwConfig, length_width: int) -> BlockDesign:
    """The block design of the module docstring, as data."""
    bus = str(config.bus_bits)
    hp = str(config.bus_bits)
    dma_common = (("CONFIG.c_include_sg", "1"), ("CONFIG.c_sg_include_stscntrl_strm", "0"),
                  ("CONFIG.c_sg_length_width", str(length_width)), ("CONFIG.c_include_mm2s", "1"),
                  ("CONFIG.c_m_axi_mm2s_data_width", bus), ("CONFIG.c_m_axis_mm2s_tdata_width", bus),
                  ("CONFIG.c_mm2s_burst_size", str(DMA_BURST_BEATS)))
    dma0 = dma_common + (("CONFIG.c_include_s2mm", "1"), ("CONFIG.c_m_axi_s2mm_data_width", bus),
                         ("CONFIG.c_s_axis_s2mm_tdata_width", bus), ("CONFIG.c_s2mm_burst_size", str(DMA_BURST_BEATS)))
    dma1 = dma_common + (("CONFIG.c_include_s2mm", "0"),)
    # PG144 (AXI GPIO v2.0): one output bit, 0 after reset (the accelerator domain runs). PG164
    # (proc_sys_reset v5.0): aux_reset_in active high, held at least C_AUX_RST_WIDTH (4) clocks.
    gpio = (("CONFIG.C_GPIO_WIDTH", "1"), ("CONFIG.C_ALL_OUTPUTS", "1"), ("CONFIG.C_DOUT_DEFAULT", "0x00000000"))
    accel_rst = (("CONFIG.C_AUX_RESET_HIGH", "1"),)
    # FCLK0: the design point's clock (one the IO PLL makes, check_board) from the IO PLL, as modelled.
    ps7 = (("CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ", f"{config.clock_mhz:.6f}"),
           ("CONFIG.PCW_FCLK0_PERIPHERAL_CLKSRC", "IO PLL"), ("CONFIG.PCW_FPGA_FCLK0_ENABLE", "1"),
           ("CONFIG.PCW_USE_M_AXI_GP0", "1"),
           ("CONFIG.PCW_USE_S_AXI_HP0", "1"), ("CONFIG.PCW_S_AXI_HP0_DATA_WIDTH", hp),
           ("CONFIG.PCW_USE_S_AXI_HP1", "1"), ("CONFIG.PCW_S_AXI_HP1_DATA_WIDTH", hp))
    accel = "accel"
    port = {c: f"{accel}/{rtl_port(c)}" for c in STREAMS}
    ctrl = _interconnect("ctrl_ic", ["ps7/M_AXI_GP0"],
                         [f"{accel}/s_axi_{CONTROL_BUNDLE}", "dma0/S_AXI_LITE", "dma1/S_AXI_LITE",
                          f"{RESET_GPIO_CELL}/S_AXI"])
    hp0 = _interconnect("hp0_ic", ["dma0/M_AXI_MM2S", "dma0/M_AXI_S2MM", "dma0/M_AXI_SG"], ["ps7/S_AXI_HP0"])
    hp1 = _interconnect("hp1_ic", ["dma1/M_AXI_MM2S", "dma1/M_AXI_SG"], ["ps7/S_AXI_HP1"])
    ics = (ctrl, hp0, hp1)
    streams = (("dma0/M_AXIS_MM2S", port["in"]), ("dma1/M_AXIS_MM2S", port["wts"]), (port["out"], "dma0/S_AXIS_S2MM"))
    gpio_cell = RESET_GPIO_CELL
    return BlockDesign(
        ip_cells=(("ps7", "xilinx.com:ip:processing_system7:*"), ("rst", "xilinx.com:ip:proc_sys_reset:*"),
                  ("accel_rst", "xilinx.com:ip:proc_sys_reset:*"), (gpio_cell, "xilinx.com:ip:axi_gpio:*"),
                  ("dma0", "xilinx.com:ip:axi_dma:*"), ("dma1", "xilinx.com:ip:axi_dma:*"),
                  ("ctrl_ic", "xilinx.com:ip:axi_interconnect:*"), ("hp0_ic", "xilinx.com:ip:axi_interconnect:*"),
                  ("hp1_ic", "xilinx.com:ip:axi_interconnect:*")),
        accel_cell=accel,
        ps_cell="ps7",
        cell_config=(("ps7", ps7), ("dma0", dma0), ("dma1", dma1), (gpio_cell, gpio), ("accel_rst", accel_rst))
        + tuple(ic[0] for ic in ics),
        intf_nets=tuple(n for ic in ics for n in ic[1]) + streams,
        clock_source="ps7/FCLK_CLK0",
        clock_pins=("ps7/M_AXI_GP0_ACLK", "ps7/S_AXI_HP0_ACLK", "ps7/S_AXI_HP1_ACLK", "rst/slowest_sync_clk",
                    "accel_rst/slowest_sync_clk", f"{gpio_cell}/s_axi_aclk",
                    f"{accel}/ap_clk", "dma0/s_axi_lite_aclk", "dma0/m_axi_mm2s_aclk", "dma0/m_axi_s2mm_aclk",
                    "dma0/m_axi_sg_aclk", "dma1/s_axi_lite_aclk", "dma1/m_axi_mm2s_aclk", "dma1/m_axi_sg_aclk")
        + tuple(p for ic in ics for p in ic[2]),
        reset_nets=(
            ("ps7/FCLK_RESET0_N", ("rst/ext_reset_in", "accel_rst/ext_reset_in")),
            ("rst/interconnect_aresetn", tuple(f"{ic[0][0]}/ARESETN" for ic in ics)),
            ("rst/peripheral_aresetn", tuple(p for ic in ics for p in ic[3]) + (f"{gpio_cell}/s_axi_aresetn",)),
            (f"{gpio_cell}/gpio_io_o", ("accel_rst/aux_reset_in",)),
            ("accel_rst/peripheral_aresetn", (f"{accel}/ap_rst_n", "dma0/axi_resetn", "dma1/axi_resetn")),
        ),
        reset_gpio_cell=gpio_cell,
        reset_domain=(accel, "dma0", "dma1"),
        stream_nets=streams,
    )


def accel_pins() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(net pins, interface pins) of the HLS accelerator IP."""
    return ("ap_clk", "ap_rst_n", "interrupt"), (f"s_axi_{CONTROL_BUNDLE}", *(rtl_port(c) for c in STREAMS))


def render_build_tcl(config: HwConfig, board_name: str, length_width: int, ip_repo: str) -> str:
    """The complete build_bitstream.tcl: settings and topology, then the body (hls/tcl/build_bitstream.tcl)."""
    flow_board = BOARD_FLOWS[board_name]
    bd = block_design(config, length_width)
    body = (HLS_DIR / "tcl" / SCRIPT).read_text()
    settings = [
        ("zy_design_name", tcl_word(config.name)),
        ("zy_design_hash", tcl_word(config.content_hash)),
        ("zy_board", tcl_word(board_name)),
        ("zy_part", tcl_word(config.part)),
        ("zy_board_part_patterns", tcl_list(flow_board.board_part_patterns)),
        ("zy_clock_mhz", tcl_word(f"{config.clock_mhz:.6f}")),
        ("zy_dma_length_width", tcl_word(length_width)),
        ("zy_ip_repo", tcl_word(ip_repo)),
        ("zy_ip_vlnv", tcl_word(tcl.ip_vlnv(config))),
        ("zy_proj_name", tcl_word(PROJECT_NAME)),
        ("zy_bd", tcl_word(BD_NAME)),
        ("zy_ps_cell", tcl_word(bd.ps_cell)),
        ("zy_accel_cell", tcl_word(bd.accel_cell)),
        ("zy_clock_source", tcl_word(bd.clock_source)),
        ("zy_accel_intf_pins", tcl_list(accel_pins()[1])),
        ("zy_stream_bytes", tcl_word(config.bus_bits // 8)),
    ]
    width = max(len(k) for k, _ in settings) + 1

    def block(name: str, rows: Sequence[str]) -> str:
        return f"set {name} [list \\\n" + "".join(f"    {r} \\\n" for r in rows) + "]"

    lines = [
        f"# {SCRIPT}: GENERATED by zynqyolo.hls.bitstream for design {config.name} on {board_name}. Do not edit;",
        "# regenerate with 'zynqyolo build --dry-run'.",
        f"# design point: {json.dumps(config.to_dict(), sort_keys=True)}",
        "# run in this folder:  vivado -mode batch -source build_bitstream.tcl",
        "",
        *(f"set {k:<{width}}{v}" for k, v in settings),
        "",
        block("zy_ip_cells", [f"{tcl_word(c)} {tcl_word(p)}" for c, p in bd.ip_cells]),
        block("zy_cell_config", [f"{tcl_word(c)} {tcl_list(x for kv in props for x in kv)}"
                                 for c, props in bd.cell_config]),
        block("zy_intf_nets", [tcl_list(n) for n in bd.intf_nets]),
        block("zy_clock_pins", [tcl_word(p) for p in bd.clock_pins]),
        block("zy_reset_nets", [f"{tcl_word(src)} {tcl_list(sinks)}" for src, sinks in bd.reset_nets]),
        block("zy_stream_nets", [tcl_list(n) for n in bd.stream_nets]),
        "",
    ]
    return "\n".join(lines) + "\n" + body


# ------------------------------------------------------------------------------------------------
# Build folder, manifest
# ------------------------------------------------------------------------------------------------


def find_vivado() -> str | None:
    return "vivado" if shutil.which("vivado") else None


@dataclass(frozen=True)
class BuildDir:
    root: Path
    config: HwConfig
    board: str
    hls: tcl.HlsProject
    length_width: int
    model_hash: str | None
    plan_summary: dict | None

    @property
    def script(self) -> Path:
        return self.root / SCRIPT

    @property
    def export_dir(self) -> Path:
        return self.root / VIVADO_SUBDIR / "export"

    @property
    def log(self) -> Path:
        return self.root / VIVADO_SUBDIR / "vivado.log"

    def vivado_command(self) -> list[str]:
        return ["vivado", "-mode", "batch", "-notrace", "-source", SCRIPT,
                "-log", f"{VIVADO_SUBDIR}/vivado.log", "-journal", f"{VIVADO_SUBDIR}/vivado.jou"]

    def shell_commands(self) -> list[str]:
        import shlex

        return [self.hls.shell_command(BUILD_HLS_STEPS),
                f"cd {shlex.quote(str(self.root))} && mkdir -p {VIVADO_SUBDIR} && {shlex.join(self.vivado_command())}"]


def build_dir_for(out_root, board: str, config: HwConfig) -> Path:
    return Path(out_root) / board / config.name


def check_build_dir(config: HwConfig, board_name: str, out_root, replace_built: bool = False) -> Path:
    """The bitstream folder ``write_build`` would replace, if it may: not one that holds a built
    bitstream, nor one with files the flow did not write or that changed since (a hand-copied
    .bit/.hwh, the user's notes, an edited script), unless ``replace_built`` (--force). Called
    before any work, and again by ``write_build``."""
    from zynqyolo.outputs import dir_destination

    root = build_dir_for(out_root, board_name, config).resolve()
    dir_destination(root, "bitstream folder")  # a file in the way, or a folder we cannot write
    if replace_built:
        return root
    manifest_path = root / MANIFEST
    if manifest_path.is_file():
        try:
            built = json.loads(manifest_path.read_text()).get("built")
        except (OSError, ValueError, AttributeError):
            built = None
        if built:
            raise ZynqyoloError(f"{root} holds a built bitstream; remove it or pass --force to rebuild")
    foreign = foreign_files(root) if (root / MARKER).is_file() else []
    if foreign:  # the folder is replaced whole: never a file of the user's silently
        shown = ", ".join(foreign[:4]) + (f" and {len(foreign) - 4} more" if len(foreign) > 4 else "")
        raise ZynqyoloError(f"{root} holds files zynqyolo did not write, or changed since ({shown}); move them "
                            "elsewhere, or pass --force to replace the folder with them")
    return root


def write_build(config: HwConfig, board_name: str, out_root, *, model_path=None, hls_tool: str = "vitis_hls",
                src_root: Path | None = None, render_header=None, vectors=None, replace_built: bool = False,
                log: Callable[[str], None] | None = None) -> BuildDir:
    """Check the design point against the board and the plan, then write ``<out_root>/<board>/<name>/``
    (the Vivado script and the HLS project) through a temporary folder. No manifest yet."""
    check_board(config, board_name)
    model_hash, plan_summary, largest = None, None, None
    if model_path is not None:
        plan = load_plan(config, model_path)
        model_hash = plan.model_hash
        largest = plan.largest_transfer()
    width = dma_length_width(largest)
    if model_path is not None:
        plan_summary = check_plan(plan, width)
    root = check_build_dir(config, board_name, out_root, replace_built=replace_built)
    with staged_dir(root, MARKER, "bitstream folder") as tmp:
        hls = tcl.write_hls_project(config, tmp / HLS_SUBDIR, hls_tool, steps=BUILD_HLS_STEPS, src_root=src_root,
                                    render_header=render_header, vectors=vectors, log=log)
        ip_repo = hls.ip_repo.relative_to(tmp).as_posix()
        write_text_atomic(tmp / SCRIPT, render_build_tcl(config, board_name, width, ip_repo))
        write_text_atomic(tmp / MARKER, config.content_hash + "\n")
    hls = tcl.load_project(root / HLS_SUBDIR)
    return BuildDir(root, config, board_name, hls, width, model_hash, plan_summary)


def load_plan(config: HwConfig, model_path):
    """The plan of ``config`` for the quantised model in ``model_path``."""
    from zynqyolo.dse.plan import make_plan
    from zynqyolo.model.quantize import load_model

    model = load_model(model_path, bits=config.bits)
    try:
        return make_plan(model.network, model.hardware_formats(), config)
    except ValueError as exc:
        raise ZynqyoloError(f"this design point cannot run {model_path}: {exc}") from None


def foreign_files(root: Path) -> list[str]:
    """Files of a bitstream folder that this flow did not write, or that changed since: anything
    tracked (``_tracked_files``: generated files and the hand-off, not the tools' working trees)
    whose sha256 the manifest does not record. Without a manifest (a build that stopped before it),
    the HLS project's own file list and the Vivado script are what the flow wrote."""
    root = Path(root)
    try:
        recorded = json.loads((root / MANIFEST).read_text()).get("files")
    except (OSError, ValueError, AttributeError):
        recorded = None
    if not isinstance(recorded, dict):
        try:
            project = json.loads((root / HLS_SUBDIR / tcl.PROJECT_FILE).read_text()).get("files") or {}
        except (OSError, ValueError, AttributeError):
            project = {}
        recorded = {f"{HLS_SUBDIR}/{rel}": sha for rel, sha in project.items()}
        if (root / SCRIPT).is_file():
            recorded[SCRIPT] = sha256_file(root / SCRIPT)
        recorded[f"{HLS_SUBDIR}/{tcl.PROJECT_FILE}"] = None  # written with the project, not listed in it
    return sorted(rel for rel, sha in _tracked_files(root).items()
                  if rel not in recorded or (recorded[rel] is not None and recorded[rel] != sha))


def _tracked_files(root: Path) -> dict[str, str]:
    """sha256 of the generated files and the hand-off (not the tool's working trees or logs)."""
    skip_dirs = {f"{HLS_SUBDIR}/{tcl.PROJECT_NAME}", VIVADO_SUBDIR}
    files = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if not path.is_file() or rel in (MANIFEST, MARKER) or any(rel.startswith(d + "/") for d in skip_dirs):
            continue
        if path.name.endswith((".log", ".jou", ".part")) or rel == f"{HLS_SUBDIR}/report.json":
            continue
        if any(part.startswith(".") for part in rel.split("/")):  # tool scratch folders such as .Xil
            continue
        files[rel] = sha256_file(path)
    return files


def write_manifest(build: BuildDir, *, tools: dict | None = None, bitstream: dict | None = None,
                   vivado_result: dict | None = None, hls_report: dict | None = None) -> dict:
    """Write ``manifest.json`` (atomically, last) and return it."""
    bd = block_design(build.config, build.length_width)
    manifest = {
        "format": MANIFEST_FORMAT,
        "format_version": MANIFEST_VERSION,
        "design_name": build.config.name,
        "design_hash": build.config.content_hash,
        "design": build.config.to_dict(),
        "model_hash": build.model_hash,
        "plan": build.plan_summary,
        "dma": {"mode": DMA_MODE, "buffer_length_width": build.length_width,
                "max_transfer_bytes": (1 << build.length_width) - 1,
                "data_width_bits": build.config.bus_bits, "burst_beats": DMA_BURST_BEATS,
                "fmap": "dma0", "params": "dma1"},
        "ip": {"vlnv": tcl.ip_vlnv(build.config), "top": tcl.TOP, "cell": "accel",
               "streams": {c: rtl_port(c) for c in STREAMS}},
        "reset": {"gpio": bd.reset_gpio_cell, "mask": RESET_GPIO_MASK, "active": "high",
                  "resets": list(bd.reset_domain)},
        "board": build.board,
        "part": build.config.part,
        "board_part_candidates": list(BOARD_FLOWS[build.board].board_part_patterns),
        "clock_mhz": build.config.clock_mhz,
        "fclk0": fclk0(build.config, build.board),  # PYNQ's Overlay sets the PS's divisors from the .hwh
        "tools": tools or {"hls": None, "vivado": None},
        "built": bitstream is not None,
        "bitstream": bitstream,
        "vivado_result": vivado_result,
        "hls_report": hls_report,
        "files": _tracked_files(build.root),
    }
    write_text_atomic(build.root / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return manifest


# ------------------------------------------------------------------------------------------------
# Running Vivado
# ------------------------------------------------------------------------------------------------


def run_vivado(build: BuildDir, log: Callable[[str], None] = print) -> dict:
    """Run the Vivado script; return its result.json (Vivado version, FCLK0, WNS)."""
    if find_vivado() is None:
        raise ZynqyoloError("vivado is not on PATH (source the Xilinx settings64.sh first)")
    (build.root / VIVADO_SUBDIR).mkdir(exist_ok=True)
    log(f"[vivado] {build.shell_commands()[1]}")
    try:
        subprocess.run(build.vivado_command(), cwd=build.root, check=True, stdout=subprocess.DEVNULL)
    except subprocess.CalledProcessError as exc:
        raise ZynqyoloError(f"vivado failed (exit status {exc.returncode}); see {build.log}") from None
    except OSError as exc:
        raise ZynqyoloError(f"cannot run vivado: {exc.strerror or exc}") from None
    try:
        return json.loads((build.export_dir / "result.json").read_text())
    except (OSError, ValueError) as exc:
        raise ZynqyoloError(f"vivado finished without its result file in {build.export_dir}: {exc}") from None


def hand_off(build: BuildDir) -> dict:
    """Copy <name>.bit and <name>.hwh next to the manifest (atomically); return their names."""
    names = {}
    for kind in ("bit", "hwh"):
        src = build.export_dir / f"{build.config.name}.{kind}"
        if not src.is_file():
            raise ZynqyoloError(f"vivado did not produce {src}")
        write_bytes_atomic(build.root / src.name, src.read_bytes())
        names[kind] = src.name
    return names


def check_tool_pair(hls_version: str | None, vivado_version: str | None) -> None:
    """Vivado must be the release of the Vitis HLS that exported the IP (an unknown version passes)."""
    h, v = tcl.parse_tool_version(hls_version), tcl.parse_tool_version(vivado_version)
    if h and v and h != v:
        raise ZynqyoloError(f"Vitis HLS {hls_version} exported the IP but vivado is {vivado_version}: use the Vivado "
                            f"of the same release ({tcl.SUPPORTED_TOOLS})")


def run_build(build: BuildDir, log: Callable[[str], None] = print) -> dict:
    """HLS (csim, csynth, cosim, export, gated: ``tools.run_hls``), then Vivado, then the hand-off and
    the manifest."""
    report = run_hls(build.hls, BUILD_HLS_STEPS, log=log)
    check_tool_pair(report.get("tool_version") if report else None, tool_version("vivado"))
    result = run_vivado(build, log=log)
    bitstream = hand_off(build)
    tools = {"hls": f"{build.hls.tool} {report.get('tool_version')}" if report else None,
             "vivado": result.get("vivado")}
    fclk = result.get("fclk0_mhz")
    if isinstance(fclk, (int, float)) and abs(fclk - build.config.clock_mhz) > 0.01 * build.config.clock_mhz:
        log(f"[vivado] note: the PS gives FCLK0 = {fclk} MHz for the requested {build.config.clock_mhz} MHz")
    return write_manifest(build, tools=tools, bitstream=bitstream, vivado_result=result, hls_report=report)


__all__ = ["BOARDS", "BOARD_FLOWS", "BlockDesign", "BuildDir", "block_design", "check_board", "check_plan",
           "dma_length_width", "find_vivado", "load_plan", "render_build_tcl", "run_build", "write_build",
           "write_manifest"]
