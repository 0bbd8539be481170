// hwsqueeze stand-in for Vitis HLS's <hls_half.h> (C++ simulation only): the 16-bit float type
// `half`. finn-hlslib names it (interpret.hpp's Caster<half>, flatten.hpp's to_bitimage) in
// unions with int16_t, so it must be a trivial 2-byte type: GCC's _Float16 (GCC >= 12, x86-64).
// No layer of ours computes in half precision.
#ifndef HWSQUEEZE_HLS_HALF_H
#define HWSQUEEZE_HLS_HALF_H
typedef _Float16 half;
static_assert(sizeof(half) == 2, "half must be 16 bits");
#endif
