// zy_wino4_filter.v: a synthesis model of the filter transform of the Winograd F(4x2,3x3) path
// (hls/include/zy_winograd.h filter_transform4, in wino_loader: U = (2G) g (24 G4)^T, computed in the PL
// as the weight words arrive), for resource calibration of dse/blocks.py ("wino4_filter"). LANES =
// (oc, ic) pairs at once; the 9-word staging register before it and the 24:1 select of the U-word to
// write after it are outside (the model charges them apart); here are the transform and its U registers.
//
// Per pair, the 3x3 taps g[k][l] (tap t = 3*k + l) -> 24 values U[i][j] (i row 0..3, j column 0..5),
// in the kernel's two passes:
//   columns (l = 0..2), 2G = [[2, 0, 0], [1, 1, 1], [1, -1, 1], [0, 0, 2]]:
//     s = g[0][l] + g[2][l]; H[0][l] = 2 g[0][l]; H[1][l] = s + g[1][l]; H[2][l] = s - g[1][l];
//     H[3][l] = 2 g[2][l]                                                              (9 adders)
//   rows (i = 0..3), 24 G4 = [[6, 0, 0], [-4, -4, -4], [-4, 4, -4], [1, 2, 4], [1, -2, 4], [0, 0, 24]]:
//     s = H0 + H2; q = H0 + 4 H2; U[i][0] = 4 H0 + 2 H0; U[i][1] = -(4 (s + H1)); U[i][2] = 4 (H1 - s);
//     U[i][3] = q + 2 H1; U[i][4] = q - 2 H1; U[i][5] = 16 H2 + 8 H2          (9 adders and a negation)
// Widths: |H| <= 3 * 2^(BITS-1) (BITS+2); |U| <= 72 * 2^(BITS-1) (U[i][5] of H2 = 3 * -2^(BITS-1) is
// -9 * 2^(BITS+2)): BITS+7 bits = dse.hwconfig.wino_bits(BITS, 4)[0] (15 at 8 bits, the kernel's
// wu_bits); the row pass runs at that width, as the kernel's wu_t, and nothing overflows it.
// The U registers load when ``load`` is set (once per group of pairs) and hold while the loader
// writes the 24 U-words.
module zy_wino4_filter #(
    parameter integer BITS = 8,
    parameter integer LANES = 4
) (
    input  wire                          clk,
    input  wire                          load,
    input  wire [9*LANES*BITS-1:0]       taps,  // g[k][l] of pair p at ((3*k + l)*LANES + p)*BITS
    output wire [24*LANES*(BITS+7)-1:0]  u      // U[i][j] of pair p at ((4*j + i)*LANES + p)*(BITS+7) (column-major)
);
    localparam integer WH = BITS + 2;  // H (the column pass)
    localparam integer WU = BITS + 7;  // U and its registers (wu_bits)

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
                assign h[0*3 + gk] = g0 + g0;
                assign h[1*3 + gk] = s02 + g1;
                assign h[2*3 + gk] = s02 - g1;
                assign h[3*3 + gk] = g2 + g2;
            end
            // row pass and the U registers
            for (gi = 0; gi < 4; gi = gi + 1) begin : row
                wire signed [WU-1:0] h0 = $signed(h[gi*3 + 0]);
                wire signed [WU-1:0] h1 = $signed(h[gi*3 + 1]);
                wire signed [WU-1:0] h2 = $signed(h[gi*3 + 2]);
                wire signed [WU-1:0] s02 = h0 + h2;
                wire signed [WU-1:0] q = h0 + (h2 <<< 2);
                wire signed [WU-1:0] s012 = s02 + h1;
                wire signed [WU-1:0] d1 = h1 - s02;
                reg [6*WU-1:0] u_r;  // U[i][j] at j*WU
                always @(posedge clk) begin
                    if (load) begin
                        u_r[0*WU +: WU] <= (h0 <<< 2) + (h0 <<< 1);
                        u_r[1*WU +: WU] <= -(s012 <<< 2);
                        u_r[2*WU +: WU] <= d1 <<< 2;
                        u_r[3*WU +: WU] <= q + (h1 <<< 1);
                        u_r[4*WU +: WU] <= q - (h1 <<< 1);
                        u_r[5*WU +: WU] <= (h2 <<< 4) + (h2 <<< 3);
                    end
                end
                for (gk = 0; gk < 6; gk = gk + 1) begin : out
                    assign u[((4*gk + gi)*LANES + gp)*WU +: WU] = u_r[gk*WU +: WU];
                end
            end
        end
    endgenerate
endmodule
