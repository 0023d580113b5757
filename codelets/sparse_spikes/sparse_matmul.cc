// SnnlibSparseMatmul / SnnlibSparseMatmulGrad: dense weights times binary sparse spikes.
//
// Forward, weights W [out, in], spikes (ids [B, S], counts [B, 2]):
//   y[b, n] = sum_{i < counts[b, 0]} W[n, ids[b, i]]
// Backward, with g = dL/dy [B, out]:
//   dW[n, ids[b, i]] += g[b, n]                          for i < counts[b, 0]   (real spikes)
//   g_values[b, i]    = sum_n g[b, n] W[n, ids[b, i]]    for i < counts[b, 1], else 0
// The `values` input carries no data in the forward pass; it connects the slot gradient.
//
// Layout: W stays (out, in) (no per-call transpose of the whole matrix). Work is split over
// tiles of output rows, so each thread streams its own rows of W (and writes its rows of dW)
// once; the slot gradient is accumulated per block of tiles and reduced at the end.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "common.h"
#include "tensorflow/core/framework/op.h"

namespace snnlib {
namespace {

using ::tensorflow::DEVICE_CPU;
using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::TensorShape;

REGISTER_OP("SnnlibSparseMatmul")
    .Input("weights: T")
    .Input("ids: int32")
    .Input("counts: int32")
    .Input("values: T")
    .Attr("T: {float, double}")
    .Output("y: T")
    .SetShapeFn([](InferenceContext* c) -> absl::Status {
      const char* op = "SnnlibSparseMatmul";
      ShapeHandle w, values;
      absl::Status s = c->WithRank(c->input(0), 2, &w);
      if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(op, ": weights must be rank 2 (out, in): ", s.message()));
      DimensionHandle batch, cap;
      TF_RETURN_IF_ERROR(SparseShapes(c, 1, 2, op, &batch, &cap));
      s = c->WithRank(c->input(3), 2, &values);
      if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(op, ": values must be rank 2: ", s.message()));
      TF_RETURN_IF_ERROR(MergeBatch(c, c->Dim(values, 0), batch, op, "values", "ids", &batch));
      c->set_output(0, c->Matrix(batch, c->Dim(w, 0)));
      return absl::OkStatus();
    })
    .Doc("y[b, n] = sum over the first counts[b, 0] slots of weights[n, ids[b, i]].");

REGISTER_OP("SnnlibSparseMatmulGrad")
    .Input("weights: T")
    .Input("ids: int32")
    .Input("counts: int32")
    .Input("grad_y: T")
    .Attr("T: {float, double}")
    .Output("grad_weights: T")
    .Output("grad_values: T")
    .SetShapeFn([](InferenceContext* c) -> absl::Status {
      const char* op = "SnnlibSparseMatmulGrad";
      ShapeHandle w, g;
      absl::Status s = c->WithRank(c->input(0), 2, &w);
      if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(op, ": weights must be rank 2 (out, in): ", s.message()));
      DimensionHandle batch, cap, out;
      TF_RETURN_IF_ERROR(SparseShapes(c, 1, 2, op, &batch, &cap));
      s = c->WithRank(c->input(3), 2, &g);
      if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(op, ": grad_y must be rank 2: ", s.message()));
      TF_RETURN_IF_ERROR(MergeBatch(c, c->Dim(g, 0), batch, op, "grad_y", "ids", &batch));
      if (!c->Merge(c->Dim(g, 1), c->Dim(w, 0), &out).ok()) {
        return absl::InvalidArgumentError(absl::StrCat(op, ": grad_y must have shape [batch, out] with out = weights.shape[0] = ",
                                                       c->Value(c->Dim(w, 0)), "; got ", c->Value(c->Dim(g, 1))));
      }
      c->set_output(0, w);
      c->set_output(1, c->Matrix(batch, cap));
      return absl::OkStatus();
    })
    .Doc("Gradients of SnnlibSparseMatmul w.r.t. weights and the slot values.");

