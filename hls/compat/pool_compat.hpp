// hwsqueeze compatibility header: the pooling API FINN+ 1.6.1's Pool_hls generates,
//     MaxPoolFunction<hls::vector<T, PE>> pool_fxn;
//     Pool_batch<ISIZE, K>(in0_V, out0_V, pool_fxn);
// on top of finn-hlslib 0141fa8, whose MaxPoolFunction<T, size> works on scalars and whose
// Pool_batch<Channels, PE, TotalK, ...>(in, out, fxn, reps) takes packed words.
// Used ONLY when the finn-hlslib found fails the probe in hwsqueeze.simulate.env (it then appends
// an #include of this file to the build-tree copy of pool.hpp); a pinned finn-hlslib is used as is.
//
// Semantics (from FINN+'s pool_hls.py: ISIZE = output pixels * channel folds * K): read ISIZE
// input vectors; every K consecutive vectors (one kernel window of one channel fold, produced by
// the sliding-window generator) are reduced element-wise into one output vector.
// Only MaxPool is bridged (the only pooling SqueezeNet uses); Avg/Acc/QuantAvg are not.
#ifndef HWSQUEEZE_COMPAT_POOL_HPP
#define HWSQUEEZE_COMPAT_POOL_HPP
#include <cstddef>
#include <hls_stream.h>
#include <hls_vector.h>

// A default for the old class template's second parameter, so MaxPoolFunction<V> names it.
template <typename T, unsigned size = 0>
class MaxPoolFunction;

// Element-wise max over hls::vector; init() is the element type's minimum (0 when unsigned).
template <typename T, std::size_t N, unsigned size>
class MaxPoolFunction<hls::vector<T, N>, size> {
 public:
  using V = hls::vector<T, N>;
  V init() const {
    T lowest = 0;
    if (T(-1) < T(0)) lowest[T::width - 1] = 1;  // two's complement minimum
    return V(lowest);
  }
  V pool(V const& input, V const& accu) const {
    V r;
    for (std::size_t i = 0; i < N; i++) r[i] = input[i] > accu[i] ? input[i] : accu[i];
    return r;
  }
  V activate(V const& accu) const { return accu; }
};

template <unsigned ISIZE, unsigned K, typename TI, typename TO, typename F>
void Pool_batch(hls::stream<TI>& in, hls::stream<TO>& out, F const& fxn) {
  static_assert(K > 0 && ISIZE % K == 0, "ISIZE must be a multiple of the window size K");
  auto accu = fxn.init();
  for (unsigned i = 0; i < ISIZE; i++) {
#pragma HLS pipeline II=1 style=flp
    if (i % K == 0) accu = fxn.init();
    accu = fxn.pool(in.read(), accu);
    if (i % K == K - 1) out.write(fxn.activate(accu));
  }
}
#endif
