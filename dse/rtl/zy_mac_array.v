// zy_mac_array.v: a synthesis model of mac_step and its operands in zy_conv.h (conv_stage).
//
// Written for resource calibration of dse/blocks.py (ConvEngine, WeightBuffer), not as a
// replacement for the HLS kernel. Structure, per the C++:
// - Input operands: xin[ic] = !inside ? 0 : fresh ? newest.lane[s*P_IC+ic] : line[..][s*P_IC+ic];
//   the line-buffer word (P_OC lanes) and the newest-pixel register arrive registered; the
//   sub-fold select s, fresh and inside are the loop's control. xin is registered once and
//   broadcast to every row.
// - Weights: wbuf[2][SLICES][P_OC][P_IC], dims 3 and 4 fully partitioned -> P_OC*P_IC banks of
//   2*SLICES words x W_BITS (SLICES = POSITIONS*P_OC/P_IC), written by the loader (one shared write
//   address/data, a write enable per bank) and read at one shared address (cur*SLICES + t*S + s).
// - Row oc: acc[oc] += sum_ic w[oc][ic] * x[ic]; products are W_BITS x X_BITS signed, the sum is an
//   adder chain (systolic: term ic is delayed ic cycles, so each add is one DSP48E1 post-adder
//   fed through PCIN), the 48-bit accumulator is cleared at (t, s) = (0, 0).
// - The banks are marked ram_style "distributed", so yosys keeps every one in LUTRAM (banks deeper
//   than 64 words: 2 to 4 slices and a read mux) and the logic around them is the same at every
//   calibration point (without it yosys puts the 192 x 20-bit banks of the 24 x 4 Winograd array in
//   BRAM and folds the A registers into them); the model charges the memories by its own rule
//   (blocks.memory) and drops the read mux. The direct points synthesise identically either way.
//
// Operand widths (mac_types<C> of zy_conv.h): W_BITS for the weights (wb_t), X_BITS for the
// operands (x_t), both BITS by default (the direct design: codes x codes, POSITIONS = 9 taps,
// X_SELECT = 1: the circuit above, unchanged).
//
// The Winograd design (C::winograd_engine; dse.hwconfig.wino_bits): W_BITS = wu_bits (U), X_BITS =
// wv_bits (V), POSITIONS = 16 (the weight buffer holds the 16 transformed positions per sub-fold),
// X_SELECT = 0. There the line buffer still holds BITS-wide codes and the operand is V = B^T d B of
// the span's window, computed by the data transform (zy_wino_data.v, whose output register v_r is
// the operand register) from the window registers, which own the sub-fold select of the line word
// (blocks.WinogradWindow, with the 2:1 select of V or a direct call's code; the direct path's own
// sub-fold / newest select of codes is blocks.LoopLogic.selects). So with X_SELECT = 0 the circuit is:
// the P_IC operands x_in (X_BITS each, arriving registered: no select, no line word, no xin
// register of its own), their systolic delays, the P_OC*P_IC weight banks (2*16*P_OC/P_IC words x
// W_BITS) and the delayed read address, the W_BITS x X_BITS products with the DSP A/B, M and P
// registers and the PCIN chain, and the 48-bit row accumulators with their clear (the design's direct
// calls, 1x1 and narrow maps, accumulate there on the same array; the Winograd path's Y
// accumulators are zy_wino_output.v's). The ports line_word, newest_word, sub, fresh and inside are
// then unused (and x_in with X_SELECT = 1).
module zy_mac_array #(
    parameter integer P_OC = 16,
    parameter integer P_IC = 8,
    parameter integer BITS = 16,
    parameter integer W_BITS = BITS,    // weight (U) width: the weight bank entry
    parameter integer X_BITS = BITS,    // operand (V) width: line-word lanes, newest word, xin, x_in
    parameter integer POSITIONS = 9,    // slices per sub-fold: 9 taps, 16 Winograd positions
    parameter integer X_SELECT = 1,     // 1: the direct operand select; 0: x_in (P_IC lanes, registered outside)
    parameter integer ACC = 48
) (
    input  wire                      clk,
    // line buffer word and newest-pixel register (P_OC lanes)
    input  wire [P_OC*X_BITS-1:0]    line_word,
    input  wire [P_OC*X_BITS-1:0]    newest_word,
    input  wire [7:0]                sub,      // s, the sub-fold
    input  wire                      fresh,
    input  wire                      inside,
    // the operands themselves (X_SELECT = 0: V of the P_IC lanes)
    input  wire [P_IC*X_BITS-1:0]    x_in,
    // weight buffer ports
    input  wire                      w_we_any,
    input  wire [P_OC*P_IC-1:0]      w_we,
    input  wire [$clog2(2*POSITIONS*(P_OC/P_IC))-1:0] w_waddr,
    input  wire [W_BITS-1:0]         w_wdata,
    input  wire [$clog2(2*POSITIONS*(P_OC/P_IC))-1:0] w_raddr,
    // accumulator control
    input  wire                      acc_clear,
    output wire [P_OC*ACC-1:0]       acc_out
);
    localparam integer SLICES = POSITIONS * (P_OC / P_IC);
    localparam integer DEPTH = 2 * SLICES;
    localparam integer GROUPS = P_OC / P_IC;

    // ---- input operands (shared by all rows) ----
    wire signed [X_BITS-1:0] xin [0:P_IC-1];
    integer ic, oc, g;
    genvar gi, go;
    generate
        if (X_SELECT) begin : sel
            // the direct operand select, registered
            reg signed [X_BITS-1:0] xr [0:P_IC-1];
            always @(posedge clk) begin
                for (ic = 0; ic < P_IC; ic = ic + 1) begin
                    xr[ic] <= 0;
                    if (inside) begin
                        for (g = 0; g < GROUPS; g = g + 1)
                            if (sub == g)
                                xr[ic] <= fresh ? newest_word[(g*P_IC+ic)*X_BITS +: X_BITS]
                                                : line_word[(g*P_IC+ic)*X_BITS +: X_BITS];
                    end
                end
            end
            for (gi = 0; gi < P_IC; gi = gi + 1) begin : lane
                assign xin[gi] = xr[gi];
            end
        end else begin : vin
            // V of lane ic, registered by its source (zy_wino_data.v)
            for (gi = 0; gi < P_IC; gi = gi + 1) begin : lane
                assign xin[gi] = x_in[gi*X_BITS +: X_BITS];
            end
        end
    endgenerate

    // systolic delay of the broadcast operand: term ic enters the chain ic cycles later
    wire signed [X_BITS-1:0] xd [0:P_IC-1];
    generate
        for (gi = 0; gi < P_IC; gi = gi + 1) begin : xdelay
            if (gi == 0) begin : d0
                assign xd[gi] = xin[gi];
            end else begin : dn
                reg signed [X_BITS-1:0] sr [0:gi-1];
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

    // clear flag aligned with the end of the chain (one cycle sooner without the operand register)
    localparam integer CLR_TAP = X_SELECT ? P_IC + 2 : P_IC + 1;
    reg [P_IC+2:0] clr_d;
    always @(posedge clk) clr_d <= {clr_d[P_IC+1:0], acc_clear};

    generate
        for (go = 0; go < P_OC; go = go + 1) begin : row
            wire signed [ACC-1:0] chain [0:P_IC];
            assign chain[0] = {ACC{1'b0}};
            for (gi = 0; gi < P_IC; gi = gi + 1) begin : mac
                // weight bank wbuf[*][*][go][gi]: distributed RAM, asynchronous read
                (* ram_style = "distributed" *)
                reg [W_BITS-1:0] bank [0:DEPTH-1];
                always @(posedge clk)
                    if (w_we_any && w_we[go*P_IC+gi]) bank[w_waddr] <= w_wdata;
                reg signed [W_BITS-1:0] a_r;        // DSP A register
                reg signed [X_BITS-1:0] b_r;        // DSP B register
                reg signed [W_BITS+X_BITS-1:0] m_r; // DSP M register
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
                acc <= (clr_d[CLR_TAP] ? {ACC{1'b0}} : acc) + chain[P_IC];
            end
            assign acc_out[go*ACC +: ACC] = acc;  // to the psum stream (its FIFO is StreamIO's)
        end
    endgenerate
endmodule
