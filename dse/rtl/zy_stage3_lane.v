// zy_stage3_lane.v: a synthesis model of one lane of loop STAGE3 in zy_stage3.h (max-pool
// horizontal and vertical max, the YOLO sigmoid index and output, the mode select), for resource
// calibration of dse/blocks.py (Stage3). The row buffers and the sigmoid ROM are outside (the
// model charges memories by its rule); here are their read data and the index sent to the ROM.
//   hmax = odd_x ? max(hold, cur) : cur;  pool = odd_y ? max(rowbuf, hmax) : hmax
//   idx  = shift > 0 ? (|x| >> shift) + bit (shift - 1) of |x| : |x| << -shift, clamped to ENTRIES-1
//   sig  = x < 0 ? 2^OUT_FRAC - T[idx] : T[idx]
module zy_stage3_lane #(
    parameter integer BITS = 16,
    parameter integer IDX_BITS = 12,
    parameter integer ENTRIES = 2048,
    parameter integer OUT_FRAC = 14
) (
    input  wire                  clk,
    input  wire [1:0]            mode,      // 0 bypass, 1 max-pool, 2 upsample, 3 yolo
    input  wire                  odd_x,
    input  wire                  odd_y,
    input  wire                  raw,       // YOLO tw/th lanes pass the code
    input  wire signed [5:0]     yshift,
    input  wire signed [BITS-1:0] cur,
    input  wire signed [BITS-1:0] rowbuf_rd,
    output reg  [IDX_BITS-1:0]   rom_addr,
    input  wire [BITS-1:0]       rom_data,
    output reg  signed [BITS-1:0] hmax_wr,
    output reg  signed [BITS-1:0] res
);
    reg signed [BITS-1:0] hold, x_1, pool_1;
    reg neg_1, sig_1;
    wire signed [BITS-1:0] hmax = (odd_x && hold > cur) ? hold : cur;
    wire signed [BITS-1:0] pool = (odd_y && rowbuf_rd > hmax) ? rowbuf_rd : hmax;
    wire [BITS:0] ax = cur[BITS-1] ? -{cur[BITS-1], cur} : {1'b0, cur};
    wire [5:0] sh = yshift;
    wire [5:0] nsh = -yshift;
    // |x| << 32 (yolo_shift = -32, the register's minimum) must reach the clamp: BITS + 33 bits
    wire [BITS+32:0] idx = (yshift > 0) ? ((ax >> sh) + ((ax >> (sh - 1)) & 1)) : (ax << nsh);
    always @(posedge clk) begin
        hold <= cur;
        hmax_wr <= hmax;
        rom_addr <= (idx > ENTRIES - 1) ? ENTRIES - 1 : idx[IDX_BITS-1:0];
        x_1 <= cur;
        pool_1 <= pool;
        neg_1 <= cur[BITS-1];
        sig_1 <= mode == 2'd3 && !raw;
        case (mode)
            2'd1: res <= pool_1;
            default: res <= sig_1 ? (neg_1 ? (1 << OUT_FRAC) - rom_data : rom_data) : x_1;
        endcase
    end
endmodule
