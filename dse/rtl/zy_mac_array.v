// zy_mac_array.v: a synthesis model of mac_step and its operands in zy_conv.h (conv_stage).
//
// Written for resource calibration of dse/blocks.py (ConvEngine, WeightBuffer), not as a
// replacement for the HLS kernel. Structure, per the C++:
// - Input operands: xin[ic] = !inside ? 0 : fresh ? newest.lane[s*P_IC+ic] : line[..][s*P_IC+ic];
//   the line-buffer word (P_OC lanes) and the newest-pixel register arrive registered; the
//   sub-fold select s, fresh and inside are the loop's control. xin is registered once and
//   broadcast to every row.
// - Weights: wbuf[2][SLICES][P_OC][P_IC], dims 3 and 4 fully partitioned -> P_OC*P_IC banks of
//   2*SLICES words x BITS (SLICES = 9*P_OC/P_IC), written by the loader (one shared write
//   address/data, a write enable per bank) and read at one shared address (cur*SLICES + t*S + s).
// - Row oc: acc[oc] += sum_ic w[oc][ic] * x[ic]; products are BITS x BITS signed, the sum is an
//   adder chain (systolic: term ic is delayed ic cycles, so each add is one DSP48E1 post-adder
//   fed through PCIN), the 48-bit accumulator is cleared at (t, s) = (0, 0).
module zy_mac_array #(
    parameter integer P_OC = 16,
    parameter integer P_IC = 8,
    parameter integer BITS = 16,
    parameter integer ACC = 48
) (
    input  wire                      clk,
    // line buffer word and newest-pixel register (P_OC lanes)
    input  wire [P_OC*BITS-1:0]      line_word,
    input  wire [P_OC*BITS-1:0]      newest_word,
    input  wire [7:0]                sub,      // s, the sub-fold
    input  wire                      fresh,
    input  wire                      inside,
    // weight buffer ports
    input  wire                      w_we_any,
    input  wire [P_OC*P_IC-1:0]      w_we,
    input  wire [$clog2(2*9*(P_OC/P_IC))-1:0] w_waddr,
    input  wire [BITS-1:0]           w_wdata,
    input  wire [$clog2(2*9*(P_OC/P_IC))-1:0] w_raddr,
    // accumulator control
    input  wire                      acc_clear,
    output wire [P_OC*ACC-1:0]       acc_out
);
    localparam integer SLICES = 9 * (P_OC / P_IC);
    localparam integer DEPTH = 2 * SLICES;
    localparam integer GROUPS = P_OC / P_IC;

    // ---- input operand select (shared by all rows) ----
    reg signed [BITS-1:0] xin [0:P_IC-1];
    integer ic, oc, g;
    always @(posedge clk) begin
        for (ic = 0; ic < P_IC; ic = ic + 1) begin
            xin[ic] <= 0;
            if (inside) begin
                for (g = 0; g < GROUPS; g = g + 1)
                    if (sub == g)
                        xin[ic] <= fresh ? newest_word[(g*P_IC+ic)*BITS +: BITS] : line_word[(g*P_IC+ic)*BITS +: BITS];
            end
        end
    end

    // systolic delay of the broadcast operand: term ic enters the chain ic cycles later
    genvar gi, go;
    wire signed [BITS-1:0] xd [0:P_IC-1];
    generate
        for (gi = 0; gi < P_IC; gi = gi + 1) begin : xdelay
            if (gi == 0) begin : d0
                assign xd[gi] = xin[gi];
            end else begin : dn
                reg signed [BITS-1:0] sr [0:gi-1];
                integer k;
                always @(posedge clk) begin
                    sr[0] <= xin[gi];
                    for (k = 1; k < gi; k = k + 1) sr[k] <= sr[k-1];
                end
                assign xd[gi] = sr[gi-1];
            end
        end
    endgenerate

    // read address delayed the same way (one copy per chain position, shared by the rows)
    wire [$clog2(DEPTH)-1:0] rad [0:P_IC-1];
    generate
        for (gi = 0; gi < P_IC; gi = gi + 1) begin : adelay
            if (gi == 0) begin : d0
                assign rad[gi] = w_raddr;
            end else begin : dn
                reg [$clog2(DEPTH)-1:0] sr [0:gi-1];
                integer k;
                always @(posedge clk) begin
                    sr[0] <= w_raddr;
                    for (k = 1; k < gi; k = k + 1) sr[k] <= sr[k-1];
                end
                assign rad[gi] = sr[gi-1];
            end
        end
    endgenerate

    // clear flag aligned with the end of the chain
    reg [P_IC+2:0] clr_d;
    always @(posedge clk) clr_d <= {clr_d[P_IC+1:0], acc_clear};

    generate
        for (go = 0; go < P_OC; go = go + 1) begin : row
            wire signed [ACC-1:0] chain [0:P_IC];
            assign chain[0] = {ACC{1'b0}};
            for (gi = 0; gi < P_IC; gi = gi + 1) begin : mac
                // weight bank wbuf[*][*][go][gi]: distributed RAM, asynchronous read
                reg [BITS-1:0] bank [0:DEPTH-1];
                always @(posedge clk)
                    if (w_we_any && w_we[go*P_IC+gi]) bank[w_waddr] <= w_wdata;
                reg signed [BITS-1:0] a_r, b_r;     // DSP A/B registers
                reg signed [2*BITS-1:0] m_r;        // DSP M register
                reg signed [ACC-1:0] p_r;           // DSP P register (post-adder)
                always @(posedge clk) begin
                    a_r <= bank[rad[gi]];
                    b_r <= xd[gi];
                    m_r <= a_r * b_r;
                    p_r <= chain[gi] + m_r;
                end
                assign chain[gi+1] = p_r;
            end
            // acc[oc] += sum; cleared at the first (t, s) of a pixel
            reg signed [ACC-1:0] acc;
            always @(posedge clk) begin
                acc <= (clr_d[P_IC+2] ? {ACC{1'b0}} : acc) + chain[P_IC];
            end
            assign acc_out[go*ACC +: ACC] = acc;  // to the psum stream (its FIFO is StreamIO's)
        end
    endgenerate
endmodule
