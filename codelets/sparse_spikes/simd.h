// SIMD helpers of the hot loops, shared by the kernels of this family.
//
// SNNLIB_CLONES compiles a function for AVX-512, AVX2 and the baseline; the loader picks one
// at load time (GCC target_clones). Vec64 / LoadU / StoreU are 64-byte vectors (16 floats /
// 8 doubles) through GCC's vector extension with unaligned loads and stores.
#ifndef SNNLIB_CODELETS_SPARSE_SPIKES_SIMD_H_
#define SNNLIB_CODELETS_SPARSE_SPIKES_SIMD_H_

#include <cstring>

#define SNNLIB_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

namespace snnlib {

// The row gathers of the layer kernels must stay in registers, which plain loops did not get
// from the vectoriser.
template <typename T>
struct Vec64;
template <>
struct Vec64<float> {
  typedef float type __attribute__((vector_size(64)));
};
template <>
struct Vec64<double> {
  typedef double type __attribute__((vector_size(64)));
};

template <typename V>
inline __attribute__((always_inline)) V LoadU(const void* p) {
  V x;
  std::memcpy(&x, p, sizeof(V));
  return x;
}

template <typename V>
inline __attribute__((always_inline)) void StoreU(void* p, const V& x) {
  std::memcpy(p, &x, sizeof(V));
}

}  // namespace snnlib

#endif  // SNNLIB_CODELETS_SPARSE_SPIKES_SIMD_H_
