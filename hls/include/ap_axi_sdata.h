// hwsqueeze stand-in for Vitis HLS's <ap_axi_sdata.h> (C++ simulation only): the AXI-stream side
// channel structs. finn-hlslib's streamtools.h and FINN+'s IODMA templates include it; fields as they use them.
#ifndef HWSQUEEZE_AP_AXI_SDATA_H
#define HWSQUEEZE_AP_AXI_SDATA_H
#include <ap_int.h>

template <int D, int U, int TI, int TD>
struct ap_axiu {
  ap_uint<D> data;
  ap_uint<(D + 7) / 8> keep;
  ap_uint<(D + 7) / 8> strb;
  ap_uint<U == 0 ? 1 : U> user;
  ap_uint<1> last;
  ap_uint<TI == 0 ? 1 : TI> id;
  ap_uint<TD == 0 ? 1 : TD> dest;
};
template <int D, int U, int TI, int TD>
struct ap_axis {
  ap_int<D> data;
  ap_uint<(D + 7) / 8> keep;
  ap_uint<(D + 7) / 8> strb;
  ap_uint<U == 0 ? 1 : U> user;
  ap_uint<1> last;
  ap_uint<TI == 0 ? 1 : TI> id;
  ap_uint<TD == 0 ? 1 : TD> dest;
};
// QDMA stream word (finn-hlslib's streamtools.h declares Qdma2Stream_Batch with it; not used by
// the layers we simulate, but it must compile): data/keep/last behind accessors.
template <int D, int U, int TI, int TD>
class qdma_axis {
 public:
  ap_uint<D> data;
  ap_uint<(D + 7) / 8> keep;
  ap_uint<1> last;
  ap_uint<D> get_data() const { return data; }
  ap_uint<(D + 7) / 8> get_keep() const { return keep; }
  ap_uint<1> get_last() const { return last; }
  void set_data(const ap_uint<D>& d) { data = d; }
  void set_keep(const ap_uint<(D + 7) / 8>& k) { keep = k; }
  void set_last(const ap_uint<1>& l) { last = l; }
};
#endif
