// hwsqueeze compatibility header: unflatten(), the inverse of finn-hlslib's flatten(), which FINN+
// 1.6.1's cppsim output writer calls (templates/npy2stream/npy2apintstream.hpp: apintstream2npy
// does `ElemT buffer[N]; unflatten(buffer, packed_elem);`). finn-hlslib 0141fa8 has flatten() only.
// Used ONLY when the finn-hlslib found fails the probe in hwsqueeze.simulate.env (it then appends
// an #include of this file to the build-tree copy of flatten.hpp).
//
// Bit layout mirrors flatten(): element j occupies bits [(j+1)*W-1 : j*W] (element 0 at the LSBs).
#ifndef HWSQUEEZE_COMPAT_FLATTEN_HPP
#define HWSQUEEZE_COMPAT_FLATTEN_HPP
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <ap_int.h>
#include <hls_vector.h>

template <typename T, int M>
void hwsq_from_bits(T& dst, ap_uint<M> const& bits) {
  if constexpr (std::is_floating_point_v<T> || std::is_same_v<T, half>) {
    // a float element: reinterpret its bit image (as flatten's to_bitimage wrote it)
    uint64_t raw = bits.to_uint64();
    std::memcpy(&dst, &raw, sizeof(T));
  } else {
    dst.range(M - 1, 0) = bits;  // ap_int / ap_uint / ap_fixed: the raw bits
  }
}

template <typename T, std::size_t N, int PW>
void unflatten(T (&buffer)[N], ap_uint<PW> const& packed) {
  constexpr std::size_t W = width_v<T>;
  static_assert(N * W <= (std::size_t)PW, "packed word narrower than the elements");
  for (std::size_t j = 0; j < N; j++) {
#pragma HLS UNROLL
    hwsq_from_bits<T, (int)W>(buffer[j], ap_uint<W>(packed((j + 1) * W - 1, j * W)));
  }
}

template <typename T, std::size_t N, int PW>
void unflatten(hls::vector<T, N>& vec, ap_uint<PW> const& packed) {
  constexpr std::size_t W = width_v<T>;
  for (std::size_t j = 0; j < N; j++) {
#pragma HLS UNROLL
    hwsq_from_bits<T, (int)W>(vec[j], ap_uint<W>(packed((j + 1) * W - 1, j * W)));
  }
}
#endif