// Common checks of weights, ids, counts and a [B, *] companion tensor.
inline absl::Status CheckMatmulInputs(const Tensor& w, const Tensor& ids, const Tensor& counts,
                                      const char* op) {
  absl::Status s = CheckMatrix(w, op, "weights");
  if (!s.ok()) return s;
  return CheckSparse(ids, counts, w.dim_size(1), op, "in (weights.shape[1])");
}

// --- kernels --------------------------------------------------------------------------------
//
// Output rows are processed in tiles of kLanes rows. A tile of W is transposed into
// tile[j] = (W[n0, j], ..., W[n0 + kLanes - 1, j]), one SIMD vector per input neuron j
// (only for the columns some spike uses). Then every spike is one vector add:
//   forward   acc_b            += tile[ids[b, i]]                    -> y[b, n0 : n0 + kLanes]
//   backward  dtile[ids[b, i]] += g[b, n0 : n0 + kLanes]            -> dW rows (transposed back)
//             pv[b, i]         += g[b, n0 : n0 + kLanes] * tile[ids[b, i]]   (lane-summed later)
// The hot loops are compiled for AVX-512, AVX2 and the baseline ISA (picked at load time).
constexpr int kLanes = 16;

template <typename T>
struct Lanes {
  typedef T Vec __attribute__((vector_size(sizeof(T) * kLanes)));
};

