// hwsqueeze: <ap_int.h> as Vitis HLS provides it = the arbitrary-precision integers (from the
// hls4ml wheel, linked into the stand-in root as ap_types/) plus the `half` type, which Vitis's
// ap_int.h brings in (_AP_ENABLE_HALF_) and hls4ml's copy leaves out; finn-hlslib relies on it.
#ifndef HWSQUEEZE_AP_INT_WRAPPER_H
#define HWSQUEEZE_AP_INT_WRAPPER_H
#include "ap_types/ap_int.h"
#include <hls_half.h>
#endif
