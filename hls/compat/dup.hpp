// hwsqueeze compatibility header: StreamingDup, the stream-duplication function that FINN+ 1.6.1's
// DuplicateStreams_hls calls (`#include "dup.hpp"`, `StreamingDup(in0_V, out0_V, out1_V, ...)`).
// finn-hlslib 0141fa8 (the copy reachable here) predates it. Used ONLY when the finn-hlslib found
// has no dup.hpp; hwsqueeze.simulate.env then places this file into the build-tree copy of
// finn-hlslib (never into a user's pinned checkout).
//
// Semantics: one token per call. FINN+ simulates this layer with its "timeout" cppsim template,
// which calls the function repeatedly until no new output appears, so a call on an empty input must
// do nothing (the hardware version is free-running with ap_ctrl_none, one token per cycle).
#ifndef HWSQUEEZE_COMPAT_DUP_HPP
#define HWSQUEEZE_COMPAT_DUP_HPP
#include <hls_stream.h>

template <typename T, typename... TO>
void StreamingDup(hls::stream<T>& in, hls::stream<TO>&... out) {
#pragma HLS pipeline II=1 style=flp
  T x;
  if (!in.read_nb(x)) return;
  (out.write(x), ...);
}
#endif
