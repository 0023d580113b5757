// Shared helpers of the sparse spike ops: input validation and the thread pool.
//
// Sparse format (DESIGN.md section 4): ids int32[B, S], counts int32[B, 2] =
// (n_spikes, n_spikes + n_candidates). Only slots i < counts[b, 1] are ever read, so only
// their ids are checked against [0, n); padding slots may hold anything.
#ifndef SNNLIB_CODELETS_SPARSE_SPIKES_COMMON_H_
#define SNNLIB_CODELETS_SPARSE_SPIKES_COMMON_H_

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>

#include <unistd.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"
#include "tensorflow/core/framework/tensor.h"
#include "tensorflow/core/framework/tensor_shape.h"

namespace snnlib {

using ::tensorflow::DataType;
using ::tensorflow::OpKernelContext;
using ::tensorflow::Tensor;
using ::tensorflow::TensorShape;
using ::tensorflow::TensorShapeUtils;
using ::tensorflow::shape_inference::DimensionHandle;
using ::tensorflow::shape_inference::InferenceContext;
using ::tensorflow::shape_inference::ShapeHandle;

// --- sizes: the one place where dimensions, products and allocations are checked ----------
//
// Every kernel checks its sizes with these helpers BEFORE it allocates or loops:
//  * a dimension whose entries become int32 neuron ids (N, n, in) must be <= kMaxId;
//  * every product that becomes a shape or a buffer size goes through CheckedElements, so
//    that it can neither overflow int64 nor wrap into a small allocation;
//  * an allocation that fails is a ResourceExhausted error with the requested size (outputs
//    and temporaries through AllocateOutput / AllocateTemp, std::vector through Guarded);
//  * work split over the thread pool goes through ParallelFor with a saturated cost.

constexpr int64_t kMaxId = std::numeric_limits<int32_t>::max();
constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();

// `n` neurons (the argument `name`) are addressed by int32 ids: n must be <= 2**31 - 1.
inline absl::Status CheckIdRange(int64_t n, const char* op, const char* name) {
  if (n > kMaxId) {
    return absl::InvalidArgumentError(absl::StrCat(
        op, ": ", name, " = ", n, " neurons exceed what int32 ids can address (at most ", kMaxId,
        ")"));
  }
  return absl::OkStatus();
}

// a * b for cost estimates, saturated to [0, 2**62] (never overflows).
inline int64_t SatMul(int64_t a, int64_t b) {
  constexpr int64_t kMax = int64_t{1} << 62;
  if (a <= 0 || b <= 0) return 0;
  int64_t p;
  if (__builtin_mul_overflow(a, b, &p) || p > kMax) return kMax;
  return p;
}

// a + b saturated like SatMul.
inline int64_t SatAdd(int64_t a, int64_t b) {
  constexpr int64_t kMax = int64_t{1} << 62;
  return (a >= kMax - b) ? kMax : a + b;
}

inline std::string DimsString(std::initializer_list<int64_t> dims) {
  std::string s = "[";
  for (auto it = dims.begin(); it != dims.end(); ++it) {
    absl::StrAppend(&s, it == dims.begin() ? "" : ", ", *it);
  }
  return s + "]";
}

// The shape `dims` of `what` (a text that names the arguments its sizes come from) with
// elements of `elem_bytes` bytes: every dim >= 0, the element count and the byte count within
// int64. Writes the element count to `*elements` (if not null) and the shape to `*shape`.
inline absl::Status CheckedElements(std::initializer_list<int64_t> dims, int64_t elem_bytes,
                                    const char* op, const char* what, int64_t* elements,
                                    TensorShape* shape = nullptr) {
  int64_t count = 1;
  for (int64_t d : dims) {
    if (d < 0) {
      return absl::InvalidArgumentError(absl::StrCat(op, ": ", what, " would have shape ",
                                                     DimsString(dims), " with a negative size"));
    }
    if (d == 0) count = 0;
  }
  for (int64_t d : dims) {
    if (count != 0 && __builtin_mul_overflow(count, d, &count)) {
      return absl::InvalidArgumentError(absl::StrCat(
          op, ": ", what, " would have shape ", DimsString(dims),
          ": more than 2**63 - 1 elements"));
    }
  }
  int64_t bytes;
  if (__builtin_mul_overflow(count, elem_bytes, &bytes)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        op, ": ", what, " of shape ", DimsString(dims), " would need ", count, " x ",
        elem_bytes, " bytes, more than 2**63 - 1"));
  }
  if (elements != nullptr) *elements = count;
  if (shape != nullptr) {
    *shape = TensorShape();
    for (int64_t d : dims) {
      absl::Status s = shape->AddDimWithStatus(d);
      if (!s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(op, ": ", what, ": ", s.message()));
      }
    }
  }
  return absl::OkStatus();
}

