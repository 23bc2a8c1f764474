// zy_wino_output.v: a synthesis model of the output transform of the Winograd F(2x2,3x3) path (issue
// 12, spec "Hardware of the winograd path": Y = A^T M A / 4), for resource calibration of
// dse/blocks.py. One lane per MAC-array row (p_oc = LANES of them); the emit select that sends one
// pixel per iteration to the psum stream is outside (the model charges it with the stream).
//
// Per lane, 4 output accumulators Y[q], q = 2*qy + qx (the tile's pixel (qy, qx)), ACC = 48 bits.
// When the MAC array's sum of position e = (i, j) = (e[3:2], e[1:0]) is complete (valid: the last
// sub-fold s = S-1 of the position), acc = M[i][j] is added to Y[q] with the coefficient
//   c(e, q) = A^T[qy][i] * A^T[qx][j],   A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]:
//   Y[q] <= (e == 0 ? 0 : Y[q]) + c(e, q) * acc      (+acc, -acc or nothing; e = 0 starts a tile)
// and at the tile's last position (e = 15) the four Y[q] / 4 are latched into the emit registers,
// held through the next tile. Y is a multiple of 4 (model.winograd.output_transform), so Y / 4 is the
// arithmetic shift by 2; the 48-bit two's-complement wrap of the accumulators is exact modulo 2^48,
// and the true Y fits 48 bits, so the latched value is the direct convolution's sum bit for bit.
//
// PAIRED = 1: the circuit of a "winograd-paired" design (zy_winograd.h, design note "Paired
// positions"), which runs both kinds of call. Each row's sum arrives in two halves, acc (the low
// lanes') and acc_hi (the high lanes'). Unpaired (pair = 0), the full sum acc + acc_hi (one more
// ACC-bit adder a lane) is added at position e as above. In a paired call the loop decodes step k
// into the low half's position e = pair_position(k) and the high half's e_hi = sigma(e) (shared by
// the lanes, like e); each pixel q adds the low half with c(e, q) where that is nonzero, else the
// high half with c(e_hi, q) (the two positions never both touch q): per pixel and lane a select of
// the high half, the low half and the full sum. The tile ends where the loop says (tile_end: a
// paired tile's 10 steps, or 16 on its tile row's last tile); PAIRED = 0 ignores e_hi, pair,
// tile_end and acc_hi and ends a tile at e = 15.
module zy_wino_output #(
    parameter integer LANES = 4,
    parameter integer ACC = 48,
    parameter integer PAIRED = 0
) (
    input  wire                      clk,
    input  wire                      valid,  // acc holds M[e] of every lane this cycle
    input  wire [3:0]                e,      // position (i, j) = (e[3:2], e[1:0]) (the low half's)
    input  wire [3:0]                e_hi,   // PAIRED: the high half's position
    input  wire                      pair,   // PAIRED: this call pairs positions
    input  wire                      tile_end,  // PAIRED: the tile's last step
    input  wire [LANES*ACC-1:0]      acc,    // lane l at l*ACC (PAIRED: the low lanes' half of the sum)
    input  wire [LANES*ACC-1:0]      acc_hi, // PAIRED: the high lanes' half (unused when PAIRED = 0)
    output wire [4*LANES*ACC-1:0]    y       // Y[q] / 4 of lane l at (q*LANES + l)*ACC
);
    wire [3:0] f_hi, f_lo, f_full, neg;  // per pixel q: the operand flags and the sign
    wire start, last;
    zy_wino_output_coef #(.PAIRED(PAIRED)) coef (
        .e(e), .e_hi(e_hi), .pair(pair), .tile_end(tile_end),
        .f_hi(f_hi), .f_lo(f_lo), .f_full(f_full), .neg(neg), .start(start), .last(last));

    genvar gq, gl;
    generate
        for (gq = 0; gq < 4; gq = gq + 1) begin : pix
            for (gl = 0; gl < LANES; gl = gl + 1) begin : lane
                reg [ACC-1:0] y_acc, y_emit;
                wire [ACC-1:0] base = start ? {ACC{1'b0}} : y_acc;
                wire [ACC-1:0] lo = acc[gl*ACC +: ACC];
                wire [ACC-1:0] operand;
                if (PAIRED != 0) begin : halves
                    wire [ACC-1:0] hi = acc_hi[gl*ACC +: ACC];
                    wire [ACC-1:0] full = lo + hi;
                    assign operand = (hi & {ACC{f_hi[gq]}}) | (lo & {ACC{f_lo[gq]}}) | (full & {ACC{f_full[gq]}});
                end else begin : whole
                    assign operand = lo & {ACC{f_full[gq]}};
                end
                // +operand, -operand (= ~operand + 1) or 0
                wire [ACC-1:0] term = operand ^ {ACC{neg[gq]}};
                wire [ACC-1:0] sum = base + term + {{(ACC-1){1'b0}}, neg[gq]};
                always @(posedge clk) begin
                    if (valid) begin
                        y_acc <= sum;
                        if (last) y_emit <= $signed(sum) >>> 2;
                    end
                end
                assign y[(gq*LANES + gl)*ACC +: ACC] = y_emit;
            end
        end
    endgenerate
endmodule

// The coefficient decode, shared by the lanes (the loop's, one per engine): per pixel q, which
// operand the accumulators add (none, the full sum, the low or the high half) and its sign, from
// the positions. Its own module, kept apart in synthesis (keep_hierarchy), so that the mapper sees
// the flags as the lanes' inputs and does not copy the decode into every bit of every lane.
(* keep_hierarchy *)
module zy_wino_output_coef #(
    parameter integer PAIRED = 0
) (
    input  wire [3:0] e,
    input  wire [3:0] e_hi,
    input  wire       pair,
    input  wire       tile_end,
    output wire [3:0] f_hi,
    output wire [3:0] f_lo,
    output wire [3:0] f_full,
    output wire [3:0] neg,
    output wire       start,
    output wire       last
);
    // A^T row r as masks over its column index k (bit k): nonzero entries and negative entries
    localparam [3:0] AT0_NZ = 4'b0111;
    localparam [3:0] AT0_NEG = 4'b0000;
    localparam [3:0] AT1_NZ = 4'b1110;
    localparam [3:0] AT1_NEG = 4'b1100;
    wire paired = (PAIRED != 0) && pair;
    wire [1:0] i = e[3:2];
    wire [1:0] j = e[1:0];
    wire [1:0] si = e_hi[3:2];
    wire [1:0] sj = e_hi[1:0];
    assign start = (e == 4'd0);
    assign last = (PAIRED != 0) ? tile_end : (e == 4'd15);
    genvar gq;
    generate
        for (gq = 0; gq < 4; gq = gq + 1) begin : pix
            // c(e, q) = A^T[qy][i] * A^T[qx][j]: a nonzero flag and a sign
            wire [3:0] row_nz = (gq / 2) ? AT1_NZ : AT0_NZ;
            wire [3:0] row_neg = (gq / 2) ? AT1_NEG : AT0_NEG;
            wire [3:0] col_nz = (gq % 2) ? AT1_NZ : AT0_NZ;
            wire [3:0] col_neg = (gq % 2) ? AT1_NEG : AT0_NEG;
            wire nz_lo = row_nz[i] & col_nz[j];
            wire nz_hi = row_nz[si] & col_nz[sj];
            // a paired step: the high half where the low half's position does not touch q
            wire use_hi = paired & ~nz_lo;
            assign f_hi[gq] = use_hi & nz_hi;
            assign f_lo[gq] = paired & nz_lo;
            assign f_full[gq] = ~paired & nz_lo;
            assign neg[gq] = use_hi ? (nz_hi & (row_neg[si] ^ col_neg[sj])) : (nz_lo & (row_neg[i] ^ col_neg[j]));
        end
    endgenerate
endmodule
