// Dense weights times binary sparse spikes, in the two weight layouts.
//
// SnnlibSparseMatmulT / ...TGrad / ...TSlotGrad: the default path (sparse_matmul with
// weights_layout="in_out"), weights W [in, out] as every network stores them (the Keras kernel
// layout; the seed's fused layer with transpose_weights), spikes (ids [B, S], counts [B, 2]):
//   y[b, :]          = sum_{i < counts[b, 0]} W[ids[b, i], :]                         [B, out]
//   grad_rows[u, :]  = sum over the spikes on input neuron columns[u] of g[b, :]      [U0, out]
//   columns          = ascending input neurons with at least one spike                [U0]
//   g_values[b, i]   = <g[b, :], W[ids[b, i], :]>            for i < counts[b, 1], else 0
// The two gradients are separate ops (TGrad: grad_rows, columns; TSlotGrad: g_values): the
// executor may run them concurrently (no speed-up measured: both are memory-bound) and prunes
// the one nobody needs.
// Every access is a contiguous row, and the weight gradient is row-sparse (an IndexedSlices
// of the U0 rows), so neither W nor a dense dW is ever streamed whole.
//
// SnnlibSparseMatmul / ...Grad / ...SlotGrad: the conversion path for weights kept as
// M = W^T [out, in] (weights_layout="out_in"; e.g. a PyTorch Linear weight):
//   y[b, n]      = sum_{i < counts[b, 0]} M[n, ids[b, i]]                         [B, out]
//   columns      = ascending input neurons read by some slot i < counts[b, 1]      [U]
//   weights_t[u] = M[:, columns[u]]  (the columns the backward pass needs)         [U, out]
// Backward, with g = dL/dy [B, out], in two ops (Grad: dM; SlotGrad: g_values):
//   dM[n, ids[b, i]] += g[b, n]                                         for i < counts[b, 0]
//   g_values[b, i]    = sum_n g[b, n] weights_t[u(ids[b, i]), n]   for i < counts[b, 1], else 0
// The `values` input carries no data in the forward pass; it connects the slot gradient.
// M is read once, in blocks of 16 output rows x 16 input columns that are transposed in
// registers (one SIMD vector per input column); every spike is then one vector add, and the
// columns some slot reads are kept (weights_t) so that the backward pass never reads or
// transposes M again. M and a dense dM are each touched exactly once per call: at low
// activity that traffic, not the spikes, sets its time.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "common.h"
#include "simd.h"
#include "tensorflow/core/framework/op.h"

namespace snnlib {
namespace {

using ::tensorflow::DEVICE_CPU;
using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::TensorShape;

// Shape checks shared by the matmul ops: input 0 is the weight matrix `w_name` (rank 2,
// `layout`), whose axis `out_axis` is the output size; inputs 1, 2 are ids and counts; input 3
// is `second`: the [batch, S] values (forward) or the [batch, out] grad_y (backward).
struct MatmulDims {
  ShapeHandle w;
  DimensionHandle batch, cap, out;
};

absl::Status MatmulShapes(InferenceContext* c, const char* op, const char* w_name,
                          const char* layout, int out_axis, bool backward, MatmulDims* d) {
  const char* second_name = backward ? "grad_y" : "values";
  ShapeHandle second;
  TF_RETURN_IF_ERROR(WithRanks(c, op, {{0, 2, w_name, layout, &d->w},
                                       {3, 2, second_name, backward ? "[batch, out]" : "[batch, S]",
                                        &second}}));
  TF_RETURN_IF_ERROR(SparseShapes(c, 1, 2, op, &d->batch, &d->cap));
  TF_RETURN_IF_ERROR(MergeBatch(c, c->Dim(second, 0), d->batch, op, second_name, "ids", &d->batch));
  TF_RETURN_IF_ERROR(ShapeIdRange(c, c->Dim(d->w, 1 - out_axis), op,
                                  out_axis == 0 ? "in (weights.shape[1])"
                                                : "in (weights_t.shape[0])"));
  d->out = c->Dim(d->w, out_axis);
  TF_RETURN_IF_ERROR(ShapeElements(c, {d->batch, d->out}, op,
                                   out_axis == 0 ? "y [batch, out = weights.shape[0]]"
                                                 : "y [batch, out = weights_t.shape[1]]"));
  if (backward && !c->Merge(c->Dim(second, 1), d->out, &d->out).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        op, ": grad_y must have shape [batch, out] with out = ", w_name, ".shape[", out_axis,
        "] = ", c->Value(c->Dim(d->w, out_axis)), "; got ", c->Value(c->Dim(second, 1))));
  }
  return absl::OkStatus();
}

REGISTER_OP("SnnlibSparseMatmul")
    .Input("weights: T")
    .Input("ids: int32")
    .Input("counts: int32")
    .Input("values: T")
    .Attr("T: {float, double}")
    .Output("y: T")
    .Output("columns: int32")
    .Output("weights_t: T")
    .SetShapeFn([](InferenceContext* c) -> absl::Status {
      MatmulDims d;
      TF_RETURN_IF_ERROR(
          MatmulShapes(c, "SnnlibSparseMatmul", "weights", "(out, in)", 0, false, &d));
      c->set_output(0, c->Matrix(d.batch, d.out));
      c->set_output(1, c->Vector(c->UnknownDim()));
      c->set_output(2, c->Matrix(c->UnknownDim(), d.out));
      return absl::OkStatus();
    })
    .Doc("y[b, n] = sum over the first counts[b, 0] slots of weights[n, ids[b, i]]; also the "
         "columns read by the first counts[b, 1] slots and weights_t = weights[:, columns]^T.");

