// SIMD helpers of the hot loops: the one vector family of every kernel in this folder.
//
// SNNLIB_CLONES compiles a function for AVX-512, AVX2 and the baseline; the loader picks one
// at load time (GCC target_clones). Vectors are GCC vector-extension types, accessed only
// through unaligned loads and stores (memcpy, one vector instruction at a constant size):
//   Simd<T, N>::Vec    N lanes of T (Simd<T, N>::Mask: the integer lanes of a shuffle mask)
//   VecOf<T, kBytes>   kBytes bytes of T (the layer kernels' accumulators, see SNNLIB_BY_WIDTH)
//   Vec16<T>::type     16 lanes: 64 bytes of floats, 128 of doubles (the matmul tiles)
//   LoadU / StoreU     a whole vector;  LoadN / StoreN  its first n lanes (the others zero)
//   Transpose16        a 16 x 16 tile held in 16 vectors of 16 lanes
//   GeBits64           the 64-bit mask (v[k] >= th) of 64 values, one compare per vector
//   GeMask512, Compress512   one compare into a mask, one compress (64-byte vectors only)
//   InRangeBits        the bit mask of the ids of a vector that lie in [lo, lo + width)
// The row gathers of the kernels must stay in registers, which plain loops did not get from
// the vectoriser.
#ifndef SNNLIB_CODELETS_SPARSE_SPIKES_SIMD_H_
#define SNNLIB_CODELETS_SPARSE_SPIKES_SIMD_H_

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <immintrin.h>  // the _CMP_* and _MM_FROUND_* constants of the AVX-512 builtins
#include <type_traits>

#define SNNLIB_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#define SNNLIB_INLINE inline __attribute__((always_inline))
#define SNNLIB_TARGET_AVX512 __attribute__((target("avx512f")))
#define SNNLIB_TARGET_AVX2 __attribute__((target("avx2")))

// SNNLIB_BY_WIDTH(NAME, IMPL, PARAMS, ARGS) defines `void NAME PARAMS` that runs
// `IMPL<kBytes> ARGS` built for AVX-512F (kBytes = 64), AVX2 (32) or the baseline (16), as this
// CPU allows. Unlike SNNLIB_CLONES, each build holds its row accumulators in vectors of its own
// native width: GCC splits a generic vector wider than the hardware's through the stack, which
// made the 64-byte accumulators of the AVX2 build load and store memory on every row.
#define SNNLIB_BY_WIDTH(NAME, IMPL, PARAMS, ARGS)                      \
  SNNLIB_TARGET_AVX512 void NAME##Avx512 PARAMS { IMPL<64> ARGS; }     \
  SNNLIB_TARGET_AVX2 void NAME##Avx2 PARAMS { IMPL<32> ARGS; }         \
  void NAME##Baseline PARAMS { IMPL<16> ARGS; }                        \
  void NAME PARAMS {                                                   \
    switch (::snnlib::VectorBytes()) {                                 \
      case 64:                                                         \
        return NAME##Avx512 ARGS;                                      \
      case 32:                                                         \
        return NAME##Avx2 ARGS;                                        \
      default:                                                         \
        return NAME##Baseline ARGS;                                    \
    }                                                                  \
  }