// The allocation of `count` elements (from CheckedElements) of shape `dims` failed with `s`.
inline absl::Status AllocationFailed(const absl::Status& s, std::initializer_list<int64_t> dims,
                                     int64_t count, int64_t elem_bytes, const char* op,
                                     const char* what) {
  return absl::ResourceExhaustedError(absl::StrCat(
      op, ": cannot allocate ", what, " of shape ", DimsString(dims), " (", count * elem_bytes,
      " bytes): ", s.message()));
}

// This machine's physical memory in bytes (0 where unknown).
inline int64_t PhysicalMemoryBytes() {
  static const int64_t bytes = [] {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page : int64_t{0};
  }();
  return bytes;
}

// A tensor of `count` elements (from CheckedElements) larger than the physical memory is refused
// at once: TensorFlow's allocator would otherwise wait and retry (about 10 s with its oneDNN CPU
// allocator) before failing.
inline absl::Status CheckFitsMemory(std::initializer_list<int64_t> dims, int64_t count,
                                    int64_t elem_bytes, const char* op, const char* what) {
  const int64_t memory = PhysicalMemoryBytes();
  if (memory > 0 && count > memory / elem_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        op, ": cannot allocate ", what, " of shape ", DimsString(dims), " (", count * elem_bytes,
        " bytes): more than this machine's ", memory, " bytes of memory"));
  }
  return absl::OkStatus();
}

// allocate_output with the checks of CheckedElements; a failed allocation names `what`.
inline absl::Status AllocateOutput(OpKernelContext* ctx, int index,
                                   std::initializer_list<int64_t> dims, const char* op,
                                   const char* what, Tensor** out) {
  TensorShape shape;
  const int64_t elem = tensorflow::DataTypeSize(ctx->expected_output_dtype(index));
  int64_t count = 0;
  absl::Status s = CheckedElements(dims, elem, op, what, &count, &shape);
  if (s.ok()) s = CheckFitsMemory(dims, count, elem, op, what);
  if (!s.ok()) return s;
  s = ctx->allocate_output(index, shape, out);
  if (!s.ok()) return AllocationFailed(s, dims, count, elem, op, what);
  return absl::OkStatus();
}

// allocate_temp with the checks of CheckedElements; a failed allocation names `what`.
inline absl::Status AllocateTemp(OpKernelContext* ctx, DataType dtype,
                                 std::initializer_list<int64_t> dims, const char* op,
                                 const char* what, Tensor* out) {
  TensorShape shape;
  const int64_t elem = tensorflow::DataTypeSize(dtype);
  int64_t count = 0;
  absl::Status s = CheckedElements(dims, elem, op, what, &count, &shape);
  if (s.ok()) s = CheckFitsMemory(dims, count, elem, op, what);
  if (!s.ok()) return s;
  s = ctx->allocate_temp(dtype, shape, out);
  if (!s.ok()) return AllocationFailed(s, dims, count, elem, op, what);
  return absl::OkStatus();
}