// The inputs of both gradient ops of SnnlibSparseMatmul: the forward inputs, grad_y and the
// forward op's columns and weights_t.
template <int kOut>
absl::Status MatmulGradShapes(InferenceContext* c, const char* op) {
  MatmulDims d;
  TF_RETURN_IF_ERROR(MatmulShapes(c, op, "weights", "(out, in)", 0, true, &d));
  TF_RETURN_IF_ERROR(WithRanks(c, op, {{4, 1, "columns", "[U]"},
                                       {5, 2, "weights_t", "[U, out]"}}));
  c->set_output(0, kOut == 0 ? d.w : c->Matrix(d.batch, d.cap));
  return absl::OkStatus();
}

REGISTER_OP("SnnlibSparseMatmulGrad")
    .Input("weights: T")
    .Input("ids: int32")
    .Input("counts: int32")
    .Input("grad_y: T")
    .Input("columns: int32")
    .Input("weights_t: T")
    .Attr("T: {float, double}")
    .Output("grad_weights: T")
    .SetShapeFn([](InferenceContext* c) {
      return MatmulGradShapes<0>(c, "SnnlibSparseMatmulGrad");
    })
    .Doc(
        "Weight gradient of SnnlibSparseMatmul (dense, the shape of weights), from the "
        "forward op's columns.");

REGISTER_OP("SnnlibSparseMatmulSlotGrad")
    .Input("weights: T")
    .Input("ids: int32")
    .Input("counts: int32")
    .Input("grad_y: T")
    .Input("columns: int32")
    .Input("weights_t: T")
    .Attr("T: {float, double}")
    .Output("grad_values: T")
    .SetShapeFn([](InferenceContext* c) {
      return MatmulGradShapes<1>(c, "SnnlibSparseMatmulSlotGrad");
    })
    .Doc(
        "Slot values' gradient of SnnlibSparseMatmul: grad_values[b, i] = <grad_y[b], "
        "weights_t[u(ids[b, i])]> for i < counts[b, 1], else 0, from the forward op's columns "
        "and weights_t.");

REGISTER_OP("SnnlibSparseMatmulT")
    .Input("weights_t: T")
    .Input("ids: int32")
    .Input("counts: int32")
    .Input("values: T")
    .Attr("T: {float, double}")
    .Output("y: T")
    .SetShapeFn([](InferenceContext* c) -> absl::Status {
      MatmulDims d;
      TF_RETURN_IF_ERROR(
          MatmulShapes(c, "SnnlibSparseMatmulT", "weights_t", "(in, out)", 1, false, &d));
      c->set_output(0, c->Matrix(d.batch, d.out));
      return absl::OkStatus();
    })
    .Doc("y[b, :] = sum over the first counts[b, 0] slots of weights_t[ids[b, i], :].");

REGISTER_OP("SnnlibSparseMatmulTGrad")
    .Input("weights_t: T")
    .Input("ids: int32")
    .Input("counts: int32")
    .Input("grad_y: T")
    .Attr("T: {float, double}")
    .Output("grad_rows: T")
    .Output("columns: int32")
    .SetShapeFn([](InferenceContext* c) -> absl::Status {
      MatmulDims d;
      TF_RETURN_IF_ERROR(
          MatmulShapes(c, "SnnlibSparseMatmulTGrad", "weights_t", "(in, out)", 1, true, &d));
      c->set_output(0, c->Matrix(c->UnknownDim(), d.out));
      c->set_output(1, c->Vector(c->UnknownDim()));
      return absl::OkStatus();
    })
    .Doc("Weight gradient of SnnlibSparseMatmulT as rows: grad_rows[u] at input neuron "
         "columns[u], one row per input neuron with a spike.");

REGISTER_OP("SnnlibSparseMatmulTSlotGrad")
    .Input("weights_t: T")
    .Input("ids: int32")
    .Input("counts: int32")
    .Input("grad_y: T")
    .Attr("T: {float, double}")
    .Output("grad_values: T")
    .SetShapeFn([](InferenceContext* c) -> absl::Status {
      MatmulDims d;
      TF_RETURN_IF_ERROR(
          MatmulShapes(c, "SnnlibSparseMatmulTSlotGrad", "weights_t", "(in, out)", 1, true, &d));
      c->set_output(0, c->Matrix(d.batch, d.cap));
      return absl::OkStatus();
    })
    .Doc("Slot values' gradient of SnnlibSparseMatmulT: grad_values[b, i] = <grad_y[b], "
         "weights_t[ids[b, i]]> for i < counts[b, 1], else 0 (a separate op, so that it can run "
         "beside the weight gradient and is pruned when not needed).");

// Common checks of the weight matrix (input neurons on axis `in_axis`: 1 for weights
// [out, in], 0 for weights_t [in, out]), ids and counts.
// The input width must fit int32 ids, and the slots (batch * S) int32 offsets.
inline absl::Status CheckMatmulInputs(const Tensor& w, const Tensor& ids, const Tensor& counts,
                                      const char* op, int in_axis = 1) {
  absl::Status s = CheckMatrix(w, op, in_axis == 1 ? "weights" : "weights_t");
  if (!s.ok()) return s;
  const char* in_name = in_axis == 1 ? "in (weights.shape[1])" : "in (weights_t.shape[0])";
  s = CheckIdRange(w.dim_size(in_axis), op, in_name);
  if (!s.ok()) return s;
  s = CheckSparse(ids, counts, w.dim_size(in_axis), op, in_name);
  if (!s.ok()) return s;
  if (ids.NumElements() > kMaxId) {
    return absl::InvalidArgumentError(absl::StrCat(
        op, ": ids must have at most 2**31 - 1 slots (batch * S, int32 offsets); got shape ",
        ids.shape().DebugString()));
  }
  return absl::OkStatus();
}