namespace snnlib {

// The vector width (bytes) the SNNLIB_BY_WIDTH loops run with on this CPU: 64 with AVX-512F,
// 32 with AVX2, otherwise 16; the environment variable SNNLIB_MAX_VECTOR_BYTES (16 or 32, read
// once) caps it, so that the narrower builds can be tested on a wider CPU.
inline int VectorBytes() {
  static const int bytes = [] {
    const int cpu = __builtin_cpu_supports("avx512f") ? 64
                    : __builtin_cpu_supports("avx2")  ? 32
                                                      : 16;
    const char* cap = std::getenv("SNNLIB_MAX_VECTOR_BYTES");
    if (cap == nullptr) return cpu;
    if (std::strcmp(cap, "16") == 0) return 16;
    if (std::strcmp(cap, "32") == 0) return cpu < 32 ? cpu : 32;
    return cpu;
  }();
  return bytes;
}

// The signed integer of T's width: the lane type of T's shuffle masks.
template <typename T>
struct MaskOf;
template <>
struct MaskOf<float> {
  typedef int32_t type;
};
template <>
struct MaskOf<double> {
  typedef int64_t type;
};

template <typename T, int kN>
struct Simd {
  static constexpr int kLanes = kN;
  typedef T Vec __attribute__((vector_size(sizeof(T) * kN)));
  typedef typename MaskOf<T>::type Mask __attribute__((vector_size(sizeof(T) * kN)));
};

template <typename T, int kBytes>
struct VecOf {
  typedef typename Simd<T, kBytes / sizeof(T)>::Vec type;
};

template <typename T>
struct Vec16 {
  typedef typename Simd<T, 16>::Vec type;
};

template <typename V>
SNNLIB_INLINE V LoadU(const void* p) {
  V x;
  std::memcpy(&x, p, sizeof(V));
  return x;
}

template <typename V>
SNNLIB_INLINE void StoreU(void* p, const V& x) {
  std::memcpy(p, &x, sizeof(V));
}

// The first n lanes of a V from src (0 <= n <= lanes of V); the other lanes are zero.
template <typename V, typename T>
SNNLIB_INLINE V LoadN(const T* src, int64_t n) {
  if (n * static_cast<int64_t>(sizeof(T)) == static_cast<int64_t>(sizeof(V))) {
    return LoadU<V>(src);  // constant size: one vector load
  }
  V v = {};
  std::memcpy(&v, src, n * sizeof(T));
  return v;
}

// The first n lanes of v to dst (0 <= n <= lanes of V).
template <typename V, typename T>
SNNLIB_INLINE void StoreN(T* dst, const V& v, int64_t n) {
  if (n * static_cast<int64_t>(sizeof(T)) == static_cast<int64_t>(sizeof(V))) {
    StoreU(dst, v);
  } else {
    std::memcpy(dst, &v, n * sizeof(T));
  }
}

// Lane i of the result is the sum of the lanes of x[i], for the L = lanes-of-V vectors x[0..L).
// Pairwise (even + odd) rounds, first within 128-bit groups (one in-lane shuffle each:
// vshufps / vunpck*), then across groups (128-bit chunk shuffles: vperm2f128 / vshuff32x4):
// lane-crossing two-source shuffles cost several instructions each without AVX-512. x is
// overwritten.
template <typename V>
SNNLIB_INLINE V SumLanes(V* x) {
  typedef typename std::remove_reference<decltype(x[0][0])>::type T;
  typedef typename MaskOf<T>::type Lane;
  typedef Lane M __attribute__((vector_size(sizeof(V))));
  constexpr int kL = sizeof(V) / sizeof(T);
  constexpr int kG = 16 / sizeof(T) < kL ? 16 / sizeof(T) : kL;  // lanes per 128-bit group
  constexpr int kGroups = kL / kG;
  M even, odd, chunk_even, chunk_odd;
  for (int k = 0; k < kL; ++k) {
    // In-group round: lane (g, p) = pair p of group g of x[2i] (p < kG/2) or x[2i + 1].
    const int g = k / kG, p = k % kG, src = p < kG / 2 ? 0 : kL;
    even[k] = src + g * kG + 2 * (p % (kG / 2));
    odd[k] = even[k] + 1;
    // Cross-group round: group h = group pair h of x[2i] (h < groups/2) or x[2i + 1].
    const int half = kGroups > 1 ? kGroups / 2 : 1, csrc = g < half ? 0 : kL;
    chunk_even[k] = csrc + 2 * (g % half) * kG + p;
    chunk_odd[k] = chunk_even[k] + kG;
  }
  int n = kL;
  for (int r = kG; r > 1; r /= 2, n /= 2) {
    for (int i = 0; i < n / 2; ++i) {
      x[i] = __builtin_shuffle(x[2 * i], x[2 * i + 1], even) +
             __builtin_shuffle(x[2 * i], x[2 * i + 1], odd);
    }
  }
  for (int r = kGroups; r > 1; r /= 2, n /= 2) {
    for (int i = 0; i < n / 2; ++i) {
      x[i] = __builtin_shuffle(x[2 * i], x[2 * i + 1], chunk_even) +
             __builtin_shuffle(x[2 * i], x[2 * i + 1], chunk_odd);
    }
  }
  return x[0];
}

// Lane indices of one 2-source shuffle, as four 128-bit groups of (a, b, c, d) + 4 * group.
#define SNNLIB_GROUP(g, a, b, c, d) (a) + 4 * (g), (b) + 4 * (g), (c) + 4 * (g), (d) + 4 * (g)
#define SNNLIB_GROUPS(a, b, c, d)                                                   \
  {                                                                                 \
    SNNLIB_GROUP(0, a, b, c, d), SNNLIB_GROUP(1, a, b, c, d), SNNLIB_GROUP(2, a, b, c, d), \
        SNNLIB_GROUP(3, a, b, c, d)                                                 \
  }

// out[j][r] = in[r][j] for a 16 x 16 tile: interleave pairs of rows (32-bit, then 64-bit
// elements within 128-bit groups), then transpose the 4 x 4 matrix of 128-bit groups.
template <typename T>
SNNLIB_INLINE void Transpose16(const typename Vec16<T>::type* in, typename Vec16<T>::type* out) {
  using Vec = typename Vec16<T>::type;
  using M = typename Simd<T, 16>::Mask;
  constexpr int kN = 16;
  const M lo1 = SNNLIB_GROUPS(0, 16, 1, 17), hi1 = SNNLIB_GROUPS(2, 18, 3, 19);
  const M lo2 = SNNLIB_GROUPS(0, 1, 16, 17), hi2 = SNNLIB_GROUPS(2, 3, 18, 19);
  const M g01 = {0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23};
  const M g23 = {8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31};
  const M g02 = {0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27};
  const M g13 = {4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31};
  Vec a[kN], b[kN];
  for (int k = 0; k < kN; k += 2) {
    a[k] = __builtin_shuffle(in[k], in[k + 1], lo1);
    a[k + 1] = __builtin_shuffle(in[k], in[k + 1], hi1);
  }
  for (int k = 0; k < kN; k += 4) {
    b[k] = __builtin_shuffle(a[k], a[k + 2], lo2);
    b[k + 1] = __builtin_shuffle(a[k], a[k + 2], hi2);
    b[k + 2] = __builtin_shuffle(a[k + 1], a[k + 3], lo2);
    b[k + 3] = __builtin_shuffle(a[k + 1], a[k + 3], hi2);
  }
  for (int c = 0; c < 4; ++c) {
    const Vec u0 = __builtin_shuffle(b[c], b[4 + c], g01);
    const Vec u1 = __builtin_shuffle(b[c], b[4 + c], g23);
    const Vec u2 = __builtin_shuffle(b[8 + c], b[12 + c], g01);
    const Vec u3 = __builtin_shuffle(b[8 + c], b[12 + c], g23);
    out[c] = __builtin_shuffle(u0, u2, g02);
    out[4 + c] = __builtin_shuffle(u0, u2, g13);
    out[8 + c] = __builtin_shuffle(u1, u3, g02);
    out[12 + c] = __builtin_shuffle(u1, u3, g13);
  }
}
#undef SNNLIB_GROUPS
#undef SNNLIB_GROUP

// The OR of the lanes of x, by halves (each half of a vector is a register of half the width).
template <typename Lane, typename M>
SNNLIB_INLINE Lane OrLanes(const M& x) {
  if constexpr (sizeof(M) == sizeof(Lane)) {
    Lane lane;
    std::memcpy(&lane, &x, sizeof(Lane));
    return lane;
  } else {
    typedef Lane H __attribute__((vector_size(sizeof(M) / 2)));
    H lo, hi;
    std::memcpy(&lo, &x, sizeof(H));
    std::memcpy(&hi, reinterpret_cast<const char*>(&x) + sizeof(H), sizeof(H));
    return OrLanes<Lane>(lo | hi);
  }
}

// 64-byte vectors (callers compiled for AVX-512F only): bit l of the result is
// (x[l] >= t[l]) (false for NaN), one compare into a mask register.
template <typename V>
SNNLIB_INLINE uint32_t GeMask512(const V& x, const V& t) {
  static_assert(sizeof(V) == 64, "AVX-512 vectors only");
  if constexpr (sizeof(x[0]) == 4) {
    return __builtin_ia32_cmpps512_mask(x, t, _CMP_GE_OQ, static_cast<uint16_t>(0xffff),
                                        _MM_FROUND_CUR_DIRECTION);
  } else {
    return __builtin_ia32_cmppd512_mask(x, t, _CMP_GE_OQ, static_cast<uint8_t>(0xff),
                                        _MM_FROUND_CUR_DIRECTION);
  }
}

// 64-byte vectors (AVX-512F callers only): the lanes of x set in `mask`, moved to the front in
// lane order (the other lanes zero), one in-register compress.
template <typename V>
SNNLIB_INLINE V Compress512(const V& x, uint32_t mask) {
  static_assert(sizeof(V) == 64, "AVX-512 vectors only");
  if constexpr (sizeof(x[0]) == 4) {
    return __builtin_ia32_compresssf512_mask(x, V{}, static_cast<uint16_t>(mask));
  } else {
    return __builtin_ia32_compressdf512_mask(x, V{}, static_cast<uint8_t>(mask));
  }
}

// Bit k of the result is (v[k] >= th) for the 64 values v[0 .. 64) (false for NaN): one vector
// compare per V, instead of 64 scalar compares and shifts. With 64-byte vectors each compare
// writes a mask register (GeMask512); narrower builds AND each lane with its own bit and OR
// the lanes per 32 / 64 result bits.
template <typename V, typename T>
SNNLIB_INLINE uint64_t GeBits64(const T* v, T th) {
  if constexpr (sizeof(V) == 64) {
    constexpr int kL = sizeof(V) / sizeof(T);
    const V t = V{} + th;
    uint64_t bits = 0;
    for (int c = 0; c < 64 / kL; ++c) {
      bits |= static_cast<uint64_t>(GeMask512(LoadU<V>(v + c * kL), t)) << (c * kL);
    }
    return bits;
  }
  typedef typename MaskOf<T>::type Lane;
  typedef typename std::make_unsigned<Lane>::type ULane;
  typedef Lane M __attribute__((vector_size(sizeof(V))));
  constexpr int kL = sizeof(V) / sizeof(T), kBits = 8 * sizeof(Lane), kWords = 64 / kBits;
  const V t = V{} + th;
  uint64_t bits = 0;
  for (int w = 0; w < kWords; ++w) {
    M acc = {};
    for (int c = 0; c < kBits / kL; ++c) {
      M pos;
      for (int l = 0; l < kL; ++l) pos[l] = static_cast<Lane>(ULane{1} << (c * kL + l));
      acc |= (LoadU<V>(v + w * kBits + c * kL) >= t) & pos;
    }
    bits |= static_cast<uint64_t>(static_cast<ULane>(OrLanes<Lane>(acc))) << (w * kBits);
  }
  return bits;
}

// The id vectors of InRangeBits (a vector_size typedef inside a function template is dropped).
template <int kBytes>
struct IdVec {
  typedef int32_t Signed __attribute__((vector_size(kBytes)));
  typedef uint32_t Unsigned __attribute__((vector_size(kBytes)));
  typedef float Float __attribute__((vector_size(kBytes)));
};

// Bit l of the result is (0 <= ids[l] - lo < width) for the kBytes / 4 ids ids[0 ..), one
// unsigned compare per vector (into a mask register with 64-byte vectors, else a sign-bit
// move mask), so that a scan over a list of ids visits only the bits of those in range.
template <int kBytes>
SNNLIB_INLINE uint32_t InRangeBits(const int32_t* ids, int32_t lo, uint32_t width) {
  typedef typename IdVec<kBytes>::Signed IV;
  typedef typename IdVec<kBytes>::Unsigned UV;
  typedef typename IdVec<kBytes>::Float FV;
  const IV shifted = LoadU<IV>(ids) - (IV{} + lo);
  const UV offset = __builtin_bit_cast(UV, shifted);
  const UV limit = UV{} + width;
  if constexpr (kBytes == 64) {
    return __builtin_ia32_ucmpd512_mask(shifted, __builtin_bit_cast(IV, limit),
                                        _MM_CMPINT_LT, static_cast<uint16_t>(0xffff));
  } else {
    const IV inside = offset < limit;  // all ones in the lanes in range
    const FV sign = __builtin_bit_cast(FV, inside);
    if constexpr (kBytes == 32) {
      return static_cast<uint32_t>(__builtin_ia32_movmskps256(sign));
    } else {
      static_assert(kBytes == 16, "16-, 32- or 64-byte vectors");
      return static_cast<uint32_t>(__builtin_ia32_movmskps(sign));
    }
  }
}

// 64-byte vectors (AVX-512F callers only): the lanes of the 16 int32 x set in `mask`, moved
// to the front in lane order (the other lanes zero), one in-register compress.
template <typename IV>
SNNLIB_INLINE IV CompressIds512(const IV& x, uint32_t mask) {
  static_assert(sizeof(IV) == 64 && sizeof(x[0]) == 4, "16 int32 lanes");
  return __builtin_ia32_compresssi512_mask(x, IV{}, static_cast<uint16_t>(mask));
}

}  // namespace snnlib

#endif  // SNNLIB_CODELETS_SPARSE_SPIKES_SIMD_H_
