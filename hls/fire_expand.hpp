/******************************************************************************
 * hwsqueeze: fused Fire-module expand kernel (finn-hlslib style).
 *
 * One function replaces FINN's  DuplicateStreams -> (expand 1x1 MVAU) ||
 * (expand 3x3 MVAU) -> StreamingConcat  fork/join of a Fire module.  It reads
 * the 3x3 sliding windows of the squeeze output (the stream FINN's
 * ConvolutionInputGenerator produces for the 3x3 expand MVAU) and writes, per
 * output pixel, the concatenated [expand 1x1 | expand 3x3] channels with
 * their thresholds applied:
 *   - the 3x3 part is a Matrix_Vector_Activate over the whole window
 *     (MW = KK * C, its own PE3 / SIMD3; SIMD3 is the input word width);
 *   - the 1x1 part is a Matrix_Vector_Activate over the window's centre tap
 *     only (MW = C, its own PE1 / SIMD1), which is captured while the 3x3
 *     part streams past it: the 1x1 expand *is* the centre tap of the window.
 *
 * Weight / threshold layout is finn-hlslib's (weights.hpp, activations.hpp),
 * exactly what FINN+ writes for an MVAU with mem_mode internal_embedded:
 *   weights.m_weights[pe][nf * SF + sf]   (SIMD weights packed, element i at
 *                                           bits [i*W, (i+1)*W))
 *   act.m_thresholds[pe][nf][t]           (ThresholdsActivation)
 * for output channel nf * PE + pe and input elements sf * SIMD + i; the 3x3
 * matrix rows are ordered (ky, kx, c) like FINN's SWG output.
 *
 * Schedule (one pipelined loop, one step per cycle, II = 1 in HLS): for each
 * pixel, cycle t runs
 *   - the 3x3 step t             while t < T3 = NF3 * SF3 (reads the input on
 *                                its first neuron fold, like the MVAU),
 *   - the 1x1 step t - O         while O <= t < O + T1, O = ceil((KK/2 + 1) * C /
 *                                SIMD3) = the cycle after the centre tap has streamed
 *                                in (SIMD3 need only divide KK * C), T1 = NF1 * SF1,
 *   - output word t of the PREVIOUS pixel while t < E = (CH1 + CH3) / OPE
 *                                (double-buffered output, so emission overlaps
 *                                compute),
 * so a pixel takes L = max(T3, O + T1, E) cycles and a batch of N pixels
 * reps * L + E cycles (the last pixel's output drains after the loop).
 * fire_expand_cycles() below is that formula; the C++ test bench checks the
 * loop count against it.
 ******************************************************************************/
#ifndef HWSQUEEZE_FIRE_EXPAND_HPP
#define HWSQUEEZE_FIRE_EXPAND_HPP

#include <hls_stream.h>
#include <ap_int.h>

#include "interpret.hpp"
#include "mac.hpp"

constexpr unsigned long fire_expand_max(unsigned long a, unsigned long b) { return a > b ? a : b; }

/** Cycles of FireExpand_Batch for `reps` output pixels (see the schedule above). */
constexpr unsigned long fire_expand_cycles(unsigned C, unsigned KK, unsigned CH1, unsigned SIMD1, unsigned PE1,
                                           unsigned CH3, unsigned SIMD3, unsigned PE3, unsigned OPE,
                                           unsigned long reps) {
  return reps * fire_expand_max(fire_expand_max((CH3 / PE3) * (KK * C / SIMD3),
                                                ((KK / 2 + 1) * C + SIMD3 - 1) / SIMD3 + (CH1 / PE1) * (C / SIMD1)),
                                (CH1 + CH3) / OPE) +
         (CH1 + CH3) / OPE;
}

/** One MVAU step (finn-hlslib's Matrix_Vector_Activate loop body) of either part: tile `tile`
 *  = neuron fold `nf`, synapse fold `sf`; thresholded results go to `dst[nf * PE + pe]`. */
template<unsigned PE, unsigned SIMD, typename TSrcI, typename TWeightI, typename TAcc, typename TW, typename TA,
         typename TIn, typename R, typename TOut>
inline void fire_expand_step(TAcc (&accu)[PE], TW const &weights, TA const &act, TIn const &inElem, unsigned tile,
                             unsigned nf, unsigned sf, unsigned SF, R const &r, TOut *dst) {
#pragma HLS inline
  if (sf == 0) {
    for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
      accu[pe] = act.init(nf, pe);
    }
  }
  auto const &w = weights.weights(tile);
  for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
    auto const wgt = TWeightI()(w[pe]);
    auto const a = TSrcI()(inElem, 0);
    accu[pe] = mac<SIMD>(accu[pe], wgt, a, r, 0);
  }
  if (sf == SF - 1) {
    for (unsigned pe = 0; pe < PE; pe++) {
#pragma HLS UNROLL
      dst[nf * PE + pe] = act.activate(nf, pe, accu[pe]);
    }
  }
}

/**
 * \tparam C      channels of the squeeze output (per window position)
 * \tparam KK     window positions (K*K; the centre tap is position KK/2)
 * \tparam CH1, SIMD1, PE1   expand 1x1: output channels and folding
 * \tparam CH3, SIMD3, PE3   expand 3x3: output channels and folding; SIMD3
 *                channels arrive per input word
 * \tparam OPE    output channels per output word
 * \tparam TSrcI  input element interpretation (FINN: Slice<ap_uint<A>>)
 * \tparam TDstI  output element interpretation (FINN: Slice<ap_uint<B>>)
 * \tparam TWeightI weight interpretation (FINN: Identity)
 * \param  in     KK * C / SIMD3 words per output pixel, ap_uint<SIMD3 * A>
 * \param  out    (CH1 + CH3) / OPE words per output pixel, ap_uint<OPE * B>
 * \param  reps   number of output pixels (FINN's numReps)
 * \param  r1, r3 multiplier resource of each part (ap_resource_lut() / _dsp())
 */