// The ascending distinct ids of the slots i < counts[b, k] (k = 0: spikes, 1: all read
// slots), by sorting them: O(slots log slots) and independent of the input width, for weights
// with no elements (whose width may be far larger than any buffer that can be allocated).
std::vector<int32_t> SortedIds(const int32_t* ids, const int32_t* counts, int64_t batch,
                               int64_t cap, int k) {
  std::vector<int32_t> out;
  for (int64_t b = 0; b < batch; ++b) {
    out.insert(out.end(), ids + b * cap, ids + b * cap + counts[2 * b + k]);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// grad_y must be [batch, out].
inline absl::Status CheckGradY(const Tensor& g, int64_t batch, int64_t n_out, const char* op) {
  absl::Status s = CheckMatrix(g, op, "grad_y");
  if (!s.ok()) return s;
  if (g.dim_size(0) != batch || g.dim_size(1) != n_out) {
    return absl::InvalidArgumentError(absl::StrCat(op, ": grad_y must have shape [batch, out] = [",
                                                   batch, ", ", n_out, "]; got ",
                                                   g.shape().DebugString()));
  }
  return absl::OkStatus();
}

// --- index structures (built once per call, before the parallel part) ----------------------

// Which input columns the slots read, and the spikes grouped by column (a CSC view):
//   columns      ascending input neurons read by some slot i < counts[b, 1]        [U]
//   position[j]  u with columns[u] = j, or -1                                      [in]
//   spike_start  spikes (i < counts[b, 0]) of column j are spike_b[spike_start[j] ..
//                spike_start[j + 1]), in ascending sample order                    [in + 1]
//   chunk_start  first u of each 16-column chunk: columns[chunk_start[q]] >= 16 q    [chunks + 1]
struct SpikeIndex {
  std::vector<int32_t> columns, position, spike_start, spike_b, chunk_start;
};

constexpr int kLanes = 16;

inline int64_t NumChunks(int64_t n) { return n / kLanes + (n % kLanes != 0); }

// The spikes (slots i < counts[b, 0]) grouped by input neuron, a counting sort in O(in + spikes):
// the samples with a spike on neuron j are spike_b[spike_start[j] .. spike_start[j + 1]),
// ascending.
void GroupSpikesByColumn(const int32_t* ids, const int32_t* counts, int64_t batch, int64_t cap,
                         int64_t n_in, std::vector<int32_t>* spike_start,
                         std::vector<int32_t>* spike_b) {
  std::vector<int32_t>& start = *spike_start;
  start.assign(n_in + 1, 0);
  for (int64_t b = 0; b < batch; ++b) {
    for (int32_t i = 0; i < counts[2 * b]; ++i) ++start[ids[b * cap + i] + 1];
  }
  for (int64_t j = 0; j < n_in; ++j) start[j + 1] += start[j];
  spike_b->resize(start[n_in]);
  std::vector<int32_t> next(start.begin(), start.end() - 1);
  for (int64_t b = 0; b < batch; ++b) {
    for (int32_t i = 0; i < counts[2 * b]; ++i)
      (*spike_b)[next[ids[b * cap + i]]++] = static_cast<int32_t>(b);
  }
}

// Builds everything but `columns` when `n_given` >= 0 columns are given (the backward pass),
// in O(in + slots). (An empty tensor's data pointer may be null: it cannot mark "not given".)
SpikeIndex BuildIndex(const int32_t* ids, const int32_t* counts, int64_t batch, int64_t cap,
                      int64_t n_in, const int32_t* given_columns = nullptr, int64_t n_given = -1) {
  SpikeIndex x;
  x.position.assign(n_in, -1);
  if (n_given < 0) {
    for (int64_t b = 0; b < batch; ++b) {
      for (int32_t i = 0; i < counts[2 * b + 1]; ++i) x.position[ids[b * cap + i]] = 0;
    }
    for (int64_t j = 0; j < n_in; ++j) {
      if (x.position[j] == 0) x.columns.push_back(static_cast<int32_t>(j));
    }
  } else {
    x.columns.assign(given_columns, given_columns + n_given);
  }
  for (size_t u = 0; u < x.columns.size(); ++u) x.position[x.columns[u]] = static_cast<int32_t>(u);
  GroupSpikesByColumn(ids, counts, batch, cap, n_in, &x.spike_start, &x.spike_b);
  const int64_t chunks = NumChunks(n_in);
  x.chunk_start.assign(chunks + 1, 0);
  for (int64_t q = 0, u = 0; q <= chunks; ++q) {
    while (u < static_cast<int64_t>(x.columns.size()) && x.columns[u] < q * kLanes) ++u;
    x.chunk_start[q] = static_cast<int32_t>(u);
  }
  return x;
}

// --- kernels ----------------------------------------------------------------------------------
//
// A tile is 16 rows n0 .. n0 + 15 of W (or dW) by 16 columns j0 .. j0 + 15. Loaded row by row
// into 16 SIMD vectors and transposed, it gives col[c] = (W[n0, j0 + c], ..., W[n0 + 15, j0 + c]):
//   forward   acc[b] += col[c] for every spike of sample b on column j0 + c  -> y[b, n0 : n0 + 16]
//             weights_t[u(j0 + c), n0 : n0 + 16] = col[c]  for the columns some slot reads
//   backward  dcol[c] = sum over the spikes on column j0 + c of g[b, n0 : n0 + 16], transposed
//             back into rows of dW; slot gradients are dot products of g[b] and weights_t rows.
// Lanes beyond the matrix edge are zero. The hot loops are compiled for AVX-512, AVX2 and the
// baseline ISA (picked at load time).

// Per-thread scratch memory, reused across calls (no allocation or page faults per call).
// Aligned to 128 bytes: alignof(Vec) depends on the ISA a clone is compiled for.
class Scratch {
 public:
  static constexpr size_t kAlign = 128;
  ~Scratch() { std::free(data_); }
  // At least `bytes` bytes (contents unspecified), or null when that cannot be allocated.
  void* Get(size_t bytes) {
    bytes = (bytes + kAlign - 1) / kAlign * kAlign;
    if (bytes > size_) {
      std::free(data_);
      data_ = std::aligned_alloc(kAlign, bytes);
      size_ = data_ == nullptr ? 0 : bytes;
    }
    return data_;
  }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

// n uninitialised vectors in the calling thread's scratch, or null when out of memory. (A vector
// type used as a template argument loses its attributes, so std::vector<Vec> would be neither
// aligned nor sized right.)
template <typename T>
typename Vec16<T>::type* ScratchVecs(int64_t n) {
  static thread_local Scratch scratch;
  using V = typename Vec16<T>::type;
  return static_cast<V*>(scratch.Get(sizeof(V) * static_cast<size_t>(std::max<int64_t>(n, 1))));
}

template <typename T>
struct MatmulArgs {
  const SpikeIndex* index;
  int64_t n_out, n_in, batch, cap;
  const T* w;   // forward: weights [n_out, n_in]
  T* y;         // forward: [batch, n_out]
  T* wt_out;    // forward: weights_t [U, n_out]
  const T* g;   // backward: grad_y [batch, n_out]
  T* dw;        // backward: [n_out, n_in]
};

// The slot gradient's operands: rows [U or in, n_out], ids / counts [batch, cap] / [batch, 2],
// g [batch, n_out], gv [batch, cap]; position maps ids to rows (null: the identity).
template <typename T>
struct SlotArgs {
  const T* rows;
  const int32_t* position;
  const int32_t* ids;
  const int32_t* counts;
  const T* g;
  int64_t n_out, cap;
  T* gv;
};

// Forward over the row blocks [t0, t1): y rows and weights_t entries of those output rows.
// Returns false (and does nothing) when its scratch memory cannot be allocated.
template <typename T>
SNNLIB_INLINE bool ForwardBlocksImpl(const MatmulArgs<T>& a, int64_t t0,
                                                             int64_t t1) {
  using Vec = typename Vec16<T>::type;
  const SpikeIndex& x = *a.index;
  Vec* acc = ScratchVecs<T>(a.batch);
  if (acc == nullptr) return false;
  Vec rows[kLanes], col[kLanes];
  for (int64_t t = t0; t < t1; ++t) {
    const int64_t n0 = t * kLanes, nr = std::min<int64_t>(kLanes, a.n_out - n0);
    for (int64_t b = 0; b < a.batch; ++b) acc[b] = Vec{};
    for (int64_t q = 0, chunks = NumChunks(a.n_in); q < chunks; ++q) {
      const int32_t u0 = x.chunk_start[q], u1 = x.chunk_start[q + 1];
      if (u0 == u1) continue;  // no slot reads these columns
      const int64_t j0 = q * kLanes, nc = std::min<int64_t>(kLanes, a.n_in - j0);
      const T* src = a.w + n0 * a.n_in + j0;
      for (int64_t r = 0; r < kLanes; ++r)
        rows[r] = r < nr ? LoadN<Vec>(src + r * a.n_in, nc) : Vec{};
      Transpose16<T>(rows, col);
      for (int32_t u = u0; u < u1; ++u)
        StoreN(a.wt_out + u * a.n_out + n0, col[x.columns[u] - j0], nr);
      for (int64_t c = 0; c < nc; ++c) {
        const Vec v = col[c];
        for (int32_t e = x.spike_start[j0 + c]; e < x.spike_start[j0 + c + 1]; ++e)
          acc[x.spike_b[e]] += v;
      }
    }
    for (int64_t b = 0; b < a.batch; ++b) StoreN(a.y + b * a.n_out + n0, acc[b], nr);
  }
  return true;
}

// dW over the row blocks [t0, t1), each tile written once (zeros where no spike falls).
template <typename T>
SNNLIB_INLINE void WeightGradBlocksImpl(const MatmulArgs<T>& a, int64_t t0, int64_t t1) {
  using Vec = typename Vec16<T>::type;
  const SpikeIndex& x = *a.index;
  Vec dcol[kLanes], rows[kLanes];
  for (int64_t t = t0; t < t1; ++t) {
    const int64_t n0 = t * kLanes, nr = std::min<int64_t>(kLanes, a.n_out - n0);
    for (int64_t q = 0, chunks = NumChunks(a.n_in); q < chunks; ++q) {
      const int64_t j0 = q * kLanes, nc = std::min<int64_t>(kLanes, a.n_in - j0);
      T* dst = a.dw + n0 * a.n_in + j0;
      if (x.spike_start[j0] == x.spike_start[j0 + nc]) {
        for (int64_t r = 0; r < nr; ++r) StoreN(dst + r * a.n_in, Vec{}, nc);
        continue;
      }
      for (int64_t c = 0; c < kLanes; ++c) {
        Vec d = {};
        if (c < nc) {
          for (int32_t e = x.spike_start[j0 + c]; e < x.spike_start[j0 + c + 1]; ++e) {
            d += LoadN<Vec>(a.g + x.spike_b[e] * a.n_out + n0, nr);
          }
        }
        dcol[c] = d;
      }
      Transpose16<T>(dcol, rows);
      for (int64_t r = 0; r < nr; ++r) StoreN(dst + r * a.n_in, rows[r], nc);
    }
  }
}

// Slot gradients of samples [b0, b1): g_values[b, i] = <g[b, :], weights_t[u(ids[b, i]), :]>.
// gv[b, i] = <g[b, :], rows[r, :]> for i < counts[b, 1] (else 0), where r = position[ids[b, i]]
// (rows = the forward op's weights_t) or r = ids[b, i] when position is null (rows = W^T).
template <typename T>
SNNLIB_INLINE void SlotGradImpl(const SlotArgs<T>& a, int64_t b0, int64_t b1) {
  using Vec = typename Vec16<T>::type;
  const int64_t full = a.n_out / kLanes * kLanes;
  for (int64_t b = b0; b < b1; ++b) {
    const T* g = a.g + b * a.n_out;
    for (int64_t i = 0; i < a.cap; ++i) {
      T s = T(0);
      if (i < a.counts[2 * b + 1]) {
        const int32_t id = a.ids[b * a.cap + i];
        const T* row = a.rows + static_cast<int64_t>(a.position ? a.position[id] : id) * a.n_out;
        Vec acc = {};
        for (int64_t n = 0; n < full; n += kLanes) acc += LoadU<Vec>(g + n) * LoadU<Vec>(row + n);
        for (int r = 0; r < kLanes; ++r) s += acc[r];
        for (int64_t n = full; n < a.n_out; ++n) s += g[n] * row[n];
      }
      a.gv[b * a.cap + i] = s;
    }
  }
}

// dst[k, :] = sum_{e in [start[k], start[k + 1])} src[list[e], :] for k in [k0, k1) (rows of
// n_cols); the row lists of the transposed-layout op.
template <typename T>
SNNLIB_INLINE void SumRowsImpl(const T* src, int64_t n_cols, const int32_t* list,
                               const int32_t* start, int64_t k0, int64_t k1, T* dst) {
  using Vec = typename Vec16<T>::type;
  const int64_t full = n_cols / kLanes * kLanes;
  for (int64_t k = k0; k < k1; ++k) {
    T* out = dst + k * n_cols;
    for (int64_t n = 0; n < full; n += kLanes) {
      Vec acc = {};
      for (int32_t e = start[k]; e < start[k + 1]; ++e)
        acc += LoadU<Vec>(src + list[e] * n_cols + n);
      StoreU(out + n, acc);
    }
    for (int64_t n = full; n < n_cols; ++n) {
      T acc = T(0);
      for (int32_t e = start[k]; e < start[k + 1]; ++e) acc += src[list[e] * n_cols + n];
      out[n] = acc;
    }
  }
}

#define SNNLIB_DEFINE(T)                                                                \
  SNNLIB_CLONES bool ForwardBlocks(const MatmulArgs<T>& a, int64_t t0, int64_t t1) {    \
    return ForwardBlocksImpl(a, t0, t1);                                                \
  }                                                                                     \
  SNNLIB_CLONES void WeightGradBlocks(const MatmulArgs<T>& a, int64_t t0, int64_t t1) { \
    WeightGradBlocksImpl(a, t0, t1);                                                    \
  }                                                                                     \
  SNNLIB_CLONES void SlotGrad(const SlotArgs<T>& a, int64_t b0, int64_t b1) {           \
    SlotGradImpl(a, b0, b1);                                                            \
  }                                                                                     \
  SNNLIB_CLONES void SumRows(const T* src, int64_t n_cols, const int32_t* list,         \
                             const int32_t* start, int64_t k0, int64_t k1, T* dst) {    \
    SumRowsImpl(src, n_cols, list, start, k0, k1, dst);                                 \
  }
SNNLIB_DEFINE(float)
SNNLIB_DEFINE(double)
#undef SNNLIB_DEFINE

// Costs passed to the thread pool are estimated CPU cycles per work unit: the pool runs work
// below about 10^5 cycles on the calling thread, where handing it to another thread would cost
// more than it saves (measured: splitting a 10 us kernel over two threads made it slower).
// VectorCost: n multiply-adds of streamed floats, about two cycles per SIMD vector.
inline int64_t VectorCost(int64_t n) { return SatMul(2, NumChunks(n)); }

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
    const int32_t* ids = ids_t.flat<int32_t>().data();
    const int32_t* counts = counts_t.flat<int32_t>().data();
    Tensor *y_t, *columns_t, *wt_t;
    OP_REQUIRES_OK(ctx, AllocateOutput(ctx, 0, {batch, n_out}, op,
                                       "y [batch, out = weights.shape[0]]", &y_t));
    T* y = y_t->flat<T>().data();
    SpikeIndex index;
    if (w_t.NumElements() == 0) {
      // No weights: nothing proportional to the (possibly huge) other dimension is built.
      OP_REQUIRES_OK(ctx, Guarded(op, "the column list", 4 * ids_t.NumElements(), [&] {
                       index.columns = SortedIds(ids, counts, batch, cap, 1);
                     }));
    } else {
      OP_REQUIRES_OK(ctx, Guarded(op, "the spike index", SatMul(16, n_in), [&] {
                       index = BuildIndex(ids, counts, batch, cap, n_in);
                     }));
    }
    const int64_t n_used = static_cast<int64_t>(index.columns.size());
    OP_REQUIRES_OK(ctx, AllocateOutput(ctx, 1, {n_used}, op, "columns [U]", &columns_t));
    OP_REQUIRES_OK(ctx, AllocateOutput(ctx, 2, {n_used, n_out}, op,
                                       "weights_t [U, out = weights.shape[0]]", &wt_t));
    std::copy(index.columns.begin(), index.columns.end(), columns_t->flat<int32_t>().data());
    if (y_t->NumElements() == 0) return;
    if (n_used == 0) {
      std::fill(y, y + batch * n_out, T(0));
      return;
    }
    const MatmulArgs<T> a{&index, n_out, n_in, batch, cap, w_t.flat<T>().data(), y,
                          wt_t->flat<T>().data(), nullptr, nullptr};
    const int64_t spikes = static_cast<int64_t>(index.spike_b.size());
    // Ranges of 16-row tiles; a tile costs about four cycles per input column (load and
    // transpose) plus two per vector add.
    std::atomic<bool> scratch_ok{true};
    ParallelFor(ctx, NumChunks(n_out), 4 * (n_in + n_used) + 2 * (spikes + batch),
                [&](int64_t t0, int64_t t1) {
                  if (!ForwardBlocks(a, t0, t1)) scratch_ok = false;
                });
    OP_REQUIRES(ctx, scratch_ok,
                absl::ResourceExhaustedError(absl::StrCat(
                    op, ": cannot allocate the per-thread accumulators [batch = ", batch,
                    "] of ", sizeof(T) * kLanes, " bytes each")));
  }
};

constexpr const char* kColumnsFix =
    " (pass the columns and weights_t outputs of SnnlibSparseMatmul for the same spikes)";

// columns: strictly ascending ids in [0, n_in); weights_t: [len(columns), n_out].
absl::Status CheckColumns(const Tensor& columns, const Tensor& wt, int64_t n_in, int64_t n_out,
                          const char* op) {
  if (!TensorShapeUtils::IsVector(columns.shape())) {
    return absl::InvalidArgumentError(absl::StrCat(op, ": columns must be rank 1; got shape ",
                                                   columns.shape().DebugString(), kColumnsFix));
  }
  const int64_t n_used = columns.dim_size(0);
  if (!TensorShapeUtils::IsMatrix(wt.shape()) || wt.dim_size(0) != n_used ||
      wt.dim_size(1) != n_out) {
    return absl::InvalidArgumentError(
        absl::StrCat(op, ": weights_t must have shape [len(columns), out] = [", n_used, ", ", n_out,
                     "]; got ", wt.shape().DebugString(), kColumnsFix));
  }
  const int32_t* col = columns.flat<int32_t>().data();
  for (int64_t u = 0; u < n_used; ++u) {
    if (col[u] < 0 || col[u] >= n_in || (u > 0 && col[u] <= col[u - 1])) {
      return absl::InvalidArgumentError(
          absl::StrCat(op, ": columns must be strictly ascending in [0, ", n_in, "); got columns[",
                       u, "] = ", col[u], kColumnsFix));
    }
  }
  return absl::OkStatus();
}

// Every slot i < counts[b, 1] must read one of the columns.
absl::Status CheckSlotsInColumns(const SpikeIndex& index, const int32_t* ids, const int32_t* counts,
                                 int64_t batch, int64_t cap, const char* op) {
  for (int64_t b = 0; b < batch; ++b) {
    for (int32_t i = 0; i < counts[2 * b + 1]; ++i) {
      if (index.position[ids[b * cap + i]] < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            op, ": ids[", b, ", ", i, "] = ", ids[b * cap + i], " is not in columns", kColumnsFix));
      }
    }
  }
  return absl::OkStatus();
}

