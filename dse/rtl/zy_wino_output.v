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
module zy_wino_output #(
    parameter integer LANES = 4,
    parameter integer ACC = 48
) (
    input  wire                      clk,
    input  wire                      valid,  // acc holds M[e] of every lane this cycle
    input  wire [3:0]                e,      // position (i, j) = (e[3:2], e[1:0])
    input  wire [LANES*ACC-1:0]      acc,    // lane l at l*ACC
    output wire [4*LANES*ACC-1:0]    y       // Y[q] / 4 of lane l at (q*LANES + l)*ACC
);
    // A^T row r as masks over its column index k (bit k): nonzero entries and negative entries
    localparam [3:0] AT0_NZ = 4'b0111;
    localparam [3:0] AT0_NEG = 4'b0000;
    localparam [3:0] AT1_NZ = 4'b1110;
    localparam [3:0] AT1_NEG = 4'b1100;
    wire [1:0] i = e[3:2];
    wire [1:0] j = e[1:0];
    wire start = (e == 4'd0);
    wire last = (e == 4'd15);

    genvar gq, gl;
    generate
        for (gq = 0; gq < 4; gq = gq + 1) begin : pix
            // c(e, q): one sign and one nonzero flag per position, shared by the lanes
            wire [3:0] row_nz = (gq / 2) ? AT1_NZ : AT0_NZ;
            wire [3:0] row_neg = (gq / 2) ? AT1_NEG : AT0_NEG;
            wire [3:0] col_nz = (gq % 2) ? AT1_NZ : AT0_NZ;
            wire [3:0] col_neg = (gq % 2) ? AT1_NEG : AT0_NEG;
            wire nz = row_nz[i] & col_nz[j];
            wire neg = nz & (row_neg[i] ^ col_neg[j]);
            for (gl = 0; gl < LANES; gl = gl + 1) begin : lane
                reg [ACC-1:0] y_acc, y_emit;
                wire [ACC-1:0] base = start ? {ACC{1'b0}} : y_acc;
                // +acc, -acc (= ~acc + 1) or 0
                wire [ACC-1:0] term = (acc[gl*ACC +: ACC] & {ACC{nz}}) ^ {ACC{neg}};
                wire [ACC-1:0] sum = base + term + {{(ACC-1){1'b0}}, neg};
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
