// yolo_accel.h: declaration of the synthesis top (yolo_accel.cpp) for the csim bridge.
#ifndef YOLO_ACCEL_H
#define YOLO_ACCEL_H

#include "zy_common.h"

typedef zy::axis_word_t<zy::config> axis_word;

#define ZY_TOP_REGISTER_PARAM(name, width, is_signed) , zy::reg_##name##_t name
void yolo_accel(hls::stream<axis_word>& in, hls::stream<axis_word>& wts,
                hls::stream<axis_word>& out ZY_REGISTER_FIELDS(ZY_TOP_REGISTER_PARAM));
#undef ZY_TOP_REGISTER_PARAM

#endif  // YOLO_ACCEL_H
