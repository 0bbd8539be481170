// hwsqueeze stand-in for Vitis HLS's <hls_stream.h>, for C++ simulation (cppsim) only.
// hls::stream<T> is a FIFO of unbounded depth (HLS csim semantics). Reading an EMPTY stream is a
// design or harness bug (Vitis csim prints a warning and returns a default value, which would hide
// it behind a later mismatch); here it aborts with the stream's name so the failure is explicit.
#ifndef HWSQUEEZE_HLS_STREAM_H
#define HWSQUEEZE_HLS_STREAM_H
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>

namespace hls {
template <typename T, int DEPTH = 0>  // DEPTH: accepted for source compatibility, not enforced
class stream {
  std::deque<T> q_;
  std::string name_;

 public:
  stream() : name_("anonymous") {}
  explicit stream(const char* name) : name_(name) {}
  stream(const stream&) = delete;
  stream& operator=(const stream&) = delete;

  bool empty() const { return q_.empty(); }
  bool full() const { return false; }
  std::size_t size() const { return q_.size(); }

  T read() {
    if (q_.empty()) {
      std::fprintf(stderr, "hls::stream '%s' read while empty\n", name_.c_str());
      std::abort();
    }
    T v = q_.front();
    q_.pop_front();
    return v;
  }
  void read(T& v) { v = read(); }
  bool read_nb(T& v) {
    if (q_.empty()) return false;
    v = read();
    return true;
  }
  void write(const T& v) { q_.push_back(v); }
  bool write_nb(const T& v) { write(v); return true; }
  void operator>>(T& v) { read(v); }
  void operator<<(const T& v) { write(v); }
};
}  // namespace hls
#endif
