"""Device library: Zynq parts (PL resources) and the boards they sit on (DDR, PS-PL ports, CPU, PL clocks).

One table per kind, every figure with the document it comes from. Look-ups by part or by board
name raise a ``ValueError`` that names the unknown name and lists the known ones.

Conventions:
- ``bram18`` counts 18 Kb block-RAM halves: the data sheets count 36 Kb blocks, so it is 2x that.
- ``ddr_peak_bytes_per_s`` is the PS DDR interface peak: width (bytes) x data rate (transfers/s).
  It is a ceiling, not a sustained figure.
- ``hp_ports`` counts the non-coherent high-performance AXI slave ports from the PL into the PS
  memory system (Zynq-7000 S_AXI_HP0..3; UltraScale+ S_AXI_HP0..3_FPD); ``hpc_ports`` the
  I/O-coherent UltraScale+ S_AXI_HPC0/1_FPD. ACP, GP and LPD ports are not listed.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import asdict, dataclass
from functools import lru_cache

# Document names used in the tables below.
DS190 = "Xilinx DS190 Zynq-7000 SoC Data Sheet: Overview, Table 1 (PL resources)"
DS891 = "Xilinx DS891 Zynq UltraScale+ MPSoC Data Sheet: Overview, PL resources table"
DS987 = "Xilinx DS987 Kria K26 SOM Data Sheet"
UG585 = "Xilinx UG585 Zynq-7000 SoC TRM, ch. 5 (four 32/64-bit AXI_HP ports)"
UG1085 = "Xilinx UG1085 Zynq UltraScale+ MPSoC TRM, PS-PL AXI interfaces (HP0-3 and HPC0-1, 128-bit)"
UG585_CLOCKS = "Xilinx UG585 Zynq-7000 SoC TRM, Clocks: FPGA{0..3}_CLK_CTRL (two 6-bit divisors)"
UG1087_CLOCKS = "Xilinx UG1087 Zynq UltraScale+ Register Reference, PL{0..3}_REF_CTRL (two 6-bit divisors)"
BOARD_STORE = "Xilinx/XilinxBoardStore preset.xml"

# Each PL clock divisor is a 6-bit field holding 1..63 (0 is not a divisor).
PL_CLOCK_DIVISOR_MAX = 63
# Two clocks closer than this (relative) are the same clock: presets and tools print frequencies to
# 6 digits and disagree on the reference in the 5th (ZCU102: 33.330 gives 99.99 for "100"); clocks
# of 1 MHz and more come from divisor products up to 1,500, which are at least 6.7e-4 apart.
CLOCK_TOLERANCE = 2e-4


@dataclass(frozen=True)
class PlClockSource:
    """The PLL the PS divides into PL clock 0, and the rule it divides by.

    ``mhz`` = ``ref_clk_mhz`` x ``multiplier`` (Zynq-7000: PLL_FDIV; UltraScale+: FBDIV, halved by
    DIV2); a PL clock is ``mhz / (d0 x d1)`` for divisors ``d0, d1`` in 1..63."""

    pll: str  # the preset's name for the source: "IO PLL" (PS7), "IOPLL" (PS8)
    ref_clk_mhz: float  # PS_CLK (Zynq-7000) / PSS_REF_CLK (UltraScale+)
    multiplier: float
    source: str

    def __post_init__(self) -> None:
        if not (self.ref_clk_mhz > 0 and self.multiplier > 0):
            raise ValueError(f"PL clock source {self.pll}: reference and multiplier must be positive")

    @property
    def mhz(self) -> float:
        return round(self.ref_clk_mhz * self.multiplier, 6)

    def clocks_mhz(self) -> tuple[float, ...]:
        """Every PL clock this source makes, ascending (one entry per distinct divisor product)."""
        return _divided_clocks(self.mhz)

    def divisor(self, clock_mhz: float) -> int | None:
        """The divisor product that makes ``clock_mhz`` (within ``CLOCK_TOLERANCE``), else None."""
        product = round(self.mhz / clock_mhz)
        if product in _divisor_products() and math.isclose(self.mhz / product, clock_mhz, rel_tol=CLOCK_TOLERANCE):
            return product
        return None

    def to_dict(self) -> dict:
        return dict(asdict(self), mhz=self.mhz)


@lru_cache(maxsize=None)
def _divisor_products() -> frozenset[int]:
    return frozenset(a * b for a in range(1, PL_CLOCK_DIVISOR_MAX + 1) for b in range(1, PL_CLOCK_DIVISOR_MAX + 1))


@lru_cache(maxsize=None)
def _divided_clocks(pll_mhz: float) -> tuple[float, ...]:
    return tuple(sorted(pll_mhz / p for p in _divisor_products()))


_PS7_PRESET = "processing_system7 board preset"
_PS8_PRESET = "zynq_ultra_ps_e board preset"


@dataclass(frozen=True)
class Device:
    """Programmable-logic resources of one Zynq part (speed grade and package do not change them)."""

    part: str  # lower case, no package or speed grade: "xc7z020"
    family: str
    dsp: int
    bram18: int  # 18 Kb halves = 2 x the data sheet's 36 Kb blocks
    uram: int  # 288 Kb UltraRAM blocks (0 on Zynq-7000 and on EG parts without URAM)
    lut: int
    ff: int
    source: str

    def __post_init__(self) -> None:
        for name in ("dsp", "bram18", "lut", "ff"):
            value = getattr(self, name)
            if value <= 0:
                raise ValueError(f"device {self.part}: {name} must be positive, got {value}")
        if self.bram18 % 2:
            raise ValueError(f"device {self.part}: bram18 must be even (2 per 36 Kb block), got {self.bram18}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Board:
    """A board: which part it carries, its PS DDR interface, PS-PL ports and application CPU."""

    name: str
    part: str  # key into the device table
    ordering_code: str  # the full part on the board: package and speed grade
    ddr_type: str
    ddr_width_bits: int  # PS DDR data bus width
    ddr_data_rate_mts: float  # mega-transfers per second (2 x the DDR clock)
    hp_ports: int
    hp_port_bits: int  # widest configurable data width of one HP port
    hpc_ports: int
    cpu: str
    cpu_clock_mhz: float
    source: str
    pl_clock: PlClockSource  # what the PS divides into the PL clock

    @property
    def device(self) -> Device:
        return get_device(self.part)

    @property
    def ddr_peak_bytes_per_s(self) -> float:
        """Peak PS DDR bandwidth: bus width in bytes times transfers per second."""
        return self.ddr_width_bits / 8 * self.ddr_data_rate_mts * 1e6

    def hp_port_bytes_per_s(self, clock_mhz: float) -> float:
        """Peak of one HP port clocked at ``clock_mhz``: one full-width beat per cycle."""
        if clock_mhz <= 0:
            raise ValueError(f"clock_mhz must be positive, got {clock_mhz}")
        return self.hp_port_bits / 8 * clock_mhz * 1e6

    def achieved_clock_mhz(self, requested_mhz: float) -> float:
        """See ``achieved_clock_mhz``."""
        return achieved_clock_mhz(self, requested_mhz)

    def to_dict(self) -> dict:
        return dict(asdict(self), ddr_peak_bytes_per_s=self.ddr_peak_bytes_per_s,
                    pl_clock=self.pl_clock.to_dict())


DEVICES: tuple[Device, ...] = (
    # part        family                     DSP    BRAM18  URAM  LUT      FF
    Device("xc7z010", "Zynq-7000", 80, 2 * 60, 0, 17_600, 35_200, DS190),
    Device("xc7z020", "Zynq-7000", 220, 2 * 140, 0, 53_200, 106_400, DS190),
    Device("xc7z045", "Zynq-7000", 900, 2 * 545, 0, 218_600, 437_200, DS190),
    Device("xczu3eg", "Zynq UltraScale+ MPSoC", 360, 2 * 216, 0, 70_560, 141_120, DS891),
    # The KV260's K26 SOM carries the XCK26, a custom part with the XCZU5EV's PL (DS987 lists the
    # same 1,248 DSP, 144 BRAM36, 64 URAM, 117,120 LUT, 234,240 FF).
    Device("xczu5ev", "Zynq UltraScale+ MPSoC", 1_248, 2 * 144, 64, 117_120, 234_240, DS891),
    Device("xczu7ev", "Zynq UltraScale+ MPSoC", 1_728, 2 * 312, 96, 230_400, 460_800, DS891),
    Device("xczu9eg", "Zynq UltraScale+ MPSoC", 2_520, 2 * 912, 0, 274_080, 548_160, DS891),
)

_A9 = "dual ARM Cortex-A9"
_A53 = "quad ARM Cortex-A53"

BOARDS: tuple[Board, ...] = (
    # Zedboard: 2 x MT41K128M16 DDR3 = 32-bit bus at 533 MHz (1066 MT/s) -> 4.26 GB/s; PS at
    # 666.7 MHz (33.33 MHz PS_CLK); the reference design's board.
    Board("zedboard", "xc7z020", "xc7z020clg484-1", "DDR3", 32, 1066.0, 4, 64, 0, _A9, 666.7,
          "Avnet/Digilent ZedBoard Hardware User's Guide (DDR3, PS clock); " + UG585,
          # 33.33 MHz PS_CLK oscillator; the PS7 IP's ZedBoard preset (the Avnet board files apply it by
          # name) runs the IO PLL at FDIV 30 = 1000 MHz and FCLK0 from it (100 MHz = /10).
          pl_clock=PlClockSource("IO PLL", 100 / 3, 30, f"ZedBoard HW User's Guide (PS_CLK); {_PS7_PRESET} "
                                 f"ZedBoard (PCW_IOPLL_CTRL_FBDIV 30); {UG585_CLOCKS}")),
    # PYNQ-Z2: ONE x16 DDR3 part (MT41J256M16), so a 16-bit bus at 525 MHz (1050 MT/s) -> 2.1 GB/s,
    # half the Zedboard's. Checked against the PYNQ project's PYNQ-Z2 PS7 configuration
    # (PCW_UIPARAM_DDR_BUS_WIDTH 16 Bit, DDR 525 MHz, APU 650 MHz) and the TUL PYNQ-Z2 product page
    # ("512MB DDR3 with 16-bit bus @ 1050Mbps", "650MHz dual-core Cortex-A9").
    Board("pynq-z2", "xc7z020", "xc7z020clg400-1", "DDR3", 16, 1050.0, 4, 64, 0, _A9, 650.0,
          "TUL PYNQ-Z2 product page and PYNQ-Z2 PS7 preset (DDR3 16-bit @ 1050 MT/s, 650 MHz); " + UG585,
          # A 50 MHz PS_CLK (PYNQ's _ClocksZynq assumes 50 MHz too): FDIV 20 gives the same 1000 MHz.
          pl_clock=PlClockSource("IO PLL", 50.0, 20, f"{BOARD_STORE} TUL/pynq-z2 (PCW_CRYSTAL_PERIPHERAL_FREQMHZ 50, "
                                 f"PCW_IOPLL_CTRL_FBDIV 20, PCW_IO_IO_PLL_FREQMHZ 1000.000, "
                                 f"PCW_FCLK0_PERIPHERAL_CLKSRC IO PLL); {UG585_CLOCKS}")),
    # Zybo Z7-10: 32-bit DDR3L at 1066 MT/s, 667 MHz Cortex-A9.
    Board("zybo-z7-10", "xc7z010", "xc7z010clg400-1", "DDR3L", 32, 1066.0, 4, 64, 0, _A9, 666.7,
          "Digilent Zybo Z7 Reference Manual (1 GB DDR3L, 32-bit @ 1066 MT/s, 667 MHz); " + UG585,
          pl_clock=PlClockSource("IO PLL", 100 / 3, 30, f"{BOARD_STORE} Digilent/zybo-z7-10 "
                                 f"(PCW_CRYSTAL_PERIPHERAL_FREQMHZ 33.333333, PCW_IOPLL_CTRL_FBDIV 30, "
                                 f"PCW_IO_IO_PLL_FREQMHZ 1000.000); {UG585_CLOCKS}")),
    # ZC706: PS-side 1 GB DDR3 component memory, 32-bit (the Zynq-7000 PS DDR maximum) at 1066 MT/s.
    # CPU clock: 666.7 MHz is the ZC706 PS7 preset as we understand it (not re-checked against the
    # preset file here; public build flows raise it to 800 MHz explicitly, the -2 grade's rating in
    # DS191). The PL-side DDR3 SODIMM is not counted here.
    Board("zc706", "xc7z045", "xc7z045ffg900-2", "DDR3", 32, 1066.0, 4, 64, 0, _A9, 666.7,
          "Xilinx UG954 ZC706 Evaluation Board User Guide (PS DDR3 32-bit); " + UG585,
          # 33.33 MHz PS_CLK (UG954); IO PLL at 1000 MHz as in the other 33.33 MHz Zynq-7000 presets
          # (the ZC706 preset itself not re-checked here).
          pl_clock=PlClockSource("IO PLL", 100 / 3, 30, f"UG954 (PS_CLK 33.33 MHz); {_PS7_PRESET} (IO PLL "
                                 f"1000 MHz, as Zybo Z7 and ZedBoard); {UG585_CLOCKS}")),
    # Ultra96-V2: 2 GB LPDDR4, 512M x 32, LPDDR4_1066 speed bin -> 32-bit at 1066 MT/s (4.26 GB/s);
    # A53 at 1200 MHz (Avnet board preset: PSU__DDRC__BUS_WIDTH 32 Bit, ACPU 1199.9988 MHz).
    Board("ultra96v2", "xczu3eg", "xczu3eg-sbva484-1-i", "LPDDR4", 32, 1066.0, 4, 128, 2, _A53, 1200.0,
          "Avnet Ultra96-V2 Hardware User's Guide and Vivado board preset (LPDDR4 x32 @ 1066 MT/s); "
          + UG1085,
          # IOPLL FBDIV 45, DIV2 0 from a 33.333333 MHz PSS_REF_CLK = 1500 MHz; PL0 = /15 (99.9999).
          pl_clock=PlClockSource("IOPLL", 100 / 3, 45, f"{BOARD_STORE} Avnet/ultra96v2/1.2 "
                                 f"(PSU__PSS_REF_CLK__FREQMHZ 33.333333, PSU__CRL_APB__IOPLL_CTRL__FBDIV 45, DIV2 0, "
                                 f"PL0_REF_CTRL SRCSEL IOPLL DIVISOR0 15); {UG1087_CLOCKS}")),
    # KV260 (K26 SOM): 4 GB DDR4, 64-bit, 2400 MT/s (DS987; board preset DDR4_2400R, ACPU 1333.333).
    Board("kv260", "xczu5ev", "xck26-sfvc784-2LV-c", "DDR4", 64, 2400.0, 4, 128, 2, _A53, 1333.3,
          DS987 + " (4 GB 64-bit DDR4 @ 2400 Mb/s) and KV260 Vivado board preset; " + UG1085,
          # The preset gives PSS_REF_CLK 33.333 and PL0 from IOPLL but leaves the IOPLL at the PS8 IP's
          # default, FBDIV 90 with DIV2 (x45): 1499.985 MHz, PL0 at 100 MHz = /15 = 99.999.
          pl_clock=PlClockSource("IOPLL", 33.333, 45, f"{BOARD_STORE} Xilinx/kv260_som/1.4 preset_s4 "
                                 f"(PSU__PSS_REF_CLK__FREQMHZ 33.333, PL0_REF_CTRL SRCSEL IOPLL); {_PS8_PRESET} "
                                 f"default IOPLL FBDIV 90, DIV2 1; {UG1087_CLOCKS}")),
    # ZCU104: PS DDR4 2 GB, four x16 components = 64-bit, DDR4-2133; ACPU 1200 MHz (board preset).
    Board("zcu104", "xczu7ev", "xczu7ev-ffvc1156-2-e", "DDR4", 64, 2133.0, 4, 128, 2, _A53, 1200.0,
          "Xilinx UG1267 ZCU104 Evaluation Board User Guide and Vivado board preset "
          "(PS DDR4 64-bit, DDR4_2133P); " + UG1085,
          pl_clock=PlClockSource("IOPLL", 100 / 3, 45, f"{BOARD_STORE} Xilinx/zcu104/1.1 "
                                 f"(PSU__PSS_REF_CLK__FREQMHZ 33.333333, PL0_REF_CTRL SRCSEL IOPLL); {_PS8_PRESET} "
                                 f"default IOPLL FBDIV 90, DIV2 1; {UG1087_CLOCKS}")),
    # ZCU102: PS DDR4 SODIMM 64-bit, DDR4-2133; ACPU 1200 MHz (board preset).
    Board("zcu102", "xczu9eg", "xczu9eg-ffvb1156-2-e", "DDR4", 64, 2133.0, 4, 128, 2, _A53, 1200.0,
          "Xilinx UG1182 ZCU102 Evaluation Board User Guide and Vivado board preset "
          "(PS DDR4 64-bit, DDR4_2133P); " + UG1085,
          pl_clock=PlClockSource("IOPLL", 33.330, 45, f"{BOARD_STORE} Xilinx/zcu102/3.4 "
                                 f"(PSU__PSS_REF_CLK__FREQMHZ 33.330, PL0_REF_CTRL SRCSEL IOPLL); {_PS8_PRESET} "
                                 f"default IOPLL FBDIV 90, DIV2 1; {UG1087_CLOCKS}")),
)

_DEVICE_BY_PART = {d.part: d for d in DEVICES}
# Custom parts with the PL of a catalogue part (DS987: the K26 SOM's XCK26 is an XCZU5EV).
_PART_ALIASES = {"xck26": "xczu5ev"}
_BOARD_BY_NAME = {b.name: b for b in BOARDS}


def _unknown(kind: str, name: str) -> ValueError:
    return ValueError(
        f"unknown {kind} {name!r}; known parts: {', '.join(sorted(_DEVICE_BY_PART))}; "
        f"known boards: {', '.join(sorted(_BOARD_BY_NAME))}"
    )


def get_board(name: str) -> Board:
    """The board called ``name`` (case-insensitive)."""
    board = _BOARD_BY_NAME.get(str(name).strip().lower())
    if board is None:
        raise _unknown("board", name)
    return board


def get_device(name: str) -> Device:
    """The device for a part (``xc7z020``, also a full ordering code such as ``xc7z020clg484-1``)
    or for a board name (``zedboard``)."""
    key = str(name).strip().lower()
    if key in _DEVICE_BY_PART:
        return _DEVICE_BY_PART[key]
    if key in _BOARD_BY_NAME:
        return _DEVICE_BY_PART[_BOARD_BY_NAME[key].part]
    # A full ordering code: the longest known part it starts with, followed by the package.
    parts = {**{p: p for p in _DEVICE_BY_PART}, **_PART_ALIASES}
    for prefix in sorted(parts, key=len, reverse=True):
        if key.startswith(prefix) and not key[len(prefix):len(prefix) + 1].isdigit():
            return _DEVICE_BY_PART[parts[prefix]]
    raise _unknown("part or board", name)


def board_for_part(part: str) -> Board | None:
    """The board whose full ordering code is ``part`` (case-insensitive), if one in the table is."""
    key = str(part).strip().lower()
    for b in BOARDS:
        if b.ordering_code.lower() == key:
            return b
    return None


def achieved_clock_mhz(board: Board | str, requested_mhz: float) -> float:
    """The PL clock the board's PS makes when ``requested_mhz`` is asked of it (6 decimals).

    The rule: the fastest clock the source PLL and two 6-bit divisors make that is not above the
    request (within ``CLOCK_TOLERANCE``, so an achieved clock given back is unchanged); a request
    below the slowest such clock gets the slowest. Not above, because the HLS kernels are
    synthesised and timed for the requested period and the latency model must not be optimistic.
    PYNQ's setter and Vivado pick the nearest clock instead; both agree with this rule on every
    clock it returns (it is exactly achievable), which is what the design point carries.
    A request of 150 MHz on a Zynq-7000 board: 1000 / 7 = 142.857143."""
    b = get_board(board) if isinstance(board, str) else board
    if isinstance(requested_mhz, bool) or not isinstance(requested_mhz, (int, float)) \
            or not math.isfinite(requested_mhz) or requested_mhz <= 0:
        raise ValueError(f"requested clock must be a positive number of MHz, got {requested_mhz!r}")
    clocks = b.pl_clock.clocks_mhz()
    i = bisect.bisect_right(clocks, requested_mhz * (1 + CLOCK_TOLERANCE))
    return round(clocks[max(i - 1, 0)], 6)


def known_parts() -> tuple[str, ...]:
    return tuple(sorted(_DEVICE_BY_PART))


def known_boards() -> tuple[str, ...]:
    return tuple(sorted(_BOARD_BY_NAME))


# Structural check at import: every board names a part in the device table.
for _board in BOARDS:
    if _board.part not in _DEVICE_BY_PART:
        raise ValueError(f"board {_board.name}: part {_board.part} is not in DEVICES")