// Per-thread scratch memory for the tile buffers, reused across calls (no allocation, page
// faults or zero-filling per call). Aligned to 128 bytes: alignof(Vec) depends on the ISA a
// clone is compiled for (16 for the baseline, 64 for AVX-512), and AVX-512 uses aligned moves.
// Each block of tiles runs start-to-end on one thread, so a thread's scratch has one user.
class Scratch {
 public:
  static constexpr size_t kAlign = 128;
  ~Scratch() { std::free(data_); }
  // At least `bytes` bytes; the contents are unspecified.
  void* Get(size_t bytes) {
    bytes = (bytes + kAlign - 1) / kAlign * kAlign;
    if (bytes > size_) {
      std::free(data_);
      data_ = std::aligned_alloc(kAlign, bytes);
      if (data_ == nullptr) throw std::bad_alloc();
      size_ = bytes;
    }
    return data_;
  }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

// Three uninitialised arrays of Lanes<T>::Vec (tile, dtile, per-slot partials) in the calling
// thread's scratch. (A vector type used as a template argument loses its attributes, so
// std::vector<Vec> would be neither aligned nor sized right.)
template <typename T>
typename Lanes<T>::Vec* ScratchVecs(int64_t n) {
  static thread_local Scratch scratch;
  using V = typename Lanes<T>::Vec;
  return static_cast<V*>(scratch.Get(sizeof(V) * static_cast<size_t>(std::max<int64_t>(n, 1))));
}

// The input neurons read by slots i < counts[b, which] of any row, ascending.
std::vector<int32_t> UsedColumns(const int32_t* ids, const int32_t* counts, int64_t batch, int64_t cap,
                                 int64_t n_in, int which) {
  std::vector<uint8_t> mark(n_in, 0);
  for (int64_t b = 0; b < batch; ++b) {
    const int32_t c = counts[2 * b + which];
    for (int32_t i = 0; i < c; ++i) mark[ids[b * cap + i]] = 1;
  }
  std::vector<int32_t> used;
  for (int64_t j = 0; j < n_in; ++j)
    if (mark[j]) used.push_back(static_cast<int32_t>(j));
  return used;
}

template <typename T>
struct TileArgs {
  const T* w;             // weights [n_out, n_in]
  const int32_t* ids;     // [batch, cap]
  const int32_t* counts;  // [batch, 2]
  const int32_t* used;    // used columns
  int64_t n_used, n_out, n_in, batch, cap;
};

// tile[j][r] = W[n0 + r, j] for the used columns j (all columns when most are used), r < rows;
// lanes r >= rows are zero. Reads W rows contiguously, writes with a stride of kLanes.
template <typename T>
inline __attribute__((always_inline)) void TransposeTile(const TileArgs<T>& a, int64_t n0, int64_t rows,
                                                         typename Lanes<T>::Vec* tile) {
  const T* w = a.w + n0 * a.n_in;
  T* ts = reinterpret_cast<T*>(tile);  // GCC vector types may alias their element type
  const bool dense = 2 * a.n_used > a.n_in;
  for (int64_t r = 0; r < rows; ++r) {
    const T* src = w + r * a.n_in;
    if (dense) {
      for (int64_t j = 0; j < a.n_in; ++j) ts[j * kLanes + r] = src[j];
    } else {
      for (int64_t u = 0; u < a.n_used; ++u) ts[a.used[u] * kLanes + r] = src[a.used[u]];
    }
  }
  for (int64_t r = rows; r < kLanes; ++r) {
    for (int64_t u = 0; u < a.n_used; ++u) ts[a.used[u] * kLanes + r] = T(0);
  }
}

template <typename T>
inline __attribute__((always_inline)) void ForwardTilesImpl(const TileArgs<T>& a, int64_t t0, int64_t t1,
                                                            T* y) {
  using Vec = typename Lanes<T>::Vec;
  Vec* tile = ScratchVecs<T>(a.n_in);
  for (int64_t t = t0; t < t1; ++t) {
    const int64_t n0 = t * kLanes, rows = std::min<int64_t>(kLanes, a.n_out - n0);
    TransposeTile(a, n0, rows, tile);
    for (int64_t b = 0; b < a.batch; ++b) {
      const int32_t* id = a.ids + b * a.cap;
      Vec acc = {};
      for (int32_t i = 0; i < a.counts[2 * b]; ++i) acc += tile[id[i]];
      T* out = y + b * a.n_out + n0;
      for (int64_t r = 0; r < rows; ++r) out[r] = acc[r];
    }
  }
}

template <typename T>
inline __attribute__((always_inline)) void BackwardTilesImpl(const TileArgs<T>& a, int64_t t0, int64_t t1,
                                                             const T* g, T* dw, T* partial) {
  using Vec = typename Lanes<T>::Vec;
  Vec* tile = ScratchVecs<T>(2 * a.n_in + a.batch * a.cap);
  Vec* dtile = tile + a.n_in;
  Vec* pv = dtile + a.n_in;
  for (int64_t k = 0; k < a.batch * a.cap; ++k) pv[k] = Vec{};
  for (int64_t t = t0; t < t1; ++t) {
    const int64_t n0 = t * kLanes, rows = std::min<int64_t>(kLanes, a.n_out - n0);
    TransposeTile(a, n0, rows, tile);
    for (int64_t u = 0; u < a.n_used; ++u) dtile[a.used[u]] = Vec{};
    for (int64_t b = 0; b < a.batch; ++b) {
      const int32_t* id = a.ids + b * a.cap;
      const int32_t c0 = a.counts[2 * b], c1 = a.counts[2 * b + 1];
      Vec gv = {};
      for (int64_t r = 0; r < rows; ++r) gv[r] = g[b * a.n_out + n0 + r];
      for (int32_t i = 0; i < c0; ++i) dtile[id[i]] += gv;
      Vec* p = pv + b * a.cap;
      for (int32_t i = 0; i < c1; ++i) p[i] += gv * tile[id[i]];
    }
    // dW rows n0 .. n0 + rows from dtile (columns no spike touched are zero).
    T* d = dw + n0 * a.n_in;
    const T* ds = reinterpret_cast<const T*>(dtile);
    if (2 * a.n_used > a.n_in) {
      for (int64_t u = 0, j = 0; j < a.n_in; ++j) {  // zero the unused columns of dtile
        if (u < a.n_used && a.used[u] == j) {
          ++u;
        } else {
          dtile[j] = Vec{};
        }
      }
      for (int64_t r = 0; r < rows; ++r) {
        T* dst = d + r * a.n_in;
        for (int64_t j = 0; j < a.n_in; ++j) dst[j] = ds[j * kLanes + r];
      }
    } else {
      for (int64_t r = 0; r < rows; ++r) {
        T* dst = d + r * a.n_in;
        std::memset(dst, 0, sizeof(T) * a.n_in);
        for (int64_t u = 0; u < a.n_used; ++u) dst[a.used[u]] = ds[a.used[u] * kLanes + r];
      }
    }
  }
  for (int64_t k = 0; k < a.batch * a.cap; ++k) {
    T s = T(0);
    for (int r = 0; r < kLanes; ++r) s += pv[k][r];
    partial[k] = s;
  }
}

#define SNNLIB_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
SNNLIB_CLONES void ForwardTiles(const TileArgs<float>& a, int64_t t0, int64_t t1, float* y) {
  ForwardTilesImpl(a, t0, t1, y);
}
SNNLIB_CLONES void ForwardTiles(const TileArgs<double>& a, int64_t t0, int64_t t1, double* y) {
  ForwardTilesImpl(a, t0, t1, y);
}
SNNLIB_CLONES void BackwardTiles(const TileArgs<float>& a, int64_t t0, int64_t t1, const float* g,
                                 float* dw, float* partial) {
  BackwardTilesImpl(a, t0, t1, g, dw, partial);
}
SNNLIB_CLONES void BackwardTiles(const TileArgs<double>& a, int64_t t0, int64_t t1, const double* g,
                                 double* dw, double* partial) {
  BackwardTilesImpl(a, t0, t1, g, dw, partial);
}
#undef SNNLIB_CLONES

// Splits n_tiles into at most `blocks` contiguous ranges and runs fn(block, t0, t1) in parallel.
void ForBlocks(OpKernelContext* ctx, int64_t n_tiles, int64_t blocks, int64_t cost_per_tile,
               const std::function<void(int64_t, int64_t, int64_t)>& fn) {
  const int64_t per = (n_tiles + blocks - 1) / blocks;
  ParallelFor(ctx, blocks, per * cost_per_tile, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      const int64_t t0 = k * per, t1 = std::min(n_tiles, t0 + per);
      if (t0 < t1) fn(k, t0, t1);
    }
  });
}

