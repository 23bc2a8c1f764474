// zy_wino4_output.v: a synthesis model of the output transform of the Winograd F(4x2,3x3) path
// (hls/include/zy_winograd.h, design note "F(4x2) tiles": Y = A^T M A4 / 16 in two halves), for
// resource calibration of dse/blocks.py ("wino4_output"). One lane per MAC-array row (p_oc = LANES of
// them), ACC-bit arithmetic (the kernel's wy_bits, dse.hwconfig.wino_y_bits(8, p_oc, 4): 29 at p_oc =
// 24); the psum stream's write (which pixels are inside the band and the image) is outside.
//
// Every register updates only on an iteration of the loop (``valid``). Per lane:
// - Down half (the iteration's own position e = 4 j + i, i the row; ``sum`` the row's MAC sum, the
//   kernel's sums[oc] cut to ACC bits): two column sums, r = 0, 1, each a ring zr[r][0..5] whose head
//   zr[r][0] is the current column j:
//     nz = (restart ? 0 : zr[r][0]) + A^T[r][i] * sum      (A^T rows (1, 1, 1, 0), (0, 1, -1, -1):
//                                                             +sum, -sum or hold)
//   with ``restart`` = (s == 0 && i == 0) (the tile's first sub-fold starts each column at 0). At a
//   column's last row (i == 3) the ring turns: zr[r][0..4] <= zr[r][1..5], zr[r][5] <= nz; otherwise
//   zr[r][0] <= nz and the others hold (registers with an enable; only the head has a 2:1 select). A
//   span (24 iterations) turns the ring once, so every sub-fold adds to the same columns. At the
//   tile's last iteration (``tile_done``, an i == 3 one) the turned ring is latched into ze[r][0..5].
// - Across half (the latched tile's output slot t = 0..7 over three iterations ph = 0..2, while
//   ``slot``; the kernel's wino4_emit_step): pixel (r, c) = ((t >> 1) & 1, 2 (t >> 2) + (t & 1)) sums
//   the two terms A4^T[c][j] ze[r][j], j = 2 ph, 2 ph + 1, into ysum (restarted at ph == 0):
//     ysum <= (ph == 0 ? 0 : ysum) + a4_term(ze[r][2ph], c, 2ph) + a4_term(ze[r][2ph+1], c, 2ph+1)
//   A4^T rows (1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -2, 0), (0, 1, 1, 4, 4, 0), (0, 1, -1, 8, -8, 1): the
//   even column's term is ze (j 0: only c = 0; j 2: negated for odd c; j 4: shifted by c, negated for
//   odd c), the odd one's ze (j 1; j 3 shifted by c; j 5: only c = 3), a 6:1 select of the ring by
//   (r, ph), a shift by 0..3 or zero, and the even term's sign; a three-input add (two adders).
//   At ph == 2 the sum is Y = 48 x the direct partial sum and the pixel register takes Y >> 4 (WQ =
//   ACC - 4 bits, the kernel's wq_bits): 3 x the partial sum; stage 2 divides a call's sum by 3
//   (zy_accumulate.h div3_exact, on its requant_lanes lanes).
// Everything wraps at ACC (WQ) bits, two's complement: only the final Y must fit, as in the kernel.
//
// The decode (the coefficients from i, t and ph; the enables) is one module shared by the lanes,
// zy_wino4_output_coef, kept apart in synthesis (keep_hierarchy) like zy_wino_output_coef.
module zy_wino4_output #(
    parameter integer LANES = 4,
    parameter integer ACC = 29
) (
    input  wire                      clk,
    input  wire                      valid,      // an iteration: the registers update
    input  wire [1:0]                i,          // the down half: the position's row (e = 4 j + i)
    input  wire                      restart,    // s == 0 && i == 0: the column sum starts at 0
    input  wire                      tile_done,  // the tile's last iteration (i == 3): latch the ring
    input  wire                      slot,       // the across half runs (a latched tile, slot t < 8)
    input  wire [2:0]                t,          // the output slot (pixel) being summed
    input  wire [1:0]                ph,         // its phase, 0..2
    input  wire [LANES*ACC-1:0]      sum,        // the row sum of lane l at l*ACC
    output wire [LANES*(ACC-4)-1:0]  y           // the last pixel's Y / 16 (3 x it) of lane l at l*(ACC-4)
);
    localparam integer WQ = ACC - 4;

    wire [1:0] nz, neg;  // per column sum r: A^T[r][i] nonzero, negative
    wire start, rot, en_ring, en_latch;
    wire r_sel, first, gate_a, gate_b, neg_a, en_sum, en_pix;
    wire [1:0] p_sel, sh_a, sh_b;
    zy_wino4_output_coef coef (
        .valid(valid), .i(i), .restart(restart), .tile_done(tile_done), .slot(slot), .t(t), .ph(ph),
        .nz(nz), .neg(neg), .start(start), .rot(rot), .en_ring(en_ring), .en_latch(en_latch),
        .r_sel(r_sel), .p_sel(p_sel), .first(first), .sh_a(sh_a), .gate_a(gate_a), .neg_a(neg_a),
        .sh_b(sh_b), .gate_b(gate_b), .en_sum(en_sum), .en_pix(en_pix));

    genvar gl, gr;
    generate
        for (gl = 0; gl < LANES; gl = gl + 1) begin : lane
            wire [ACC-1:0] s = sum[gl*ACC +: ACC];
            wire [6*ACC-1:0] ze_all [0:1];  // the latched ring of r, ze[r][j] at j*ACC
            for (gr = 0; gr < 2; gr = gr + 1) begin : down
                reg [ACC-1:0] zr0, zr1, zr2, zr3, zr4, zr5;
                reg [6*ACC-1:0] ze;
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
                    if (en_latch) ze <= {nzv, zr5, zr4, zr3, zr2, zr1};
                end
                assign ze_all[gr] = ze;
            end
            // across: the slot's two terms from the latched ring of row r_sel, columns 2 p_sel, 2 p_sel + 1
            wire [6*ACC-1:0] zrow = r_sel ? ze_all[1] : ze_all[0];
            reg [ACC-1:0] za, zb;
            always @* begin
                case (p_sel)
                    2'd0:    begin za = zrow[0*ACC +: ACC]; zb = zrow[1*ACC +: ACC]; end
                    2'd1:    begin za = zrow[2*ACC +: ACC]; zb = zrow[3*ACC +: ACC]; end
                    default: begin za = zrow[4*ACC +: ACC]; zb = zrow[5*ACC +: ACC]; end
                endcase
            end
            wire [ACC-1:0] a = gate_a ? {ACC{1'b0}} : (za << sh_a);
            wire [ACC-1:0] b = gate_b ? {ACC{1'b0}} : (zb << sh_b);
            reg [ACC-1:0] ysum;
            wire [ACC-1:0] ybase = first ? {ACC{1'b0}} : ysum;
            wire [ACC-1:0] ynew = ybase + (a ^ {ACC{neg_a}}) + b + {{(ACC-1){1'b0}}, neg_a};
            // Y / 16: 3 x the partial sum (stage 2 divides by 3)
            wire [WQ-1:0] q = ynew[ACC-1:4];
            reg [WQ-1:0] pix;
            always @(posedge clk) begin
                if (en_sum) ysum <= ynew;
                if (en_pix) pix <= q;
            end
            assign y[gl*WQ +: WQ] = pix;
        end
    endgenerate
endmodule

// The decode, shared by the lanes (the loop's, one per engine): the down half's A^T[r][i] (a nonzero
// flag and a sign per column sum), the ring's select and enables; the across half's row and column pair
// (the 6:1 select of the latched ring), the two terms' shifts, zeroing and sign, the sum's restart and
// the enables. Its own module, kept apart in synthesis (keep_hierarchy), so that the mapper sees these
// as the lanes' inputs and does not copy the decode into every bit of every lane.
(* keep_hierarchy *)
module zy_wino4_output_coef (
    input  wire       valid,
    input  wire [1:0] i,
    input  wire       restart,
    input  wire       tile_done,
    input  wire       slot,
    input  wire [2:0] t,
    input  wire [1:0] ph,
    output wire [1:0] nz,
    output wire [1:0] neg,
    output wire       start,
    output wire       rot,
    output wire       en_ring,
    output wire       en_latch,
    output wire       r_sel,
    output wire [1:0] p_sel,
    output wire       first,
    output wire [1:0] sh_a,
    output wire       gate_a,
    output wire       neg_a,
    output wire [1:0] sh_b,
    output wire       gate_b,
    output wire       en_sum,
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
    assign en_latch = valid & rot & tile_done;
    // pixel (r, c) of slot t: r = (t >> 1) & 1, c = 2 (t >> 2) + (t & 1)
    wire [1:0] c = {t[2], t[0]};
    assign r_sel = t[1];
    assign p_sel = ph;
    assign first = (ph == 2'd0);
    // the even column's term: j 0 (c == 0 only), j 2 (sign by c odd), j 4 (<< c, sign by c odd)
    assign sh_a = (ph == 2'd2) ? c : 2'd0;
    assign gate_a = (ph == 2'd0) && (c != 2'd0);
    assign neg_a = (ph != 2'd0) && c[0];
    // the odd column's term: j 1, j 3 (<< c), j 5 (c == 3 only)
    assign sh_b = (ph == 2'd1) ? c : 2'd0;
    assign gate_b = (ph == 2'd2) && (c != 2'd3);
    assign en_sum = valid & slot;
    assign en_pix = valid & slot & (ph == 2'd2);
endmodule