template<unsigned C, unsigned KK, unsigned CH1, unsigned SIMD1, unsigned PE1, unsigned CH3, unsigned SIMD3,
         unsigned PE3, unsigned OPE, typename TSrcI, typename TDstI, typename TWeightI, typename TI, typename TO,
         typename TW1, typename TA1, typename TW3, typename TA3, typename R1, typename R3>
unsigned long FireExpand_Batch(hls::stream<TI> &in, hls::stream<TO> &out, TW1 const &weights1, TA1 const &act1,
                               TW3 const &weights3, TA3 const &act3, unsigned const reps, R1 const &r1,
                               R3 const &r3) {
  static_assert((KK * C) % SIMD3 == 0 && C % SIMD1 == 0, "SIMD3 must divide the window, SIMD1 the squeeze channels");
  static_assert(CH1 % PE1 == 0 && CH3 % PE3 == 0, "PE1 / PE3 must divide their expand channels");
  static_assert(CH1 % OPE == 0 && CH3 % OPE == 0, "OPE must divide both expand channel counts");
  static_assert(KK % 2 == 1, "the window needs a centre tap (odd K*K)");
  constexpr unsigned A = TSrcI::width;  // input element bits
  constexpr unsigned B = TDstI::width;  // output element bits
  constexpr unsigned SF3 = KK * C / SIMD3, NF3 = CH3 / PE3, T3 = NF3 * SF3;
  constexpr unsigned SF1 = C / SIMD1, NF1 = CH1 / PE1, T1 = NF1 * SF1;
  constexpr unsigned KC0 = (KK / 2) * C;          // first window element of the centre tap
  constexpr unsigned CW0 = KC0 / SIMD3;           // first input word holding part of it
  constexpr unsigned O = (KC0 + C + SIMD3 - 1) / SIMD3;  // first cycle with the whole centre tap captured
  constexpr unsigned E = (CH1 + CH3) / OPE;       // output words per pixel
  constexpr unsigned L0 = T3 > O + T1 ? T3 : O + T1;
  constexpr unsigned L = L0 > E ? L0 : E;         // cycles per pixel

  TI inputBuf[SF3];
#pragma HLS ARRAY_PARTITION variable=inputBuf complete dim=0
  ap_uint<C * A> centre = 0;  // the window's centre tap, channel c at bits [c*A, (c+1)*A)
  ap_uint<B> obuf[2][CH1 + CH3];  // ping-pong: pixel p computes into obuf[p & 1]
#pragma HLS ARRAY_PARTITION variable=obuf cyclic factor=OPE dim=2
  decltype(act3.init(0, 0)) accu3[PE3];
  decltype(act1.init(0, 0)) accu1[PE1];
#pragma HLS ARRAY_PARTITION variable=accu3 complete dim=0
#pragma HLS ARRAY_PARTITION variable=accu1 complete dim=0

  unsigned long cycles = 0;
  unsigned cur = 0;
  for (unsigned pix = 0; pix <= reps; pix++) {
    bool const compute = pix < reps;
    unsigned const steps = compute ? L : E;  // after the last pixel only its output drains
    for (unsigned t = 0; t < steps; t++) {
#pragma HLS pipeline II=1
      cycles++;
      if (compute && t < T3) {  // ---- expand 3x3 over the whole window
        unsigned const nf = t / SF3, sf = t % SF3;
        TI inElem;
        if (nf == 0) {
          inElem = in.read();
          inputBuf[sf] = inElem;
          if (sf >= CW0 && sf < O) {  // the centre tap streams past: keep it for the 1x1 part
            for (unsigned i = 0; i < SIMD3; i++) {
#pragma HLS UNROLL
              unsigned const k = sf * SIMD3 + i;  // window element; words may straddle the tap's ends
              if (k >= KC0 && k < KC0 + C) centre((k - KC0 + 1) * A - 1, (k - KC0) * A) = inElem((i + 1) * A - 1, i * A);
            }
          }
        } else {
          inElem = inputBuf[sf];
        }
        fire_expand_step<PE3, SIMD3, TSrcI, TWeightI>(accu3, weights3, act3, inElem, t, nf, sf, SF3, r3,
                                                      &obuf[cur][CH1]);
      }
      if (compute && t >= O && t < O + T1) {  // ---- expand 1x1 over the centre tap
        unsigned const u = t - O, nf = u / SF1, sf = u % SF1;
        ap_uint<SIMD1 * A> const inElem = centre((sf + 1) * SIMD1 * A - 1, sf * SIMD1 * A);
        fire_expand_step<PE1, SIMD1, TSrcI, TWeightI>(accu1, weights1, act1, inElem, u, nf, sf, SF1, r1, &obuf[cur][0]);
      }
      if (pix > 0 && t < E) {  // ---- previous pixel's [1x1 | 3x3] output, OPE channels a word
        auto outElem = TDstI().template operator()<TO>();
        for (unsigned i = 0; i < OPE; i++) {
#pragma HLS UNROLL
          outElem(i, 0, 1) = obuf[cur ^ 1][t * OPE + i];
        }
        out.write(outElem);
      }
    }
    cur ^= 1;
  }
  return cycles;
}

#endif
