// Shared helpers of the sparse spike ops: input validation and the thread pool.
//
// Sparse format (DESIGN.md section 4): ids int32[B, S], counts int32[B, 2] =
// (n_spikes, n_spikes + n_candidates). Only slots i < counts[b, 1] are ever read, so only
// their ids are checked against [0, n); padding slots may hold anything.
#ifndef SNNLIB_CODELETS_SPARSE_SPIKES_COMMON_H_
#define SNNLIB_CODELETS_SPARSE_SPIKES_COMMON_H_

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/framework/tensor.h"
#include "tensorflow/core/framework/tensor_shape.h"

namespace snnlib {

using ::tensorflow::OpKernelContext;
using ::tensorflow::Tensor;
using ::tensorflow::TensorShapeUtils;
using ::tensorflow::shape_inference::DimensionHandle;
using ::tensorflow::shape_inference::InferenceContext;
using ::tensorflow::shape_inference::ShapeHandle;

// `name` must be a matrix (rank 2).
inline absl::Status CheckMatrix(const Tensor& t, const char* op, const char* name) {
  if (!TensorShapeUtils::IsMatrix(t.shape())) {
    return absl::InvalidArgumentError(absl::StrCat(
        op, ": ", name, " must be rank 2 (callers flatten leading axes); got shape ",
        t.shape().DebugString()));
  }
  return absl::OkStatus();
}

inline absl::Status CheckScalar(const Tensor& t, const char* op, const char* name) {
  if (!TensorShapeUtils::IsScalar(t.shape())) {
    return absl::InvalidArgumentError(absl::StrCat(op, ": ", name, " must be a scalar; got shape ",
                                                   t.shape().DebugString()));
  }
  return absl::OkStatus();
}

// Shapes and contents of (ids [B, S], counts [B, 2]) for a neuron range [0, n):
// counts in [0, S], counts[:, 0] <= counts[:, 1], ids[b, i] in [0, n) for i < counts[b, 1].
inline absl::Status CheckSparse(const Tensor& ids, const Tensor& counts, int64_t n, const char* op,
                                const char* n_name) {
  absl::Status s = CheckMatrix(ids, op, "ids");
  if (!s.ok()) return s;
  s = CheckMatrix(counts, op, "counts");
  if (!s.ok()) return s;
  if (counts.dim_size(1) != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        op, ": counts must have shape [batch, 2] (n_spikes, n_spikes + n_candidates); got ",
        counts.shape().DebugString()));
  }
  const int64_t batch = ids.dim_size(0), cap = ids.dim_size(1);
  if (counts.dim_size(0) != batch) {
    return absl::InvalidArgumentError(absl::StrCat(op, ": ids and counts must have the same batch size; got ",
                                                   batch, " and ", counts.dim_size(0)));
  }
  const int32_t* id = ids.flat<int32_t>().data();
  const int32_t* cnt = counts.flat<int32_t>().data();
  for (int64_t b = 0; b < batch; ++b) {
    const int32_t c0 = cnt[2 * b], c1 = cnt[2 * b + 1];
    if (c0 < 0 || c1 < 0 || c0 > cap || c1 > cap) {
      return absl::InvalidArgumentError(absl::StrCat(
          op, ": counts must lie in [0, S = ", cap, "]; got counts[", b, "] = (", c0, ", ", c1, ")"));
    }
    if (c0 > c1) {
      return absl::InvalidArgumentError(absl::StrCat(
          op, ": counts[:, 0] (spikes) must be <= counts[:, 1] (spikes + candidates); got counts[",
          b, "] = (", c0, ", ", c1, ")"));
    }
    const int32_t* row = id + b * cap;
    for (int32_t i = 0; i < c1; ++i) {
      if (row[i] < 0 || row[i] >= n) {
        return absl::InvalidArgumentError(absl::StrCat(op, ": ids must lie in [0, ", n_name, " = ", n,
                                                       "); got ids[", b, ", ", i, "] = ", row[i]));
      }
    }
  }
  return absl::OkStatus();
}

// `t` must have the shape of `like` (e.g. values vs ids).
inline absl::Status CheckSameShape(const Tensor& t, const Tensor& like, const char* op,
                                   const char* name, const char* like_name) {
  if (t.shape() != like.shape()) {
    return absl::InvalidArgumentError(absl::StrCat(op, ": ", name, " must have the shape of ", like_name,
                                                   " ", like.shape().DebugString(), "; got ",
                                                   t.shape().DebugString()));
  }
  return absl::OkStatus();
}

// Runs fn(start, end) over [0, total) on TensorFlow's intra-op CPU thread pool.
inline void ParallelFor(OpKernelContext* ctx, int64_t total, int64_t cost_per_unit,
                        const std::function<void(int64_t, int64_t)>& fn) {
  if (total <= 0) return;
  auto* pool = ctx->device()->tensorflow_cpu_worker_threads()->workers;
  pool->ParallelFor(total, cost_per_unit, fn);
}

inline int NumThreads(OpKernelContext* ctx) {
  return ctx->device()->tensorflow_cpu_worker_threads()->num_threads;
}

// Completes one index list whose first `kept` slots hold its spikes (`n_spk` of them) and
// candidates: padding slots get id 0, values are 1 for the spikes and 0 elsewhere, counts =
// (n_spk, kept), and `dropped` = the spikes that did not fit (`spikes` counted in total).
template <typename T>
inline void FinishList(int64_t kept, int64_t n_spk, int64_t spikes, int64_t cap, int32_t* ids,
                       T* values, int32_t* counts, int32_t* dropped) {
  for (int64_t i = kept; i < cap; ++i) ids[i] = 0;
  for (int64_t i = 0; i < cap; ++i) values[i] = i < n_spk ? T(1) : T(0);
  counts[0] = static_cast<int32_t>(n_spk);
  counts[1] = static_cast<int32_t>(kept);
  *dropped = static_cast<int32_t>(spikes - n_spk);
}

// --- shape-function helpers ---------------------------------------------------------------

// Merges two batch dimensions, failing with a message that names the arguments.
inline absl::Status MergeBatch(InferenceContext* c, DimensionHandle a, DimensionHandle b,
                               const char* op, const char* a_name, const char* b_name,
                               DimensionHandle* out) {
  if (c->ValueKnown(a) && c->ValueKnown(b) && c->Value(a) != c->Value(b)) {
    return absl::InvalidArgumentError(absl::StrCat(op, ": ", a_name, " and ", b_name,
                                                   " must have the same batch size; got ",
                                                   c->Value(a), " and ", c->Value(b)));
  }
  return c->Merge(a, b, out);
}

// ids [B, S] and counts [B, 2]: returns the merged batch dim and the capacity dim.
inline absl::Status SparseShapes(InferenceContext* c, int ids_index, int counts_index, const char* op,
                                 DimensionHandle* batch, DimensionHandle* cap) {
  ShapeHandle ids, counts;
  absl::Status s = c->WithRank(c->input(ids_index), 2, &ids);
  if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(op, ": ids must be rank 2: ", s.message()));
  s = c->WithRank(c->input(counts_index), 2, &counts);
  if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(op, ": counts must be rank 2: ", s.message()));
  DimensionHandle two;
  s = c->WithValue(c->Dim(counts, 1), 2, &two);
  if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(op, ": counts must have shape [batch, 2]"));
  *cap = c->Dim(ids, 1);
  return MergeBatch(c, c->Dim(ids, 0), c->Dim(counts, 0), op, "ids", "counts", batch);
}

}  // namespace snnlib

#endif  // SNNLIB_CODELETS_SPARSE_SPIKES_COMMON_H_