// Runs fn() (which fills std::vectors of about `bytes` bytes in total); an allocation failure
// becomes ResourceExhausted instead of an exception escaping the kernel.
template <typename F>
absl::Status Guarded(const char* op, const char* what, int64_t bytes, F&& fn) {
  try {
    fn();
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrCat(op, ": cannot allocate ", what, " (about ", bytes, " bytes)"));
  } catch (const std::length_error&) {
    return absl::ResourceExhaustedError(
        absl::StrCat(op, ": cannot allocate ", what, " (about ", bytes, " bytes)"));
  }
  return absl::OkStatus();
}

// A finite scalar `name` (a threshold); `what` says the expected domain.
template <typename T>
inline absl::Status CheckFinite(T x, const char* op, const char* name) {
  if (!std::isfinite(static_cast<double>(x))) {
    return absl::InvalidArgumentError(
        absl::StrCat(op, ": ", name, " must be finite; got ", static_cast<double>(x)));
  }
  return absl::OkStatus();
}

// A finite positive scalar `name` (beta, gain).
template <typename T>
inline absl::Status CheckPositive(T x, const char* op, const char* name) {
  if (!(x > T(0)) || !std::isfinite(static_cast<double>(x))) {
    return absl::InvalidArgumentError(absl::StrCat(op, ": ", name,
                                                   " must be finite and > 0; got ",
                                                   static_cast<double>(x)));
  }
  return absl::OkStatus();
}

// th2 (the argument `name`): -inf ("no second threshold") or finite and <= th1.
template <typename T>
inline absl::Status CheckTh2(T th2, T th1, const char* op, const char* name = "th2") {
  const bool none = std::isinf(static_cast<double>(th2)) && th2 < T(0);
  if (!none && !(std::isfinite(static_cast<double>(th2)) && th2 <= th1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        op, ": ", name, " must be -inf (no second threshold) or finite and <= th1 = ",
        static_cast<double>(th1), "; got ", static_cast<double>(th2)));
  }
  return absl::OkStatus();
}

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
    return absl::InvalidArgumentError(
        absl::StrCat(op, ": ids and counts must have the same batch size; got ", batch, " and ",
                     counts.dim_size(0)));
  }
  const int32_t* id = ids.flat<int32_t>().data();
  const int32_t* cnt = counts.flat<int32_t>().data();
  for (int64_t b = 0; b < batch; ++b) {
    const int32_t c0 = cnt[2 * b], c1 = cnt[2 * b + 1];
    if (c0 < 0 || c1 < 0 || c0 > cap || c1 > cap) {
      return absl::InvalidArgumentError(absl::StrCat(op, ": counts must lie in [0, S = ", cap,
                                                     "]; got counts[", b, "] = (", c0, ", ", c1,
                                                     ")"));
    }
    if (c0 > c1) {
      return absl::InvalidArgumentError(absl::StrCat(
          op, ": counts[:, 0] (spikes) must be <= counts[:, 1] (spikes + candidates); got counts[",
          b, "] = (", c0, ", ", c1, ")"));
    }
    const int32_t* row = id + b * cap;
    for (int32_t i = 0; i < c1; ++i) {
      if (row[i] < 0 || row[i] >= n) {
        return absl::InvalidArgumentError(absl::StrCat(op, ": ids must lie in [0, ", n_name, " = ",
                                                       n, "); got ids[", b, ", ", i,
                                                       "] = ", row[i]));
      }
    }
  }
  return absl::OkStatus();
}

// `t` must have the shape of `like` (e.g. values vs ids).
inline absl::Status CheckSameShape(const Tensor& t, const Tensor& like, const char* op,
                                   const char* name, const char* like_name) {
  if (t.shape() != like.shape()) {
    return absl::InvalidArgumentError(absl::StrCat(op, ": ", name, " must have the shape of ",
                                                   like_name, " ", like.shape().DebugString(),
                                                   "; got ", t.shape().DebugString()));
  }
  return absl::OkStatus();
}

