// zy_wino4_data.v: a synthesis model of the data transform of the Winograd F(4x2,3x3) path
// (hls/include/zy_winograd.h, design note "F(4x2) tiles": V = B^T d B4, one position per iteration),
// for resource calibration of dse/blocks.py ("wino4_data"). There is one of these per conv engine,
// serving p_ic lanes (LANES). The 4 x 6 window and its sub-fold select are outside (the model charges
// the window registers and the S:1 select); here are the selected window entries of the LANES lanes.
//
// Per iteration, position e = 4 j + i (column-major: i = e[1:0] the row 0..3, j = e[4:2] the column
// 0..5), per lane, as the kernel's loop body (bt_combine, then b4_combine):
//   row combination (by i, B^T = F(2,3) down, zy_winograd.h bt_combine): per window column c = 0..5
//     T[c] = a(i) -+ b(i) of that column's 4 rows, (a, b) = (x0, x2) -, (x1, x2) +, (x2, x1) -,
//     (x1, x3) -                                                     (6 adders, BITS+1)
//   column combination (by j, B4^T = F(4,3) across, zy_winograd.h b4_combine): V = x +- y with
//     j = 0:    x = T4 - T2,      y = (T0 - T2) << 2
//     j = 1, 2: x = T4 - 4 T2,    y = T3 - 4 T1
//     j = 3, 4: x = T4 - T2,      y = (T3 - T1) << 1
//     j = 5:    x = T5 - T3,      y = (T1 - T3) << 2
//   and V = x - y for j = 2, 4, x + y otherwise. Here x = xa - xb (xa: T4 or T5, a 2:1 select; xb: T2,
//   4 T2 or T3, 3:1) and y = ya - yb with the operands shifted before the subtraction (ya: 4 T0, T3,
//   2 T3 or 4 T1; yb: 4 T2, 4 T1, 2 T1 or 4 T3: 4:1 selects by the column class), the same values as
//   the kernel's; each adder one add/sub (the subtrahend inverted, the carry in set). V is registered.
// Widths: |T| <= 2^BITS (BITS+1); |x|, |y| <= 10 * 2^(BITS-1) (j = 1, 2: |T4 - 4 T2| <= 5 * 2^BITS,
// BITS+4 bits); |V| <= 20 * 2^(BITS-1) < 2^(BITS+4): V is BITS+5 bits = dse.hwconfig.wino_bits(BITS,
// 4)[1] (13 at 8 bits, the kernel's wv_bits). No overflow anywhere, so the kernel's x_t (wv_bits)
// arithmetic and this one agree bit for bit.
//
// The position decode (the column class of j, the signs) is one module shared by the lanes,
// zy_wino4_data_coef, kept apart in synthesis (keep_hierarchy) like zy_wino_output_coef, so the
// mapper sees the selects as the lanes' inputs.
module zy_wino4_data #(
    parameter integer BITS = 8,
    parameter integer LANES = 4
) (
    input  wire                         clk,
    input  wire [24*LANES*BITS-1:0]     win,  // d[r][c] (row r, column c) of lane l at ((r*6 + c)*LANES + l)*BITS
    input  wire [4:0]                   e,    // position e = 4 j + i (i = e[1:0], j = e[4:2] in 0..5)
    output wire [LANES*(BITS+5)-1:0]    v     // V[i][j] of lane l at l*(BITS+5)
);
    localparam integer WT = BITS + 1;  // T (the row combination)
    localparam integer WX = BITS + 4;  // x, y (the two halves of B4^T's row)
    localparam integer WV = BITS + 5;  // V (wv_bits)

    wire [1:0] i;
    wire sub_i;
    wire [1:0] cls;  // column class: 0 (j = 0), 1 (j = 1, 2), 2 (j = 3, 4), 3 (j = 5)
    wire neg;        // V = x - y (j = 2, 4)
    zy_wino4_data_coef coef (.e(e), .i(i), .sub_i(sub_i), .cls(cls), .neg(neg));

    genvar gl, gc;
    generate
        for (gl = 0; gl < LANES; gl = gl + 1) begin : lane
            wire [WT-1:0] t [0:5];
            for (gc = 0; gc < 6; gc = gc + 1) begin : rowc
                wire [BITS-1:0] x0 = win[((0*6 + gc)*LANES + gl)*BITS +: BITS];
                wire [BITS-1:0] x1 = win[((1*6 + gc)*LANES + gl)*BITS +: BITS];
                wire [BITS-1:0] x2 = win[((2*6 + gc)*LANES + gl)*BITS +: BITS];
                wire [BITS-1:0] x3 = win[((3*6 + gc)*LANES + gl)*BITS +: BITS];
                // bt_combine: a = i0 ? x0 : (i2 ? x2 : x1); b = i0 ? x2 : (i3 ? x3 : (i1 ? x2 : x1))
                reg [BITS-1:0] ra, rb;
                always @* begin
                    case (i)
                        2'd0:    begin ra = x0; rb = x2; end
                        2'd1:    begin ra = x1; rb = x2; end
                        2'd2:    begin ra = x2; rb = x1; end
                        default: begin ra = x1; rb = x3; end
                    endcase
                end
                wire signed [WT-1:0] xa = $signed(ra);
                wire signed [WT-1:0] xb = $signed(rb);
                assign t[gc] = xa + (xb ^ {WT{sub_i}}) + {{(WT-1){1'b0}}, sub_i};  // a -+ b
            end
            // T sign-extended to WX, and the shifted copies the operands take
            wire signed [WX-1:0] t0 = $signed(t[0]);
            wire signed [WX-1:0] t1 = $signed(t[1]);
            wire signed [WX-1:0] t2 = $signed(t[2]);
            wire signed [WX-1:0] t3 = $signed(t[3]);
            wire signed [WX-1:0] t4 = $signed(t[4]);
            wire signed [WX-1:0] t5 = $signed(t[5]);
            reg [WX-1:0] xa, xb, ya, yb;
            always @* begin
                case (cls)
                    2'd0:    begin xa = t4; xb = t2;      ya = t0 <<< 2; yb = t2 <<< 2; end
                    2'd1:    begin xa = t4; xb = t2 <<< 2; ya = t3;      yb = t1 <<< 2; end
                    2'd2:    begin xa = t4; xb = t2;      ya = t3 <<< 1; yb = t1 <<< 1; end
                    default: begin xa = t5; xb = t3;      ya = t1 <<< 2; yb = t3 <<< 2; end
                endcase
            end
            wire [WX-1:0] x = xa - xb;
            wire [WX-1:0] y = ya - yb;
            wire signed [WV-1:0] xv = $signed(x);
            wire signed [WV-1:0] yv = $signed(y);
            reg [WV-1:0] v_r;
            always @(posedge clk) v_r <= xv + (yv ^ {WV{neg}}) + {{(WV-1){1'b0}}, neg};  // x +- y
            assign v[gl*WV +: WV] = v_r;
        end
    endgenerate
endmodule

// The position decode, shared by the lanes (the loop's, one per engine): the row index and the row
// combination's sign, the column class of j and the column combination's sign. Its own module, kept
// apart in synthesis (keep_hierarchy), so that the mapper does not copy it into every bit of every lane.
(* keep_hierarchy *)
module zy_wino4_data_coef (
    input  wire [4:0] e,
    output wire [1:0] i,
    output wire       sub_i,
    output wire [1:0] cls,
    output wire       neg
);
    wire [2:0] j = e[4:2];
    assign i = e[1:0];
    assign sub_i = (e[1:0] != 2'd1);  // row 1 of B^T adds, the others subtract
    assign cls = (j == 3'd0) ? 2'd0 : (j <= 3'd2) ? 2'd1 : (j <= 3'd4) ? 2'd2 : 2'd3;
    assign neg = (j == 3'd2) || (j == 3'd4);
endmodule
