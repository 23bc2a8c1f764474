// yolo_accel.cpp: the synthesis top. Thin by design: interface pragmas and register plumbing;
// the datapath is zy::accel (hls/include/zy_accel.h).
//
// Interfaces
// - in  : AXI4-Stream from AXI DMA 0 MM2S (feature-map words).
// - wts : AXI4-Stream from AXI DMA 1 MM2S (parameter words: preamble, then weight blocks).
// - out : AXI4-Stream to AXI DMA 0 S2MM; TLAST on the call's final word.
// - AXI-Lite "control": one register per field of HwConfig.register_fields(), named after it
//   (PYNQ's register_map sets them by name), plus ap_ctrl (start/done) on the return port.
// Every register is an argument so the generated header fixes its width; the signature is
// written out here because HLS interface pragmas name ports literally. The static_assert below
// fails when HwConfig.register_fields() changes, so this list cannot silently fall behind.
#include "yolo_accel.h"

#include "zy_accel.h"

static_assert(zy::REGISTER_FIELD_COUNT == 17,
              "HwConfig.register_fields() changed: update the register arguments of yolo_accel");

void yolo_accel(hls::stream<axis_word>& in, hls::stream<axis_word>& wts, hls::stream<axis_word>& out,
                zy::reg_conv_enable_t conv_enable, zy::reg_leaky_t leaky, zy::reg_ksize_t ksize,
                zy::reg_stage3_t stage3, zy::reg_pool_stride_t pool_stride, zy::reg_height_t height,
                zy::reg_width_t width, zy::reg_in_channels_a_t in_channels_a, zy::reg_in_channels_b_t in_channels_b,
                zy::reg_out_channels_t out_channels, zy::reg_out_folds_t out_folds, zy::reg_bands_t bands,
                zy::reg_band_rows_t band_rows, zy::reg_yolo_period_t yolo_period, zy::reg_yolo_shift_t yolo_shift,
                zy::reg_winograd_t winograd, zy::reg_out_group_t out_group) {
#pragma HLS INTERFACE axis port=in
#pragma HLS INTERFACE axis port=wts
#pragma HLS INTERFACE axis port=out
#pragma HLS INTERFACE s_axilite port=conv_enable bundle=control
#pragma HLS INTERFACE s_axilite port=leaky bundle=control
#pragma HLS INTERFACE s_axilite port=ksize bundle=control
#pragma HLS INTERFACE s_axilite port=stage3 bundle=control
#pragma HLS INTERFACE s_axilite port=pool_stride bundle=control
#pragma HLS INTERFACE s_axilite port=height bundle=control
#pragma HLS INTERFACE s_axilite port=width bundle=control
#pragma HLS INTERFACE s_axilite port=in_channels_a bundle=control
#pragma HLS INTERFACE s_axilite port=in_channels_b bundle=control
#pragma HLS INTERFACE s_axilite port=out_channels bundle=control
#pragma HLS INTERFACE s_axilite port=out_folds bundle=control
#pragma HLS INTERFACE s_axilite port=bands bundle=control
#pragma HLS INTERFACE s_axilite port=band_rows bundle=control
#pragma HLS INTERFACE s_axilite port=yolo_period bundle=control
#pragma HLS INTERFACE s_axilite port=yolo_shift bundle=control
#pragma HLS INTERFACE s_axilite port=winograd bundle=control
#pragma HLS INTERFACE s_axilite port=out_group bundle=control
#pragma HLS INTERFACE s_axilite port=return bundle=control
    zy::registers r;
    r.conv_enable = conv_enable;
    r.leaky = leaky;
    r.ksize = ksize;
    r.stage3 = stage3;
    r.pool_stride = pool_stride;
    r.height = height;
    r.width = width;
    r.in_channels_a = in_channels_a;
    r.in_channels_b = in_channels_b;
    r.out_channels = out_channels;
    r.out_folds = out_folds;
    r.bands = bands;
    r.band_rows = band_rows;
    r.yolo_period = yolo_period;
    r.yolo_shift = yolo_shift;
    r.winograd = winograd;
    r.out_group = out_group;
    zy::accel<zy::config>(in, wts, out, r);
}
