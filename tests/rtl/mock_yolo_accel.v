// mock_yolo_accel.v: a hand-written stand-in for the exported yolo_accel IP, to prove the cocotb
// testbench (hls/cocotb/tb_yolo_accel.py) without Vitis HLS. It has the exported IP's ports, named
// as Vitis HLS names them (ap_clk, ap_rst_n, s_axi_control_*, in_r_*, wts_*, out_r_*, interrupt),
// an AXI4-Lite slave with ap_ctrl at 0x00 (ap_start bit 0, ap_done bit 1 clear-on-read, ap_idle
// bit 2, ap_ready bit 3) and the 15 register arguments at 0x10 + 8 i (HwConfig.register_offsets),
// and one datapath: a conv-bypassed x2 nearest-neighbour upsample over 64-bit words of the DDR
// layout, fold-major [fold][row][col][words], FOLD_WORDS words per full fold (p_oc lanes / lanes per
// word), the last fold narrower. It reads the whole input stream into a buffer, then writes
// out[fold][2h][2w] = in[fold][y/2][x/2], TLAST on the call's final word. Other calls (stage3 !=
// upsample, conv_enable) are not modelled.
`timescale 1ns / 1ps

module yolo_accel #(
    parameter FOLD_WORDS = 6,       // p_oc * bits / 64 (HwConfig(): 24 * 16 / 64)
    parameter LANES_PER_WORD = 4,   // 64 / bits
    parameter DEPTH = 4096          // input buffer, words
) (
    input  wire        ap_clk,
    input  wire        ap_rst_n,
    // feature maps in
    input  wire [63:0] in_r_TDATA,
    input  wire        in_r_TVALID,
    output wire        in_r_TREADY,
    input  wire [7:0]  in_r_TKEEP,
    input  wire [7:0]  in_r_TSTRB,
    input  wire        in_r_TLAST,
    // parameters in (unused by a bypass call)
    input  wire [63:0] wts_TDATA,
    input  wire        wts_TVALID,
    output wire        wts_TREADY,
    input  wire [7:0]  wts_TKEEP,
    input  wire [7:0]  wts_TSTRB,
    input  wire        wts_TLAST,
    // results out
    output wire [63:0] out_r_TDATA,
    output wire        out_r_TVALID,
    input  wire        out_r_TREADY,
    output wire [7:0]  out_r_TKEEP,
    output wire [7:0]  out_r_TSTRB,
    output wire        out_r_TLAST,
    // AXI4-Lite control
    input  wire [7:0]  s_axi_control_AWADDR,
    input  wire        s_axi_control_AWVALID,
    output wire        s_axi_control_AWREADY,
    input  wire [31:0] s_axi_control_WDATA,
    input  wire [3:0]  s_axi_control_WSTRB,
    input  wire        s_axi_control_WVALID,
    output wire        s_axi_control_WREADY,
    output wire [1:0]  s_axi_control_BRESP,
    output wire        s_axi_control_BVALID,
    input  wire        s_axi_control_BREADY,
    input  wire [7:0]  s_axi_control_ARADDR,
    input  wire        s_axi_control_ARVALID,
    output wire        s_axi_control_ARREADY,
    output wire [31:0] s_axi_control_RDATA,
    output wire [1:0]  s_axi_control_RRESP,
    output wire        s_axi_control_RVALID,
    input  wire        s_axi_control_RREADY,
    output wire        interrupt
);
    // ---------------------------------------------------------------- register file
    reg [31:0] regs [0:14];  // conv_enable, leaky, ksize, stage3, pool_stride, height, width,
                             // in_channels_a, in_channels_b, out_channels, out_folds, bands,
                             // band_rows, yolo_period, yolo_shift
    reg        ap_start, ap_done, ap_idle, ap_ready;
    integer    i;

    // write channel: accept AW and W together, one response
    reg        aw_ok, w_ok, bvalid;
    reg [7:0]  awaddr;
    reg [31:0] wdata;
    assign s_axi_control_AWREADY = !aw_ok && !bvalid;
    assign s_axi_control_WREADY  = !w_ok && !bvalid;
    assign s_axi_control_BVALID  = bvalid;
    assign s_axi_control_BRESP   = 2'b00;

    // read channel
    reg        rvalid;
    reg [31:0] rdata;
    assign s_axi_control_ARREADY = !rvalid;
    assign s_axi_control_RVALID  = rvalid;
    assign s_axi_control_RDATA   = rdata;
    assign s_axi_control_RRESP   = 2'b00;
    assign interrupt = 1'b0;

    // ---------------------------------------------------------------- datapath state
    localparam S_IDLE = 2'd0, S_READ = 2'd1, S_WRITE = 2'd2, S_DONE = 2'd3;
    reg [1:0]  state;
    reg [63:0] mem [0:DEPTH-1];
    reg [31:0] n_in, rd_count;
    reg [31:0] height, width, cwords;  // call shape, cwords = channel words per pixel
    reg [31:0] fold_base, fold_wpp, fold_left;  // current fold: first input word, words per pixel, words left
    reg [31:0] oy, ox, k;
    wire [31:0] addr = fold_base + ((oy >> 1) * width + (ox >> 1)) * fold_wpp + k;
    wire wr_last = (fold_left <= FOLD_WORDS) && (oy == 2 * height - 1) && (ox == 2 * width - 1)
                   && (k == fold_wpp - 1);
    wire [31:0] ch_words = (regs[7] + LANES_PER_WORD - 1) / LANES_PER_WORD;

    assign in_r_TREADY  = (state == S_READ);
    assign wts_TREADY   = 1'b0;
    assign out_r_TVALID = (state == S_WRITE);
    assign out_r_TDATA  = mem[addr];
    assign out_r_TKEEP  = 8'hff;
    assign out_r_TSTRB  = 8'hff;
    assign out_r_TLAST  = wr_last;

    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            aw_ok <= 0; w_ok <= 0; bvalid <= 0; rvalid <= 0;
            ap_start <= 0; ap_done <= 0; ap_idle <= 1; ap_ready <= 0;
            state <= S_IDLE;
            for (i = 0; i < 15; i = i + 1) regs[i] <= 0;
        end else begin
            // ---- AXI-Lite write
            if (s_axi_control_AWVALID && s_axi_control_AWREADY) begin aw_ok <= 1; awaddr <= s_axi_control_AWADDR; end
            if (s_axi_control_WVALID && s_axi_control_WREADY) begin w_ok <= 1; wdata <= s_axi_control_WDATA; end
            if (aw_ok && w_ok) begin
                aw_ok <= 0; w_ok <= 0; bvalid <= 1;
                if (awaddr == 8'h00) begin
                    if (wdata[0]) ap_start <= 1;
                end else if (awaddr >= 8'h10 && awaddr[2:0] == 3'b000 && ((awaddr - 8'h10) >> 3) < 15)
                    regs[(awaddr - 8'h10) >> 3] <= wdata;
            end
            if (bvalid && s_axi_control_BREADY) bvalid <= 0;
            // ---- AXI-Lite read (ap_done clears on read)
            if (s_axi_control_ARVALID && s_axi_control_ARREADY) begin
                rvalid <= 1;
                if (s_axi_control_ARADDR == 8'h00) begin
                    rdata <= {28'd0, ap_ready, ap_idle, ap_done, ap_start};
                    ap_done <= 0;
                end else if (s_axi_control_ARADDR >= 8'h10 && ((s_axi_control_ARADDR - 8'h10) >> 3) < 15)
                    rdata <= regs[(s_axi_control_ARADDR - 8'h10) >> 3];
                else
                    rdata <= 32'd0;
            end
            if (rvalid && s_axi_control_RREADY) rvalid <= 0;
            // ---- the call
            ap_ready <= 0;
            case (state)
                S_IDLE: if (ap_start) begin
                    ap_idle <= 0;
                    height <= regs[5]; width <= regs[6]; cwords <= ch_words;
                    n_in <= ch_words * regs[5] * regs[6];
                    rd_count <= 0;
                    state <= S_READ;
                end
                S_READ: begin
                    if (in_r_TVALID) begin
                        mem[rd_count] <= in_r_TDATA;
                        rd_count <= rd_count + 1;
                    end
                    if (rd_count + (in_r_TVALID ? 1 : 0) == n_in) begin
                        ap_start <= 0; ap_ready <= 1;
                        fold_base <= 0; fold_left <= cwords;
                        fold_wpp <= (cwords < FOLD_WORDS) ? cwords : FOLD_WORDS;
                        oy <= 0; ox <= 0; k <= 0;
                        state <= S_WRITE;
                    end
                end
                S_WRITE: if (out_r_TREADY) begin
                    if (wr_last) state <= S_DONE;
                    else if (k != fold_wpp - 1) k <= k + 1;
                    else begin
                        k <= 0;
                        if (ox != 2 * width - 1) ox <= ox + 1;
                        else begin
                            ox <= 0;
                            if (oy != 2 * height - 1) oy <= oy + 1;
                            else begin  // next fold
                                oy <= 0;
                                fold_base <= fold_base + height * width * fold_wpp;
                                fold_left <= fold_left - fold_wpp;
                                fold_wpp <= (fold_left - fold_wpp < FOLD_WORDS) ? fold_left - fold_wpp : FOLD_WORDS;
                            end
                        end
                    end
                end
                S_DONE: begin
                    ap_done <= 1; ap_idle <= 1;
                    state <= S_IDLE;
                end
            endcase
        end
    end
endmodule