// CheckSlotsInColumns for weights without elements: binary search in the (checked, ascending)
// columns instead of a position table of the input width.
absl::Status CheckSlotsInSortedColumns(const Tensor& columns, const int32_t* ids,
                                       const int32_t* counts, int64_t batch, int64_t cap,
                                       const char* op) {
  const int32_t* col = columns.flat<int32_t>().data();
  const int32_t* end = col + columns.dim_size(0);
  for (int64_t b = 0; b < batch; ++b) {
    for (int32_t i = 0; i < counts[2 * b + 1]; ++i) {
      if (!std::binary_search(col, end, ids[b * cap + i])) {
        return absl::InvalidArgumentError(absl::StrCat(
            op, ": ids[", b, ", ", i, "] = ", ids[b * cap + i], " is not in columns", kColumnsFix));
      }
    }
  }
  return absl::OkStatus();
}

// SnnlibSparseMatmulGrad (kSlots = false: grad_weights) and SnnlibSparseMatmulSlotGrad (kSlots =
// true: grad_values) take the same inputs and checks; as two ops they may run concurrently, and a
// gradient nobody needs (the slots of an input layer, frozen weights) is pruned from the graph.
template <typename T, bool kSlots>
class SparseMatmulGradOp : public OpKernel {
 public:
  explicit SparseMatmulGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const char* op = kSlots ? "SnnlibSparseMatmulSlotGrad" : "SnnlibSparseMatmulGrad";
    const Tensor& w_t = ctx->input(0);
    const Tensor& ids_t = ctx->input(1);
    const Tensor& counts_t = ctx->input(2);
    const Tensor& g_t = ctx->input(3);
    const Tensor& columns_t = ctx->input(4);
    const Tensor& wt_t = ctx->input(5);
    OP_REQUIRES_OK(ctx, CheckMatmulInputs(w_t, ids_t, counts_t, op));
    const int64_t n_out = w_t.dim_size(0), n_in = w_t.dim_size(1);
    const int64_t batch = ids_t.dim_size(0), cap = ids_t.dim_size(1);
    OP_REQUIRES_OK(ctx, CheckGradY(g_t, batch, n_out, op));
    const int32_t* ids = ids_t.flat<int32_t>().data();
    const int32_t* counts = counts_t.flat<int32_t>().data();
    OP_REQUIRES_OK(ctx, CheckColumns(columns_t, wt_t, n_in, n_out, op));
    Tensor* out_t;
    if (kSlots) {
      OP_REQUIRES_OK(ctx,
                     AllocateOutput(ctx, 0, {batch, cap}, op, "grad_values [batch, S]", &out_t));
    } else {
      OP_REQUIRES_OK(ctx, ctx->allocate_output(0, w_t.shape(), &out_t));
    }
    if (w_t.NumElements() == 0) {
      // No weights: dW is empty and every slot gradient is an empty sum. The slots are
      // checked against the columns by binary search (no buffer of the input width).
      OP_REQUIRES_OK(ctx, CheckSlotsInSortedColumns(columns_t, ids, counts, batch, cap, op));
      std::fill(out_t->flat<T>().data(), out_t->flat<T>().data() + out_t->NumElements(), T(0));
      return;
    }
    SpikeIndex index;
    OP_REQUIRES_OK(ctx, Guarded(op, "the spike index", SatMul(16, n_in), [&] {
                     index = BuildIndex(ids, counts, batch, cap, n_in,
                                        columns_t.flat<int32_t>().data(), columns_t.dim_size(0));
                   }));
    OP_REQUIRES_OK(ctx, CheckSlotsInColumns(index, ids, counts, batch, cap, op));
    if (kSlots) {
      const SlotArgs<T> slots{wt_t.flat<T>().data(), index.position.data(), ids, counts,
                              g_t.flat<T>().data(), n_out, cap, out_t->flat<T>().data()};
      ParallelFor(ctx, batch, VectorCost(SatMul(cap, n_out)),
                  [&](int64_t b0, int64_t b1) { SlotGrad(slots, b0, b1); });
      return;
    }
    const MatmulArgs<T> a{&index, n_out, n_in, batch, cap, nullptr, nullptr, nullptr,
                          g_t.flat<T>().data(), out_t->flat<T>().data()};
    const int64_t spikes = static_cast<int64_t>(index.spike_b.size());
    ParallelFor(ctx, NumChunks(n_out), 4 * n_in + 2 * spikes,
                [&](int64_t t0, int64_t t1) { WeightGradBlocks(a, t0, t1); });
  }
};