// Runs fn(start, end) over [0, total) on TensorFlow's intra-op CPU thread pool. The cost per
// unit (estimated cycles, from SatMul / SatAdd) is clamped to [1, 2**40]; fn must not throw.
inline void ParallelFor(OpKernelContext* ctx, int64_t total, int64_t cost_per_unit,
                        const std::function<void(int64_t, int64_t)>& fn) {
  if (total <= 0) return;
  const int64_t cost = std::min<int64_t>(std::max<int64_t>(cost_per_unit, 1), int64_t{1} << 40);
  auto* pool = ctx->device()->tensorflow_cpu_worker_threads()->workers;
  pool->ParallelFor(total, cost, fn);
}

inline int NumThreads(OpKernelContext* ctx) {
  return ctx->device()->tensorflow_cpu_worker_threads()->num_threads;
}

// The parts a pass over `total` items runs in: one per pool thread, at most one per item.
inline int64_t PoolParts(OpKernelContext* ctx, int64_t total) {
  return std::max<int64_t>(1, std::min<int64_t>(NumThreads(ctx), total));
}

// Range p of [0, total) split into `parts` contiguous ranges whose sizes differ by at most
// one (the first total % parts get one more): fn(begin, end).
template <typename Fn>
inline void EqualRange(int64_t total, int64_t parts, int64_t p, Fn&& fn) {
  const int64_t base = total / parts, extra = total % parts;
  fn(base * p + std::min(p, extra), base * (p + 1) + std::min(p + 1, extra));
}

// Runs part(p) for every p in [0, parts) in parallel. Called from outside the pool
// (TensorFlow's executor thread, the usual case), every part is scheduled on the pool and the
// caller waits, instead of computing the first part itself: on the 2-core VMs of this project
// that made the whole fused-layer training step 0.90-0.96 of its time (paired A/B of whole
// steps, 10 runs of 60 pairs at 1 % and 5 % activity). With the caller computing, the kernel
// often ran its part and the woken pool thread's one after the other on one core while the
// other idled. From inside the pool, waiting could leave no thread to run the parts, so there
// the caller computes one of them (ParallelFor).
inline void RunParts(OpKernelContext* ctx, int64_t parts,
                     const std::function<void(int64_t)>& part) {
  if (parts <= 0) return;
  auto* pool = ctx->device()->tensorflow_cpu_worker_threads()->workers;
  if (parts > 1 && pool->CurrentThreadId() < 0) {
    absl::BlockingCounter done(static_cast<int>(parts));
    for (int64_t p = 0; p < parts; ++p) {
      pool->Schedule([&part, &done, p] {
        part(p);
        done.DecrementCount();
      });
    }
    done.Wait();
    return;
  }
  ParallelFor(ctx, parts, int64_t{1} << 40, [&](int64_t start, int64_t end) {
    for (int64_t p = start; p < end; ++p) part(p);
  });
}

// fn(begin, end) over [0, total) split into one contiguous range per pool thread, all run in
// parallel (RunParts), whatever the pool's cost model would make of them: for work split
// into equal parts whose part index must not depend on timing (per-part partial sums).
inline void ParallelRanges(OpKernelContext* ctx, int64_t total,
                           const std::function<void(int64_t, int64_t)>& fn) {
  if (total <= 0) return;
  const int64_t parts = PoolParts(ctx, total);
  RunParts(ctx, parts, [&](int64_t p) { EqualRange(total, parts, p, fn); });
}

