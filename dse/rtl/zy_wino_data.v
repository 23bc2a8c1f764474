// zy_wino_data.v: a synthesis model of the data transform of the Winograd F(2x2,3x3) path (issue 12,
// spec "Hardware of the winograd path": V = B^T d B, one position per iteration), for resource
// calibration of dse/blocks.py. There is one of these per conv engine, serving p_ic lanes
// (LANES). The 4x4 window and its sub-fold select are outside (the model charges the window
// registers and the S:1 select); here are the selected window entries of the LANES lanes.
//
// Per iteration, position e = (i, j) = (e[3:2], e[1:0]) of the 4x4 transformed tile, per lane:
//   B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]: row k of B^T is
//   x[a(k)] + x[b(k)] for k = 1, x[a(k)] - x[b(k)] otherwise, with (a, b) = (0,2), (2,1), (2,1), (1,3)
//   row combination (by i):    T[c] = d[a(i)][c] -+ d[b(i)][c]     c = 0..3  (4 adders, BITS+1)
//   column combination (by j): V = T[a(j)] -+ T[b(j)]                        (1 adder, BITS+2)
// The operands of both combinations are 4:1 muxes by the row (column) index, each adder one add/sub
// (the subtrahend inverted, the carry in set: one carry chain whatever the sign); V is registered.
// Widths (model.winograd.transform_bits): |T| <= 2^BITS, -2^(BITS+1) <= V < 2^(BITS+1): no overflow.
//
// PAIRED = 1: the circuit of a "winograd-paired" design (zy_winograd.h, design note "Paired
// positions"). The high lanes (l >= LANES / 2) take their position from e_hi: in a paired call the
// loop decodes step k into the low lanes' position e = pair_position(k) and the high lanes' e_hi =
// sigma(e) (rows 0, 3 and columns 0, 3 swapped), shared by every lane like e itself; unpaired, e_hi
// = e. V is zero (the register's synchronous reset) on the low lanes when zero_lo, on the high
// lanes when zero_hi: a paired call's single steps (k >= 6: high) and steps past its ten (k >= 10:
// both). PAIRED = 0 ignores e_hi, zero_lo and zero_hi.
module zy_wino_data #(
    parameter integer BITS = 16,
    parameter integer LANES = 4,
    parameter integer PAIRED = 0
) (
    input  wire                         clk,
    input  wire [16*LANES*BITS-1:0]     win,  // d[r][c] of lane l at ((r*4 + c)*LANES + l)*BITS
    input  wire [3:0]                   e,    // position (i, j) = (e[3:2], e[1:0])
    input  wire [3:0]                   e_hi, // PAIRED: the high lanes' position
    input  wire                         zero_lo,  // PAIRED: V = 0 on the low lanes
    input  wire                         zero_hi,  // PAIRED: V = 0 on the high lanes
    output wire [LANES*(BITS+2)-1:0]    v     // V[i][j] of lane l at l*(BITS+2)
);
    localparam integer WT = BITS + 1;
    localparam integer WV = BITS + 2;

    genvar gl, gc;
    generate
        for (gl = 0; gl < LANES; gl = gl + 1) begin : lane
            wire high = (PAIRED != 0) && (gl >= LANES / 2);
            wire [3:0] pos = high ? e_hi : e;
            wire zero = (PAIRED != 0) && (high ? zero_hi : zero_lo);
            wire [1:0] i = pos[3:2];
            wire [1:0] j = pos[1:0];
            wire sub_i = (i != 2'd1);  // row 1 of B^T adds, the others subtract
            wire sub_j = (j != 2'd1);
            // the lane's window rows: entry (r, c) at c*BITS of row r
            wire [4*BITS-1:0] row0, row1, row2, row3;
            for (gc = 0; gc < 4; gc = gc + 1) begin : pick
                assign row0[gc*BITS +: BITS] = win[((0*4 + gc)*LANES + gl)*BITS +: BITS];
                assign row1[gc*BITS +: BITS] = win[((1*4 + gc)*LANES + gl)*BITS +: BITS];
                assign row2[gc*BITS +: BITS] = win[((2*4 + gc)*LANES + gl)*BITS +: BITS];
                assign row3[gc*BITS +: BITS] = win[((3*4 + gc)*LANES + gl)*BITS +: BITS];
            end
            // row combination: the operand rows, 4:1 muxes by i
            reg [4*BITS-1:0] ra, rb;
            always @* begin
                case (i)
                    2'd0:    begin ra = row0; rb = row2; end
                    2'd1:    begin ra = row2; rb = row1; end
                    2'd2:    begin ra = row2; rb = row1; end
                    default: begin ra = row1; rb = row3; end
                endcase
            end
            wire [WT-1:0] t [0:3];
            for (gc = 0; gc < 4; gc = gc + 1) begin : rowc
                wire signed [WT-1:0] xa = $signed(ra[gc*BITS +: BITS]);
                wire signed [WT-1:0] xb = $signed(rb[gc*BITS +: BITS]);
                assign t[gc] = xa + (xb ^ {WT{sub_i}}) + {{(WT-1){1'b0}}, sub_i};  // xa -+ xb
            end
            // column combination: the operand columns of T, 4:1 muxes by j
            reg [WT-1:0] ta, tb;
            always @* begin
                case (j)
                    2'd0:    begin ta = t[0]; tb = t[2]; end
                    2'd1:    begin ta = t[2]; tb = t[1]; end
                    2'd2:    begin ta = t[2]; tb = t[1]; end
                    default: begin ta = t[1]; tb = t[3]; end
                endcase
            end
            wire signed [WV-1:0] ya = $signed(ta);
            wire signed [WV-1:0] yb = $signed(tb);
            reg [WV-1:0] v_r;
            always @(posedge clk) v_r <= zero ? {WV{1'b0}} : ya + (yb ^ {WV{sub_j}}) + {{(WV-1){1'b0}}, sub_j};  // ya -+ yb
            assign v[gl*WV +: WV] = v_r;
        end
    endgenerate
endmodule
