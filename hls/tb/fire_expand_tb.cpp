// Test bench of hls/fire_expand.hpp (g++ or vitis_hls csim; no Vitis library needed here).
//
// Shape and folding come from -D defines (FE_C, FE_KK, FE_CH1, FE_SIMD1, FE_PE1, FE_CH3, ..., (see the defaults below). Data:
//   fire_expand_tb DIR   reads DIR/{windows,w1,w3,t1,t3}.txt (whitespace-separated integers:
//                        windows [reps][FE_KK*FE_C] in FINN's SWG order (ky, kx, c); w1 [FE_CH1][FE_C];
//                        w3 [FE_CH3][FE_KK*FE_C]; t1 [FE_CH1][NTH]; t3 [FE_CH3][NTH]) and writes DIR/out.txt
//                        ([reps][FE_CH1+FE_CH3], the kernel's output) and DIR/cycles.txt;
//   fire_expand_tb       makes pseudo-random data itself.
// Either way the kernel's output is compared with a plain loop-nest computation of the two
// convolutions + thresholds (nothing shared with the kernel but the data), and its loop count with
// fire_expand_cycles(); exit status 0 only when both agree. tests/test_fire_expand_kernel.py also
// compares out.txt with an independent numpy computation.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "bnn-library.h"
#include "activations.hpp"
#include "weights.hpp"
#include "fire_expand.hpp"

#ifndef FE_C
#define FE_C 8
#endif
#ifndef FE_KK
#define FE_KK 9
#endif
#ifndef FE_CH1
#define FE_CH1 8
#endif
#ifndef FE_SIMD1
#define FE_SIMD1 2
#endif
#ifndef FE_PE1
#define FE_PE1 2
#endif
#ifndef FE_CH3
#define FE_CH3 8
#endif
#ifndef FE_SIMD3
#define FE_SIMD3 4
#endif
#ifndef FE_PE3
#define FE_PE3 2
#endif
#ifndef FE_OPE
#define FE_OPE 2
#endif
#ifndef FE_ABITS
#define FE_ABITS 4  // unsigned input elements
#endif
#ifndef FE_WBITS
#define FE_WBITS 4  // signed weights
#endif
#ifndef FE_OBITS
#define FE_OBITS 4  // unsigned outputs, 2^FE_OBITS - 1 thresholds per channel
#endif
#ifndef FE_REPS
#define FE_REPS 5
#endif
constexpr unsigned NTH = (1u << FE_OBITS) - 1;
constexpr unsigned MW3 = FE_KK * FE_C;

typedef ap_int<FE_WBITS> TW;
typedef ap_int<24> TACC;
typedef ap_uint<FE_OBITS> TOUT;

static FixedPointWeights<FE_SIMD1, TW, FE_PE1, (FE_CH1 / FE_PE1) * (FE_C / FE_SIMD1)> weights1;
static FixedPointWeights<FE_SIMD3, TW, FE_PE3, (FE_CH3 / FE_PE3) * (MW3 / FE_SIMD3)> weights3;
static ThresholdsActivation<FE_CH1 / FE_PE1, FE_PE1, NTH, TACC, TOUT, 0, comp::less_equal<TACC, TACC>> act1;
static ThresholdsActivation<FE_CH3 / FE_PE3, FE_PE3, NTH, TACC, TOUT, 0, comp::less_equal<TACC, TACC>> act3;

static std::vector<long> load(const char *dir, const char *name, size_t n) {
  char path[4096];
  std::snprintf(path, sizeof path, "%s/%s.txt", dir, name);
  FILE *f = std::fopen(path, "r");
  if (!f) { std::fprintf(stderr, "cannot open %s\n", path); std::exit(2); }
  std::vector<long> v(n);
  for (size_t i = 0; i < n; i++)
    if (std::fscanf(f, "%ld", &v[i]) != 1) { std::fprintf(stderr, "%s: expected %zu values\n", path, n); std::exit(2); }
  std::fclose(f);
  return v;
}

static std::vector<long> random_data(size_t n, long lo, long hi, unsigned &seed) {
  std::vector<long> v(n);
  for (auto &x : v) { seed = seed * 1103515245u + 12345u; x = lo + long((seed >> 8) % unsigned(hi - lo + 1)); }
  return v;
}

// finn-hlslib layout: m_weights[pe][nf * SF + sf] holds W[nf * PE + pe][sf * SIMD + i] at bits i*FE_WBITS
template <unsigned SIMD, unsigned PE, typename TWS>
static void pack_weights(TWS &dst, const std::vector<long> &w, unsigned rows, unsigned cols) {
  for (unsigned o = 0; o < rows; o++)
    for (unsigned k = 0; k < cols; k++) {
      unsigned const pe = o % PE, nf = o / PE, sf = k / SIMD, i = k % SIMD;
      dst.m_weights[pe][nf * (cols / SIMD) + sf]((i + 1) * FE_WBITS - 1, i * FE_WBITS) = ap_int<FE_WBITS>(w[o * cols + k]);
    }
}

template <unsigned PE, typename TAS>
static void pack_thresholds(TAS &dst, const std::vector<long> &t, unsigned rows) {
  for (unsigned o = 0; o < rows; o++)
    for (unsigned j = 0; j < NTH; j++) dst.m_thresholds[o % PE][o / PE][j] = TACC(t[o * NTH + j]);
}

