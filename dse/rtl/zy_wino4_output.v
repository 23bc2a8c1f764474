// zy_wino4_output.v: a synthesis model of the output transform of the Winograd F(4x2,3x3) path
// (hls/include/zy_winograd.h, design note "F(4x2) tiles", wino4_across_step: Y = A^T M A4 / 16 in two
// halves), for resource calibration of dse/blocks.py ("wino4_output"). One lane per MAC-array row
// (p_oc = LANES of them), ACC-bit arithmetic (the kernel's wy_bits, dse.hwconfig.wino_y_bits(8, p_oc,
// 4): 29 at p_oc = 24); the psum stream's write (which pixels are inside the band and the image) is
// outside.
//
// Every register updates only on an iteration of the loop (``valid``), position e = 4 jp + i of a
// span (column jp, row i). Per lane:
// - Down half (``sum`` the row's MAC sum, the kernel's sums[oc] cut to ACC bits): two column sums,
//   r = 0, 1, each a ring zr[r][0..5] whose head zr[r][0] is the current column:
//     nz = (restart ? 0 : zr[r][0]) + A^T[r][i] * sum      (A^T rows (1, 1, 1, 0), (0, 1, -1, -1):
//                                                             +sum, -sum or hold)
//   with ``restart`` = (s == 0 && i == 0) (the tile's first sub-fold starts each column at 0). At a
//   column's last row (i == 3) the ring turns: zr[r][0..4] <= zr[r][1..5], zr[r][5] <= nz; otherwise
//   zr[r][0] <= nz and the others hold (registers with an enable; only the head has a 2:1 select). A
//   span (24 iterations) turns the ring once, so every sub-fold adds to the same columns, and the
//   tail zr[r][5] holds the column completed last during the next column's four rows.
// - Across half: per r a chain y[r][0..3] of the four pixels' sums that rotates every iteration
//   (y[r][0..2] <= y[r][1..3], y[r][3] <= the head's new value), so the head y[r][0] is pixel c = i:
//     head' = (ystart ? 0 : y[r][0]) + (gate ? 0 : +-(zr[r][5] << sh))
//   the term A4^T[i][j] z[r][j] of column j = jp - 1 (jp = 0: j = 5, of the previous span), enabled
//   (``last``: the tile's last span; jp = 0: ``after``, the span after a tile's last); A4^T rows
//   (1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -2, 0), (0, 1, 1, 4, 4, 0), (0, 1, -1, 8, -8, 1): a shift by
//   0..3 or zero and a sign; ``ystart`` at the pixel's first nonzero term (column 0 for c = 0, column 1
//   for the others). No latch and no select by index: one 4:1 shift select and one adder a bit.
// - The previous tile's pixels leave from the heads, read before the iteration's update, in the span
//   after its last (``after``): the pixel register takes head r_sel's Y >> 4 (WQ = ACC - 4 bits, the
//   kernel's wq_bits: 3 x the partial sum; stage 2 divides a call's sum by 3, zy_accumulate.h
//   div3_exact) at e = 0, 1 (r 0), 4, 5 (r 1), 6, 7 (r 0), 10, 11 (r 1).
// Everything wraps at ACC (WQ) bits, two's complement: only the final Y must fit, as in the kernel.
//
// The decode (the coefficients from i, jp, last and after; the enables) is one module shared by the
// lanes, zy_wino4_output_coef, kept apart in synthesis (keep_hierarchy) like zy_wino_output_coef.
module zy_wino4_output #(
    parameter integer LANES = 4,
    parameter integer ACC = 29
) (
    input  wire                      clk,
    input  wire                      valid,      // an iteration: the registers update
    input  wire [1:0]                i,          // the position's row (e = 4 jp + i)
    input  wire [2:0]                jp,         // its column, 0..5
    input  wire                      restart,    // s == 0 && i == 0: the column sum starts at 0
    input  wire                      last,       // the span is its tile's last (s == S - 1)
    input  wire                      after,      // the span follows a tile's last (s == 0, a tile made), or the drain
    input  wire [LANES*ACC-1:0]      sum,        // the row sum of lane l at l*ACC
    output wire [LANES*(ACC-4)-1:0]  y           // the last pixel out, Y / 16 (3 x it), of lane l at l*(ACC-4)
);
    localparam integer WQ = ACC - 4;

    wire [1:0] nz, neg;  // per column sum r: A^T[r][i] nonzero, negative
    wire start, rot, en_ring;
    wire gate, neg_a, ystart, r_sel, en_pix;
    wire [1:0] sh;
    zy_wino4_output_coef coef (
        .valid(valid), .i(i), .jp(jp), .restart(restart), .last(last), .after(after),
        .nz(nz), .neg(neg), .start(start), .rot(rot), .en_ring(en_ring),
        .sh(sh), .gate(gate), .neg_a(neg_a), .ystart(ystart), .r_sel(r_sel), .en_pix(en_pix));

    genvar gl, gr;
    generate
        for (gl = 0; gl < LANES; gl = gl + 1) begin : lane
            wire [ACC-1:0] s = sum[gl*ACC +: ACC];
            wire [ACC-1:0] head [0:1];
            for (gr = 0; gr < 2; gr = gr + 1) begin : half
                // down: the ring of column sums
                reg [ACC-1:0] zr0, zr1, zr2, zr3, zr4, zr5;
                wire [ACC-1:0] base = start ? {ACC{1'b0}} : zr0;
                wire [ACC-1:0] term = (s & {ACC{nz[gr]}}) ^ {ACC{neg[gr]}};
                wire [ACC-1:0] nzv = base + term + {{(ACC-1){1'b0}}, neg[gr]};  // base +sum, -sum or hold
                always @(posedge clk) begin
                    if (valid) zr0 <= rot ? zr1 : nzv;
                    if (en_ring) begin
                        zr1 <= zr2;
                        zr2 <= zr3;
                        zr3 <= zr4;
                        zr4 <= zr5;
                        zr5 <= nzv;
                    end
                end
                // across: the rotating chain of the four pixels' sums, the term from the ring's tail
                reg [ACC-1:0] y0, y1, y2, y3;
                wire [ACC-1:0] a = gate ? {ACC{1'b0}} : (zr5 << sh);
                wire [ACC-1:0] ybase = ystart ? {ACC{1'b0}} : y0;
                wire [ACC-1:0] ynew = ybase + (a ^ {ACC{neg_a}}) + {{(ACC-1){1'b0}}, neg_a};
                always @(posedge clk) begin
                    if (valid) begin
                        y0 <= y1;
                        y1 <= y2;
                        y2 <= y3;
                        y3 <= ynew;
                    end
                end
                assign head[gr] = y0;
            end
            // the pixel out: Y / 16 of head r_sel (3 x the partial sum: stage 2 divides by 3)
            wire [ACC-1:0] yh = r_sel ? head[1] : head[0];
            reg [WQ-1:0] pix;
            always @(posedge clk) begin
                if (en_pix) pix <= yh[ACC-1:4];
            end
            assign y[gl*WQ +: WQ] = pix;
        end
    endgenerate
endmodule

// The decode, shared by the lanes (the loop's, one per engine): the down half's A^T[r][i] (a nonzero
// flag and a sign per column sum), the ring's select and enable; the across half's term (A4^T[i][j]
// of column j = jp - 1, or 5 at jp = 0: shift, zeroing, sign), the chain head's restart, and which
// head leaves when. Its own module, kept apart in synthesis (keep_hierarchy), so that the mapper sees
// these as the lanes' inputs and does not copy the decode into every bit of every lane.
(* keep_hierarchy *)
module zy_wino4_output_coef (
    input  wire       valid,
    input  wire [1:0] i,
    input  wire [2:0] jp,
    input  wire       restart,
    input  wire       last,
    input  wire       after,
    output wire [1:0] nz,
    output wire [1:0] neg,
    output wire       start,
    output wire       rot,
    output wire       en_ring,
    output wire [1:0] sh,
    output wire       gate,
    output wire       neg_a,
    output wire       ystart,
    output wire       r_sel,
    output wire       en_pix
);
    // A^T row r as masks over the row index i (bit i): nonzero entries and negative entries
    localparam [3:0] AT0_NZ = 4'b0111;
    localparam [3:0] AT0_NEG = 4'b0000;
    localparam [3:0] AT1_NZ = 4'b1110;
    localparam [3:0] AT1_NEG = 4'b1100;
    assign nz = {AT1_NZ[i], AT0_NZ[i]};
    assign neg = {AT1_NEG[i], AT0_NEG[i]};
    assign start = restart;
    assign rot = (i == 2'd3);
    assign en_ring = valid & rot;
    // across: column j of the term, pixel c = i
    wire [2:0] j = (jp == 3'd0) ? 3'd5 : jp - 3'd1;
    wire act = (jp == 3'd0) ? after : last;
    assign sh = (j == 3'd3 || j == 3'd4) ? i : 2'd0;
    assign gate = !act || (j == 3'd0 && i != 2'd0) || (j == 3'd5 && i != 2'd3);
    assign neg_a = (j == 3'd2 || j == 3'd4) && i[0];
    assign ystart = act && jp != 3'd0 && (i == 2'd0 ? j == 3'd0 : j == 3'd1);
    // the previous tile's pixels: e = 0, 1 (r 0), 4, 5 (r 1), 6, 7 (r 0), 10, 11 (r 1)
    assign r_sel = (jp == 3'd1 && !i[1]) || (jp == 3'd2 && i[1]);
    assign en_pix = valid & after & ((jp == 3'd0 && !i[1]) || jp == 3'd1 || (jp == 3'd2 && i[1]));
endmodule