template <typename T>
class SparseMatmulTOp : public OpKernel {
 public:
  explicit SparseMatmulTOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const char* op = "SnnlibSparseMatmulT";
    const Tensor& wt_t = ctx->input(0);
    const Tensor& ids_t = ctx->input(1);
    const Tensor& counts_t = ctx->input(2);
    OP_REQUIRES_OK(ctx, CheckMatmulInputs(wt_t, ids_t, counts_t, op, 0));
    OP_REQUIRES_OK(ctx, CheckSameShape(ctx->input(3), ids_t, op, "values", "ids"));
    const int64_t n_out = wt_t.dim_size(1), batch = ids_t.dim_size(0), cap = ids_t.dim_size(1);
    Tensor* y_t;
    OP_REQUIRES_OK(ctx, AllocateOutput(ctx, 0, {batch, n_out}, op,
                                       "y [batch, out = weights_t.shape[1]]", &y_t));
    if (y_t->NumElements() == 0) return;
    const int32_t* ids = ids_t.flat<int32_t>().data();
    const int32_t* counts = counts_t.flat<int32_t>().data();
    // Row list of sample b: its spikes, ids[b, 0 .. counts[b, 0]).
    std::vector<int32_t> start, list;
    OP_REQUIRES_OK(ctx, Guarded(op, "the row lists", 4 * (batch + 1 + ids_t.NumElements()), [&] {
                     start.assign(batch + 1, 0);
                     list.reserve(batch * cap);
                   }));
    for (int64_t b = 0; b < batch; ++b) {
      list.insert(list.end(), ids + b * cap, ids + b * cap + counts[2 * b]);
      start[b + 1] = static_cast<int32_t>(list.size());
    }
    ParallelFor(ctx, batch, VectorCost(SatMul(cap + 1, n_out)), [&](int64_t b0, int64_t b1) {
      SumRows(wt_t.flat<T>().data(), n_out, list.data(), start.data(), b0, b1,
              y_t->flat<T>().data());
    });
  }
};

