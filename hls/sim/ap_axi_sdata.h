// ap_axi_sdata.h (zynqyolo's simulation stand-in): used by the g++ C simulation only, and only
// when the vendor's header is absent (hls4ml's ap_types ship none; zynqyolo.hls.csim adds this
// folder to the include path after checking). Vitis HLS always uses its own header.
//
// Same template signature and member names as the vendor's ap_axiu<D, U, TI, TD> (UG1399
// "AXI4-Stream Interfaces with Side-Channels"): data, keep, strb, user, last, id, dest. A side
// channel of width 0 is stored as one bit here (the vendor's header removes it); the kernels
// never read user, id or dest.
#ifndef ZYNQYOLO_SIM_AP_AXI_SDATA_H
#define ZYNQYOLO_SIM_AP_AXI_SDATA_H

#include <ap_int.h>

#include <cstddef>

template <std::size_t WData, std::size_t WUser, std::size_t WId, std::size_t WDest>
struct ap_axiu {
    static_assert(WData % 8 == 0 && WData > 0, "TDATA is a whole number of bytes");
    ap_uint<WData> data;
    ap_uint<WData / 8> keep;
    ap_uint<WData / 8> strb;
    ap_uint<(WUser > 0 ? WUser : 1)> user;
    ap_uint<1> last;
    ap_uint<(WId > 0 ? WId : 1)> id;
    ap_uint<(WDest > 0 ? WDest : 1)> dest;
};

#endif  // ZYNQYOLO_SIM_AP_AXI_SDATA_H