int64_t NumBlocks(OpKernelContext* ctx, int64_t n_tiles) {
  return std::max<int64_t>(1, std::min<int64_t>(n_tiles, 2 * NumThreads(ctx)));
}

template <typename T>
class SparseMatmulOp : public OpKernel {
 public:
  explicit SparseMatmulOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const char* op = "SnnlibSparseMatmul";
    const Tensor& w_t = ctx->input(0);
    const Tensor& ids_t = ctx->input(1);
    const Tensor& counts_t = ctx->input(2);
    OP_REQUIRES_OK(ctx, CheckMatmulInputs(w_t, ids_t, counts_t, op));
    OP_REQUIRES_OK(ctx, CheckSameShape(ctx->input(3), ids_t, op, "values", "ids"));
    const int64_t n_out = w_t.dim_size(0), n_in = w_t.dim_size(1);
    const int64_t batch = ids_t.dim_size(0), cap = ids_t.dim_size(1);
    Tensor* y_t;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({batch, n_out}), &y_t));
    const int32_t* ids = ids_t.flat<int32_t>().data();
    const int32_t* counts = counts_t.flat<int32_t>().data();
    T* y = y_t->flat<T>().data();
    if (n_out == 0 || batch == 0) return;
    const std::vector<int32_t> used = UsedColumns(ids, counts, batch, cap, n_in, 0);
    const TileArgs<T> a{w_t.flat<T>().data(), ids, counts, used.data(),
                        static_cast<int64_t>(used.size()), n_out, n_in, batch, cap};
    int64_t total_spikes = 0;
    for (int64_t b = 0; b < batch; ++b) total_spikes += counts[2 * b];
    const int64_t n_tiles = (n_out + kLanes - 1) / kLanes;
    ForBlocks(ctx, n_tiles, NumBlocks(ctx, n_tiles), 4 * (kLanes * a.n_used + total_spikes + batch),
              [&](int64_t, int64_t t0, int64_t t1) { ForwardTiles(a, t0, t1, y); });
  }
};

