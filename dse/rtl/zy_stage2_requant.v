// zy_stage2_requant.v: a synthesis model of one requantiser of loop ACC in zy_accumulate.h
// (requantize + round_half_up on lane g * requant_lanes + j), for resource calibration of
// dse/blocks.py (AccumulateTile). There are requant_lanes of these. The bias and shift tables are
// outside this module (the model charges them by its memory rule: one bank per lane); here is their
// read data only, one entry per lane this requantiser serves.
//
// Per cycle of the last input fold, as in the C++ (acc_bits = ACC: 48 at 16 bits, 32 at 8; wide_t = 64 bits):
//   lane  = g * requant_lanes + j            (GROUPS:1 selects of the held sum, bias and shift)
//   acc_b = wrap_acc(sums[lane] + bias[o][lane])   (ACC-bit two's complement)
//   neg   = leaky && acc_b < 0
//   v     = neg ? acc_b * LEAKY_MUL : acc_b  (64-bit),  r = shift + (neg ? LEAKY_SHIFT : 0)
//   y     = r == 0 ? v : (v >>> min(r, 63)) + ((v >>> min(r - 1, 63)) & 1)
//   code  = saturate(y) to BITS signed
// Pipelined with a register after each step (what an II-1 loop at 100-150 MHz gets).
// LEAKY_IMPL = 0: the constant product is written as a multiply (synthesis maps it to DSP48E1s);
// LEAKY_IMPL = 1: written as shift-adds in the fabric, LEAKY_MUL = 0xCCCD = 3 * 4 * 0x11 * 0x101 + 1.
module zy_stage2_requant #(
    parameter integer BITS = 16,
    parameter integer ACC = 48,
    parameter integer SHIFT_BITS = 6,
    parameter integer GROUPS = 1,
    parameter integer LEAKY_IMPL = 0,
    parameter integer LEAKY_MUL = 32'hCCCD,
    parameter integer LEAKY_SHIFT = 19,
    parameter integer GW = GROUPS > 1 ? $clog2(GROUPS) : 1
) (
    input  wire                    clk,
    input  wire                    leaky,
    input  wire [GROUPS*ACC-1:0]   sums,   // the lanes this requantiser serves, one per group
    input  wire [GW-1:0]           g,
    input  wire [GROUPS*ACC-1:0]   bias,
    input  wire [GROUPS*SHIFT_BITS-1:0] shift,
    output reg  [BITS-1:0]         code
);
    // step 1: group select
    wire [ACC-1:0] lane [0:GROUPS-1];
    wire [ACC-1:0] lane_bias [0:GROUPS-1];
    wire [SHIFT_BITS-1:0] lane_shift [0:GROUPS-1];
    genvar i;
    generate
        for (i = 0; i < GROUPS; i = i + 1) begin : split
            assign lane[i] = sums[i * ACC +: ACC];
            assign lane_bias[i] = bias[i * ACC +: ACC];
            assign lane_shift[i] = shift[i * SHIFT_BITS +: SHIFT_BITS];
        end
    endgenerate
    reg signed [ACC-1:0] sum_r;
    reg [ACC-1:0] bias_1;
    reg [SHIFT_BITS-1:0] shift_1;
    always @(posedge clk) begin
        sum_r   <= GROUPS == 1 ? lane[0] : lane[g];
        bias_1  <= GROUPS == 1 ? lane_bias[0] : lane_bias[g];
        shift_1 <= GROUPS == 1 ? lane_shift[0] : lane_shift[g];
    end
    // step 2: bias add, wrapped to ACC bits
    reg signed [ACC-1:0] accb_r;
    reg [SHIFT_BITS-1:0] shift_2;
    always @(posedge clk) begin
        accb_r  <= sum_r + bias_1;
        shift_2 <= shift_1;
    end
    wire neg = leaky && accb_r[ACC-1];
    // step 3: leaky product and the leaky mux: three register levels in both flavours (v_rr is
    // three edges after accb_r), so the mux takes neg_rr and the rounding takes r_rrr, the sign and
    // shift of the same vector (II 1: a new vector every cycle)
    wire signed [63:0] accb_w = {{(64-ACC){accb_r[ACC-1]}}, accb_r};
    reg signed [63:0] v_r, v_rr;
    reg [6:0] r_r, r_rr, r_rrr;
    reg neg_r, neg_rr;
    reg signed [63:0] x_r;
    generate
        if (LEAKY_IMPL == 0) begin : dsp
            // ACC x 17-bit signed product (the HLS tool narrows (wide_t)acc_b * (wide_t)leaky_mul
            // to the operands' real widths the same way)
            wire signed [16:0] k = LEAKY_MUL;
            wire signed [ACC+16:0] prod = accb_r * k;
            wire signed [63:0] prod_w = prod;  // sign-extended (ACC < 47) or cut to 64 bits (ACC = 48)
            reg signed [63:0] prod_r, prod_rr;
            always @(posedge clk) begin
                prod_r  <= prod_w;
                prod_rr <= prod_r;
                x_r <= accb_w;
                v_r <= x_r;
                v_rr <= neg_rr ? prod_rr : v_r;
            end
        end else begin : fabric
            // t = 3x; a = t + (t << 4) = 3x * 0x11; b = a + (a << 8) = 3x * 0x1111; v = (b << 2) + x
            reg signed [63:0] t_r, a_r, x1, x2;
            wire signed [63:0] t = accb_w + (accb_w <<< 1);
            always @(posedge clk) begin
                x_r <= accb_w;
                x1 <= accb_w;
                a_r <= t + (t <<< 4);
                x2 <= x1;
                v_r <= ((a_r + (a_r <<< 8)) <<< 2) + x1;
                v_rr <= neg_rr ? v_r : x2;
            end
        end
    endgenerate
    always @(posedge clk) begin
        neg_r  <= neg;
        neg_rr <= neg_r;
        r_r    <= {1'b0, shift_2} + (neg ? LEAKY_SHIFT : 0);
        r_rr   <= r_r;
        r_rrr  <= r_rr;
    end
    // step 4: round half up by r
    wire [6:0] hi = r_rrr > 63 ? 7'd63 : r_rrr;
    wire [6:0] lo = (r_rrr - 1) > 63 ? 7'd63 : r_rrr - 1;
    reg signed [63:0] y_r;
    always @(posedge clk)
        y_r <= (r_rrr == 0) ? v_rr : (v_rr >>> hi) + ((v_rr >>> lo) & 64'sd1);
    // step 5: saturation
    localparam signed [63:0] MAXC = (64'sd1 <<< (BITS - 1)) - 1;
    localparam signed [63:0] MINC = -(64'sd1 <<< (BITS - 1));
    always @(posedge clk)
        code <= (y_r > MAXC) ? MAXC[BITS-1:0] : (y_r < MINC) ? MINC[BITS-1:0] : y_r[BITS-1:0];
endmodule