// SnnlibSparseMatmulTGrad (kSlots = false: the weight gradient as rows, one per input neuron
// with a spike, and their columns) and SnnlibSparseMatmulTSlotGrad (kSlots = true: the slot
// values' gradient, dot products of grad_y and weight rows) take the same inputs and checks.
template <typename T, bool kSlots>
class SparseMatmulTGradOp : public OpKernel {
 public:
  explicit SparseMatmulTGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const char* op = kSlots ? "SnnlibSparseMatmulTSlotGrad" : "SnnlibSparseMatmulTGrad";
    const Tensor& wt_t = ctx->input(0);
    const Tensor& ids_t = ctx->input(1);
    const Tensor& counts_t = ctx->input(2);
    const Tensor& g_t = ctx->input(3);
    OP_REQUIRES_OK(ctx, CheckMatmulInputs(wt_t, ids_t, counts_t, op, 0));
    const int64_t n_in = wt_t.dim_size(0), n_out = wt_t.dim_size(1);
    const int64_t batch = ids_t.dim_size(0), cap = ids_t.dim_size(1);
    OP_REQUIRES_OK(ctx, CheckGradY(g_t, batch, n_out, op));
    const int32_t* ids = ids_t.flat<int32_t>().data();
    const int32_t* counts = counts_t.flat<int32_t>().data();
    const T* g = g_t.flat<T>().data();
    if (kSlots) {
      Tensor* gv_t;
      OP_REQUIRES_OK(ctx,
                     AllocateOutput(ctx, 0, {batch, cap}, op, "grad_values [batch, S]", &gv_t));
      const SlotArgs<T> slots{wt_t.flat<T>().data(), nullptr, ids, counts, g, n_out, cap,
                              gv_t->flat<T>().data()};
      ParallelFor(ctx, batch, VectorCost(SatMul(cap, n_out)),
                  [&](int64_t b0, int64_t b1) { SlotGrad(slots, b0, b1); });
      return;
    }
    std::vector<int32_t> columns, start{0}, spike_b;
    if (wt_t.NumElements() == 0) {
      // No weights: rows of width 0 (or no spike at all); nothing of the input width is built.
      OP_REQUIRES_OK(ctx, Guarded(op, "the column list", 4 * ids_t.NumElements(), [&] {
                       columns = SortedIds(ids, counts, batch, cap, 0);
                       start.assign(columns.size() + 1, 0);
                     }));
    } else {
      std::vector<int32_t> spike_start;
      OP_REQUIRES_OK(ctx, Guarded(op, "the spike index", SatMul(8, n_in), [&] {
                       GroupSpikesByColumn(ids, counts, batch, cap, n_in, &spike_start, &spike_b);
                       // The input neurons with spikes; the spikes of columns[u] are
                       // spike_b[start[u] .. start[u + 1]) (neurons without spikes hold none,
                       // so the ranges of the spiking ones are contiguous).
                       for (int64_t j = 0; j < n_in; ++j) {
                         if (spike_start[j + 1] > spike_start[j]) {
                           columns.push_back(static_cast<int32_t>(j));
                           start.push_back(spike_start[j + 1]);
                         }
                       }
                     }));
    }
    const int64_t n_used = static_cast<int64_t>(columns.size());
    Tensor *rows_t, *columns_t;
    OP_REQUIRES_OK(ctx, AllocateOutput(ctx, 0, {n_used, n_out}, op,
                                       "grad_rows [U0, out = weights_t.shape[1]]", &rows_t));
    OP_REQUIRES_OK(ctx, AllocateOutput(ctx, 1, {n_used}, op, "columns [U0]", &columns_t));
    std::copy(columns.begin(), columns.end(), columns_t->flat<int32_t>().data());
    if (rows_t->NumElements() == 0) return;
    ParallelFor(ctx, n_used, VectorCost(SatMul(3, n_out)), [&](int64_t u0, int64_t u1) {
      SumRows(g, n_out, spike_b.data(), start.data(), u0, u1, rows_t->flat<T>().data());
    });
  }
};

