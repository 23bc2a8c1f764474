// zy_wino_filter.v: a synthesis model of the filter transform of the Winograd F(2x2,3x3) path (issue
// 12, spec "Hardware of the winograd path": U = (2G) g (2G)^T, computed in the PL as the weight
// words arrive), for resource calibration of dse/blocks.py. LANES = lanes_per_word (oc, ic) pairs
// at once; the 9-word staging register before it and the 16:1 select of the U-word to write after
// it are outside (the model charges them apart); here are the transform and its U registers.
//
// Per pair, the 3x3 taps g[k][l] (tap t = 3*k + l) -> 16 values U[i][j] (BITS+4), with
// 2G = [[2, 0, 0], [1, 1, 1], [1, -1, 1], [0, 0, 2]], in two passes sharing g0 + g2:
//   columns (l = 0..2): s = g[0][l] + g[2][l]; H[0][l] = 2 g[0][l]; H[1][l] = s + g[1][l];
//                       H[2][l] = s - g[1][l]; H[3][l] = 2 g[2][l]                  (9 adders)
//   rows (i = 0..3):    r = H[i][0] + H[i][2]; U[i][0] = 2 H[i][0]; U[i][1] = r + H[i][1];
//                       U[i][2] = r - H[i][1]; U[i][3] = 2 H[i][2]                  (12 adders)
// Widths (model.winograd.transform_bits): |H| <= 3 * 2^(BITS-1) (BITS+2), |U| <= 9 * 2^(BITS-1) (BITS+4).
// The U registers load when ``load`` is set (once per group of pairs) and hold while the loader
// writes the 16 U-words.
module zy_wino_filter #(
    parameter integer BITS = 16,
    parameter integer LANES = 4
) (
    input  wire                          clk,
    input  wire                          load,
    input  wire [9*LANES*BITS-1:0]       taps,  // g[k][l] of pair p at ((3*k + l)*LANES + p)*BITS
    output wire [16*LANES*(BITS+4)-1:0]  u      // U[i][j] of pair p at ((4*i + j)*LANES + p)*(BITS+4)
);
    localparam integer WH = BITS + 2;  // H (the column pass)
    localparam integer WU = BITS + 4;  // U and its registers (wu_bits)
    localparam integer WO = BITS + 4;  // a U lane of the port (the registers sign-extended to it)

    genvar gp, gk, gi;
    generate
        for (gp = 0; gp < LANES; gp = gp + 1) begin : pair
            // column pass: H[i][l] = h[i*3 + l]
            wire [WH-1:0] h [0:11];
            for (gk = 0; gk < 3; gk = gk + 1) begin : col
                wire signed [WH-1:0] g0 = $signed(taps[((0*3 + gk)*LANES + gp)*BITS +: BITS]);
                wire signed [WH-1:0] g1 = $signed(taps[((1*3 + gk)*LANES + gp)*BITS +: BITS]);
                wire signed [WH-1:0] g2 = $signed(taps[((2*3 + gk)*LANES + gp)*BITS +: BITS]);
                wire signed [WH-1:0] s02 = g0 + g2;
                assign h[0*3 + gk] = g0 <<< 1;
                assign h[1*3 + gk] = s02 + g1;
                assign h[2*3 + gk] = s02 - g1;
                assign h[3*3 + gk] = g2 <<< 1;
            end
            // row pass and the U registers
            for (gi = 0; gi < 4; gi = gi + 1) begin : row
                wire signed [WU-1:0] h0 = $signed(h[gi*3 + 0]);
                wire signed [WU-1:0] h1 = $signed(h[gi*3 + 1]);
                wire signed [WU-1:0] h2 = $signed(h[gi*3 + 2]);
                wire signed [WU-1:0] r02 = h0 + h2;
                reg [4*WU-1:0] u_r;
                always @(posedge clk) begin
                    if (load) begin
                        u_r[0*WU +: WU] <= h0 <<< 1;
                        u_r[1*WU +: WU] <= r02 + h1;
                        u_r[2*WU +: WU] <= r02 - h1;
                        u_r[3*WU +: WU] <= h2 <<< 1;
                    end
                end
                assign u[((gi*4 + 0)*LANES + gp)*WO +: WO] = $signed(u_r[0*WU +: WU]);
                assign u[((gi*4 + 1)*LANES + gp)*WO +: WO] = $signed(u_r[1*WU +: WU]);
                assign u[((gi*4 + 2)*LANES + gp)*WO +: WO] = $signed(u_r[2*WU +: WU]);
                assign u[((gi*4 + 3)*LANES + gp)*WO +: WO] = $signed(u_r[3*WU +: WU]);
            end
        end
    endgenerate
endmodule
