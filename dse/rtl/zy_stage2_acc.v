// zy_stage2_acc.v: a synthesis model of one accumulate lane j of loop ACC in zy_accumulate.h, for
// resource calibration of dse/blocks.py (AccumulateTile). There are p_oc of these. The tile memory
// is outside this module (the model charges it by its memory rule); here are its read and write
// data only.
//
// Per psum read (the first requantiser group of a pixel, or every pixel of a non-last fold):
//   sum = first ? ps : tile[p][j] + ps         (acc_bits = ACC: 48 at 16 bits, 32 at 8)
//   last ? sums[j] = sum : tile[p][j] = sum    (sums[j] holds the pixel for the requantisers)
module zy_stage2_acc #(
    parameter integer ACC = 48
) (
    input  wire           clk,
    input  wire           read,   // a psum is consumed this cycle (g == 0)
    input  wire           first,
    input  wire           last,
    input  wire [ACC-1:0] ps,
    input  wire [ACC-1:0] tile_rd,
    output reg  [ACC-1:0] tile_wr,
    output reg            tile_we,
    output reg  [ACC-1:0] sum_hold
);
    wire [ACC-1:0] sum = first ? ps : tile_rd + ps;
    always @(posedge clk) begin
        tile_wr <= sum;
        tile_we <= read && !last;
        if (read && last) sum_hold <= sum;
    end
endmodule