#define SNNLIB_REGISTER(T)                                                                      \
  REGISTER_KERNEL_BUILDER(Name("SnnlibSparseMatmul").Device(DEVICE_CPU).TypeConstraint<T>("T"), \
                          SparseMatmulOp<T>);                                                   \
  REGISTER_KERNEL_BUILDER(                                                                      \
      Name("SnnlibSparseMatmulGrad").Device(DEVICE_CPU).TypeConstraint<T>("T"),                 \
      SparseMatmulGradOp<T, false>);                                                            \
  REGISTER_KERNEL_BUILDER(                                                                      \
      Name("SnnlibSparseMatmulSlotGrad").Device(DEVICE_CPU).TypeConstraint<T>("T"),             \
      SparseMatmulGradOp<T, true>);                                                             \
  REGISTER_KERNEL_BUILDER(Name("SnnlibSparseMatmulT").Device(DEVICE_CPU).TypeConstraint<T>("T"), \
                          SparseMatmulTOp<T>);                                                  \
  REGISTER_KERNEL_BUILDER(                                                                      \
      Name("SnnlibSparseMatmulTGrad").Device(DEVICE_CPU).TypeConstraint<T>("T"),                \
      SparseMatmulTGradOp<T, false>);                                                           \
  REGISTER_KERNEL_BUILDER(                                                                      \
      Name("SnnlibSparseMatmulTSlotGrad").Device(DEVICE_CPU).TypeConstraint<T>("T"),            \
      SparseMatmulTGradOp<T, true>);
SNNLIB_REGISTER(float)
SNNLIB_REGISTER(double)
#undef SNNLIB_REGISTER

}  // namespace
}  // namespace snnlib