// fn(worker, begin, end) over [0, total), in pieces of equal size (at most kPiecesPerThread per
// pool thread, at least one item each) that PoolParts(ctx, total) workers (RunParts) take
// one after the other from a shared counter as each finishes the last. A worker woken late or
// slowed by the VM takes fewer pieces, instead of the others waiting for its equal share. In
// the fused layer at 1 % activity, equal ranges ended 20-300 us apart (median per pass; up to
// ms in the tail); with pieces, the whole training step took 0.97-1.01 of its time (paired
// A/B, six runs of 40-60 pairs). `worker` indexes per-worker scratch; which worker runs a
// piece varies from call to call, so pieces must not share outputs (the results then do not
// depend on it).
inline void ParallelItems(OpKernelContext* ctx, int64_t total,
                          const std::function<void(int64_t, int64_t, int64_t)>& fn) {
  constexpr int64_t kPiecesPerThread = 16;
  if (total <= 0) return;
  const int64_t pieces = std::min<int64_t>(total, kPiecesPerThread * NumThreads(ctx));
  std::atomic<int64_t> next{0};
  RunParts(ctx, PoolParts(ctx, total), [&](int64_t worker) {
    for (int64_t p; (p = next.fetch_add(1, std::memory_order_relaxed)) < pieces;) {
      EqualRange(total, pieces, p,
                 [&](int64_t begin, int64_t end) { fn(worker, begin, end); });
    }
  });
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

// A known dimension `d` that becomes an id range (see CheckIdRange); unknown: checked later
// by the kernel.
inline absl::Status ShapeIdRange(InferenceContext* c, DimensionHandle d, const char* op,
                                 const char* name) {
  return c->ValueKnown(d) ? CheckIdRange(c->Value(d), op, name) : absl::OkStatus();
}

// An output shape of known dimensions must have at most 2**63 - 1 elements (graph
// construction builds TensorShapes from it); with an unknown dimension the kernel checks.
inline absl::Status ShapeElements(InferenceContext* c, std::initializer_list<DimensionHandle> dims,
                                  const char* op, const char* what) {
  int64_t count = 1;
  bool overflow = false;
  std::string text = "[";
  for (DimensionHandle d : dims) {
    if (!c->ValueKnown(d) || c->Value(d) == 0) return absl::OkStatus();
    absl::StrAppend(&text, text.size() > 1 ? ", " : "", c->Value(d));
    overflow = overflow || __builtin_mul_overflow(count, c->Value(d), &count);
  }
  if (overflow) {
    return absl::InvalidArgumentError(absl::StrCat(op, ": ", what, " would have shape ", text,
                                                   "]: more than 2**63 - 1 elements"));
  }
  return absl::OkStatus();
}

// One input of a shape function: input `index`, called `name`, must have rank `rank`;
// `form` shows its axes in the error (e.g. "[batch, S]"). Its shape goes to *shape (if set).
struct RankedInput {
  int index;
  int rank;
  const char* name;
  const char* form;
  ShapeHandle* shape = nullptr;
};

// The rank checks of a shape function, as one declaration of its inputs:
//   TF_RETURN_IF_ERROR(WithRanks(c, op, {{0, 2, "weights", "[in, out]", &w}, ...}));
// A wrong rank is an InvalidArgument naming the op, the input, the expected form and the
// shape it got.
inline absl::Status WithRanks(InferenceContext* c, const char* op,
                              std::initializer_list<RankedInput> inputs) {
  for (const RankedInput& in : inputs) {
    ShapeHandle shape;
    if (!c->WithRank(c->input(in.index), in.rank, &shape).ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          op, ": ", in.name, " must be rank ", in.rank, " ", in.form, "; got shape ",
          c->DebugString(c->input(in.index))));
    }
    if (in.shape != nullptr) *in.shape = shape;
  }
  return absl::OkStatus();
}

// ids [B, S] and counts [B, 2] (inputs `ids_index`, `counts_index`): returns the merged batch
// dim and the capacity dim.
inline absl::Status SparseShapes(InferenceContext* c, int ids_index, int counts_index,
                                 const char* op, DimensionHandle* batch, DimensionHandle* cap) {
  ShapeHandle ids, counts;
  TF_RETURN_IF_ERROR(WithRanks(c, op, {{ids_index, 2, "ids", "[batch, S]", &ids},
                                       {counts_index, 2, "counts", "[batch, 2]", &counts}}));
  DimensionHandle two;
  if (!c->WithValue(c->Dim(counts, 1), 2, &two).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        op, ": counts must have shape [batch, 2] (n_spikes, n_spikes + n_candidates); got ",
        c->DebugString(counts)));
  }
  *cap = c->Dim(ids, 1);
  return MergeBatch(c, c->Dim(ids, 0), c->Dim(counts, 0), op, "ids", "counts", batch);
}

}  // namespace snnlib

#endif  // SNNLIB_CODELETS_SPARSE_SPIKES_COMMON_H_