template <typename T>
class SparseMatmulGradOp : public OpKernel {
 public:
  explicit SparseMatmulGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const char* op = "SnnlibSparseMatmulGrad";
    const Tensor& w_t = ctx->input(0);
    const Tensor& ids_t = ctx->input(1);
    const Tensor& counts_t = ctx->input(2);
    const Tensor& g_t = ctx->input(3);
    OP_REQUIRES_OK(ctx, CheckMatmulInputs(w_t, ids_t, counts_t, op));
    OP_REQUIRES_OK(ctx, CheckMatrix(g_t, op, "grad_y"));
    const int64_t n_out = w_t.dim_size(0), n_in = w_t.dim_size(1);
    const int64_t batch = ids_t.dim_size(0), cap = ids_t.dim_size(1);
    OP_REQUIRES(ctx, g_t.dim_size(0) == batch && g_t.dim_size(1) == n_out,
                absl::InvalidArgumentError(absl::StrCat(op, ": grad_y must have shape [batch, out] = [", batch,
                                                        ", ", n_out, "]; got ", g_t.shape().DebugString())));
    Tensor *dw_t, *gv_t;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, w_t.shape(), &dw_t));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({batch, cap}), &gv_t));
    const int32_t* ids = ids_t.flat<int32_t>().data();
    const int32_t* counts = counts_t.flat<int32_t>().data();
    T* dw = dw_t->flat<T>().data();
    T* gv = gv_t->flat<T>().data();
    const int64_t slots = batch * cap;
    if (n_out == 0) {
      std::fill(gv, gv + slots, T(0));
      return;
    }
    const std::vector<int32_t> used = UsedColumns(ids, counts, batch, cap, n_in, 1);
    const TileArgs<T> a{w_t.flat<T>().data(), ids, counts, used.data(),
                        static_cast<int64_t>(used.size()), n_out, n_in, batch, cap};
    int64_t total_slots = 0;
    for (int64_t b = 0; b < batch; ++b) total_slots += counts[2 * b + 1];
    const int64_t n_tiles = (n_out + kLanes - 1) / kLanes;
    const int64_t blocks = NumBlocks(ctx, n_tiles);
    // One lane-summed partial slot gradient per block of tiles, reduced below.
    std::vector<T> partial(static_cast<size_t>(blocks * slots), T(0));
    ForBlocks(ctx, n_tiles, blocks, 4 * (kLanes * (n_in + 2 * a.n_used) + 2 * total_slots + batch),
              [&](int64_t k, int64_t t0, int64_t t1) {
                BackwardTiles(a, t0, t1, g_t.flat<T>().data(), dw, partial.data() + k * slots);
              });
    for (int64_t b = 0; b < batch; ++b) {
      const int32_t c1 = counts[2 * b + 1];
      for (int64_t i = 0; i < cap; ++i) {
        T acc = T(0);
        if (i < c1) {
          for (int64_t k = 0; k < blocks; ++k) acc += partial[k * slots + b * cap + i];
        }
        gv[b * cap + i] = acc;
      }
    }
  }
};

#define SNNLIB_REGISTER(T)                                                                      \
  REGISTER_KERNEL_BUILDER(Name("SnnlibSparseMatmul").Device(DEVICE_CPU).TypeConstraint<T>("T"), \
                          SparseMatmulOp<T>);                                                   \
  REGISTER_KERNEL_BUILDER(                                                                      \
      Name("SnnlibSparseMatmulGrad").Device(DEVICE_CPU).TypeConstraint<T>("T"),                 \
      SparseMatmulGradOp<T>);
SNNLIB_REGISTER(float)
SNNLIB_REGISTER(double)
#undef SNNLIB_REGISTER

}  // namespace
}  // namespace snnlib
