// hwsqueeze: drive one FINN+ RTL layer, verilated, through its AXI-stream ports.
//
// Built by hwsqueeze/simulate/verilator.py with a generated "hwsq_ports.h" that names the top
// class and lists the streams:
//   #define HWSQ_TOP Vhwsq_top
//   #define HWSQ_INPUTS(X)  X(0, in0_V)
//   #define HWSQ_OUTPUTS(X) X(0, out0_V)
// Files (in the working directory): in<i>.hex, one stream word per line in hex (FINN's
// npy_to_rtlsim_input packing); written: out<o>.hex likewise, and cycles.txt.
// argv[1..]: expected word count of each output, then the idle-cycle limit.
//
// Protocol: inputs are offered back to back (TVALID high while words remain), outputs always
// ready, like FINN's own rtlsim driver; a word moves on a rising edge where TVALID && TREADY.
// Exit 0 when every output has its expected words; 2 on a stall (no handshake for `idle` cycles).
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "verilated.h"
#include "hwsq_ports.h"
#define HWSQ_STR2(x) #x
#define HWSQ_STR(x) HWSQ_STR2(x)
#include HWSQ_STR(HWSQ_TOP.h)

using Word = std::vector<uint32_t>;  // little-endian 32-bit chunks

static Word parse_hex(const std::string& s) {
  Word w;
  for (int end = (int)s.size(); end > 0; end -= 8) {
    int start = end - 8 < 0 ? 0 : end - 8;
    w.push_back((uint32_t)std::stoul(s.substr(start, end - start), nullptr, 16));
  }
  return w;
}
static std::string to_hex(const Word& w) {
  std::string out;
  char buf[9];
  for (int i = (int)w.size() - 1; i >= 0; i--) {
    std::snprintf(buf, sizeof buf, "%08x", w[i]);
    out += buf;
  }
  return out;
}
// Port access for every width Verilator uses (CData..QData scalars, VlWide for > 64 bits).
template <typename T> static void set_port(T& p, const Word& w) {
  uint64_t v = w.empty() ? 0 : w[0];
  if (w.size() > 1) v |= (uint64_t)w[1] << 32;
  p = (T)v;
}
template <std::size_t N> static void set_port(VlWide<N>& p, const Word& w) {
  for (std::size_t i = 0; i < N; i++) p[i] = i < w.size() ? w[i] : 0;
}
template <typename T> static Word get_port(const T& p) {
  uint64_t v = (uint64_t)p;
  return Word{(uint32_t)v, (uint32_t)(v >> 32)};
}
template <std::size_t N> static Word get_port(const VlWide<N>& p) {
  Word w(N);
  for (std::size_t i = 0; i < N; i++) w[i] = p[i];
  return w;
}
static std::vector<Word> read_words(const std::string& path) {
  std::vector<Word> v;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line))
    if (!line.empty()) v.push_back(parse_hex(line));
  return v;
}

int main(int argc, char** argv) {
  auto ctx = std::make_unique<VerilatedContext>();
  auto top = std::make_unique<HWSQ_TOP>(ctx.get());
  std::vector<std::vector<Word>> in;
  std::vector<std::size_t> in_pos;
#define HWSQ_LOAD(i, p) in.push_back(read_words("in" #i ".hex")); in_pos.push_back(0);
  HWSQ_INPUTS(HWSQ_LOAD)
  std::vector<std::vector<Word>> out;
  std::vector<std::size_t> expect;
#define HWSQ_EXPECT(o, p) out.emplace_back(); expect.push_back(std::stoul(argv[1 + o]));
  HWSQ_OUTPUTS(HWSQ_EXPECT)
  const unsigned long idle_limit = std::stoul(argv[argc - 1]);

  top->ap_rst_n = 0;
  for (int i = 0; i < 16; i++) {
    top->ap_clk = 0; top->eval();
    top->ap_clk = 1; top->eval();
  }
  top->ap_rst_n = 1;
  unsigned long cycles = 0, idle = 0;
  auto done = [&]() {
    for (std::size_t o = 0; o < out.size(); o++)
      if (out[o].size() < expect[o]) return false;
    return true;
  };
  while (!done()) {
#define HWSQ_DRIVE(i, p)                                        \
  top->p##_TVALID = in_pos[i] < in[i].size();                  \
  if (in_pos[i] < in[i].size()) set_port(top->p##_TDATA, in[i][in_pos[i]]);
    HWSQ_INPUTS(HWSQ_DRIVE)
#define HWSQ_READY(o, p) top->p##_TREADY = 1;
    HWSQ_OUTPUTS(HWSQ_READY)
    top->ap_clk = 0;
    top->eval();
    bool moved = false;
    // Sample the handshakes before the edge that completes them.
#define HWSQ_FIRE_IN(i, p) bool fire_in##i = top->p##_TVALID && top->p##_TREADY;
    HWSQ_INPUTS(HWSQ_FIRE_IN)
#define HWSQ_FIRE_OUT(o, p) \
  if (top->p##_TVALID) { out[o].push_back(get_port(top->p##_TDATA)); moved = true; }
    HWSQ_OUTPUTS(HWSQ_FIRE_OUT)
    top->ap_clk = 1;
    top->eval();
#define HWSQ_ADVANCE(i, p) if (fire_in##i) { in_pos[i]++; moved = true; }
    HWSQ_INPUTS(HWSQ_ADVANCE)
    cycles++;
    idle = moved ? 0 : idle + 1;
    if (idle > idle_limit) {
      std::fprintf(stderr, "stall: no handshake for %lu cycles after %lu cycles\n", idle_limit, cycles);
      break;
    }
  }
  for (std::size_t o = 0; o < out.size(); o++) {
    std::ofstream f("out" + std::to_string(o) + ".hex");
    for (const Word& w : out[o]) f << to_hex(w) << "\n";
  }
  std::ofstream("cycles.txt") << cycles << "\n";
  top->final();
  return done() ? 0 : 2;
}