// plain loop nest: out[p][o] = #{ j : thr[o][j] <= sum_k w[o][k] * x[p][k] }
static long golden(const std::vector<long> &x, size_t x0, const std::vector<long> &w, const std::vector<long> &t,
                   unsigned o, unsigned cols) {
  long acc = 0;
  for (unsigned k = 0; k < cols; k++) acc += w[o * cols + k] * x[x0 + k];
  long n = 0;
  for (unsigned j = 0; j < NTH; j++) n += t[o * NTH + j] <= acc;
  return n;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : nullptr;
  unsigned seed = 1;
  long const amax = (1l << FE_ABITS) - 1, wlo = -(1l << (FE_WBITS - 1)), whi = (1l << (FE_WBITS - 1)) - 1;
  auto x = dir ? load(dir, "windows", size_t(FE_REPS) * MW3) : random_data(size_t(FE_REPS) * MW3, 0, amax, seed);
  auto w1 = dir ? load(dir, "w1", FE_CH1 * FE_C) : random_data(FE_CH1 * FE_C, wlo, whi, seed);
  auto w3 = dir ? load(dir, "w3", FE_CH3 * MW3) : random_data(FE_CH3 * MW3, wlo, whi, seed);
  auto t1 = dir ? load(dir, "t1", FE_CH1 * NTH) : random_data(FE_CH1 * NTH, -40, 40, seed);
  auto t3 = dir ? load(dir, "t3", FE_CH3 * NTH) : random_data(FE_CH3 * NTH, -120, 120, seed);
  if (!dir) {  // thresholds must be ascending
    for (unsigned o = 0; o < FE_CH1; o++) std::sort(t1.begin() + o * NTH, t1.begin() + (o + 1) * NTH);
    for (unsigned o = 0; o < FE_CH3; o++) std::sort(t3.begin() + o * NTH, t3.begin() + (o + 1) * NTH);
  }
  pack_weights<FE_SIMD1, FE_PE1>(weights1, w1, FE_CH1, FE_C);
  pack_weights<FE_SIMD3, FE_PE3>(weights3, w3, FE_CH3, MW3);
  pack_thresholds<FE_PE1>(act1, t1, FE_CH1);
  pack_thresholds<FE_PE3>(act3, t3, FE_CH3);

  hls::stream<ap_uint<FE_SIMD3 * FE_ABITS>> in("in");
  hls::stream<ap_uint<FE_OPE * FE_OBITS>> out("out");
  for (unsigned p = 0; p < FE_REPS; p++)
    for (unsigned s = 0; s < MW3 / FE_SIMD3; s++) {
      ap_uint<FE_SIMD3 * FE_ABITS> word = 0;
      for (unsigned i = 0; i < FE_SIMD3; i++) word((i + 1) * FE_ABITS - 1, i * FE_ABITS) = x[p * MW3 + s * FE_SIMD3 + i];
      in.write(word);
    }
  unsigned long const cycles =
      FireExpand_Batch<FE_C, FE_KK, FE_CH1, FE_SIMD1, FE_PE1, FE_CH3, FE_SIMD3, FE_PE3, FE_OPE, Slice<ap_uint<FE_ABITS>>, Slice<ap_uint<FE_OBITS>>,
                       Identity>(in, out, weights1, act1, weights3, act3, FE_REPS, ap_resource_lut(),
                                             ap_resource_dsp());

  int bad = 0;
  std::vector<long> got;
  for (unsigned p = 0; p < FE_REPS; p++)
    for (unsigned e = 0; e < (FE_CH1 + FE_CH3) / FE_OPE; e++) {
      if (out.empty()) { std::fprintf(stderr, "output stream short at pixel %u word %u\n", p, e); return 1; }
      ap_uint<FE_OPE * FE_OBITS> word = out.read();
      for (unsigned i = 0; i < FE_OPE; i++) {
        unsigned const ch = e * FE_OPE + i;
        long const v = word((i + 1) * FE_OBITS - 1, i * FE_OBITS).to_ulong();
        long const want = ch < FE_CH1 ? golden(x, p * MW3 + (FE_KK / 2) * FE_C, w1, t1, ch, FE_C)
                                   : golden(x, p * MW3, w3, t3, ch - FE_CH1, MW3);
        if (v != want && bad++ < 5) std::fprintf(stderr, "pixel %u channel %u: kernel %ld, loop nest %ld\n", p, ch, v, want);
        got.push_back(v);
      }
    }
  if (!in.empty() || !out.empty()) { std::fprintf(stderr, "streams not drained\n"); return 1; }
  unsigned long const model = fire_expand_cycles(FE_C, FE_KK, FE_CH1, FE_SIMD1, FE_PE1, FE_CH3, FE_SIMD3, FE_PE3, FE_OPE, FE_REPS);
  if (cycles != model) { std::fprintf(stderr, "cycles %lu, fire_expand_cycles %lu\n", cycles, model); bad++; }
  if (dir) {
    char path[4096];
    std::snprintf(path, sizeof path, "%s/out.txt", dir);
    FILE *f = std::fopen(path, "w");
    for (size_t i = 0; i < got.size(); i++) std::fprintf(f, "%ld%c", got[i], (i + 1) % (FE_CH1 + FE_CH3) ? ' ' : '\n');
    std::fclose(f);
    std::snprintf(path, sizeof path, "%s/cycles.txt", dir);
    f = std::fopen(path, "w");
    std::fprintf(f, "%lu\n", cycles);
    std::fclose(f);
  }
  std::printf("fire_expand C=%d KK=%d 1x1 %d/%d/%d 3x3 %d/%d/%d OPE=%d reps=%d: %s, %lu cycles\n", FE_C, FE_KK, FE_CH1,
              FE_SIMD1, FE_PE1, FE_CH3, FE_SIMD3, FE_PE3, FE_OPE, FE_REPS, bad ? "MISMATCH" : "ok", cycles);
  return bad ? 1 : 0;
}
