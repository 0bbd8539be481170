// hwsqueeze stand-in for Vitis HLS's <hls_vector.h>, for C++ simulation only: a fixed-size array
// with the element access, comparison and element-wise arithmetic that finn-hlslib and FINN+'s
// templates (npy2vectorstream.hpp, StreamingConcat, Pool, MVAU "hls_vector" interfaces) use.
#ifndef HWSQUEEZE_HLS_VECTOR_H
#define HWSQUEEZE_HLS_VECTOR_H
#include <array>
#include <cstddef>
#include <initializer_list>

namespace hls {
template <typename T, std::size_t N>
class vector {
  std::array<T, N> d_{};

 public:
  using value_type = T;
  static constexpr std::size_t size() { return N; }
  vector() = default;
  vector(const T& v) { d_.fill(v); }  // Vitis broadcasts a scalar to every element
  vector(std::initializer_list<T> l) {
    std::size_t i = 0;
    for (const T& v : l) if (i < N) d_[i++] = v;
  }
  T& operator[](std::size_t i) { return d_[i]; }
  const T& operator[](std::size_t i) const { return d_[i]; }
  T* begin() { return d_.data(); }
  T* end() { return d_.data() + N; }
  const T* begin() const { return d_.data(); }
  const T* end() const { return d_.data() + N; }
  bool operator==(const vector& o) const {
    for (std::size_t i = 0; i < N; i++) if (!(d_[i] == o.d_[i])) return false;
    return true;
  }
  bool operator!=(const vector& o) const { return !(*this == o); }
#define HWSQ_VEC_OP(op)                                                      \
  vector& operator op##=(const vector& o) {                                  \
    for (std::size_t i = 0; i < N; i++) d_[i] op## = o.d_[i];                \
    return *this;                                                            \
  }                                                                          \
  friend vector operator op(vector a, const vector& b) { return a op## = b; }
  HWSQ_VEC_OP(+)
  HWSQ_VEC_OP(-)
  HWSQ_VEC_OP(*)
#undef HWSQ_VEC_OP
};
}  // namespace hls
#endif
