// SnnlibSelectSpikes / SnnlibSelectSpikesGrad: membrane potentials -> sparse spike lists.
//
// Forward, per row b of v [B, N] with capacity S:
//   spikes     = { j : v[b, j] >= th1 }                  (ascending j)
//   candidates = { j : th2 <= v[b, j] < th1 }            (ascending j; th2 = -inf: all others)
//   ids[b, :]  = (spikes ++ candidates)[:S], padding id 0
//   counts[b]  = (min(|spikes|, S), min(|spikes| + |candidates|, S))
//   values[b, i] = 1 for i < counts[b, 0], else 0        (the differentiable carrier)
//   dropped[b] = |spikes| - counts[b, 0]
// beta is an input only so that the gradient can read it.
// Scalar domains (both ops): th1 finite; th2 = -inf (no second threshold) or finite and
// <= th1; beta finite and > 0. N = v.shape[1] <= 2**31 - 1 (ids are int32).
// Backward (w.r.t. v only), for i < counts[b, 1]:
//   dv[b, ids[b, i]] += g_values[b, i] / (beta * |v[b, ids[b, i]] - th1| + 1)^2
#include <cmath>
#include <cstring>

#include "common.h"
#include "tensorflow/core/framework/op.h"

namespace snnlib {
namespace {

using ::tensorflow::DEVICE_CPU;
using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::TensorShape;

REGISTER_OP("SnnlibSelectSpikes")
    .Input("v: T")
    .Input("th1: T")
    .Input("th2: T")
    .Input("beta: T")
    .Attr("capacity: int >= 1")
    .Attr("T: {float, double}")
    .Output("ids: int32")
    .Output("counts: int32")
    .Output("values: T")
    .Output("dropped: int32")
    .SetShapeFn([](InferenceContext* c) -> absl::Status {
      const char* op = "SnnlibSelectSpikes";
      ShapeHandle v;
      TF_RETURN_IF_ERROR(WithRanks(c, op, {{0, 2, "v", "[batch, n]", &v},
                                           {1, 0, "th1", "(a scalar)"},
                                           {2, 0, "th2", "(a scalar)"},
                                           {3, 0, "beta", "(a scalar)"}}));
      int64_t capacity;
      TF_RETURN_IF_ERROR(c->GetAttr("capacity", &capacity));
      DimensionHandle n = c->Dim(v, 1);
      TF_RETURN_IF_ERROR(ShapeIdRange(c, n, op, "N (v.shape[1])"));
      if (c->ValueKnown(n) && capacity > c->Value(n)) {
        return absl::InvalidArgumentError(absl::StrCat(op, ": capacity must be <= N = ",
                                                       c->Value(n), "; got ", capacity));
      }
      DimensionHandle batch = c->Dim(v, 0);
      c->set_output(0, c->Matrix(batch, capacity));
      c->set_output(1, c->Matrix(batch, 2));
      c->set_output(2, c->Matrix(batch, capacity));
      c->set_output(3, c->Vector(batch));
      return absl::OkStatus();
    })
    .Doc(
        "Selects spikes (v >= th1) then candidates (th2 <= v < th1) in ascending index, up to "
        "capacity.");

REGISTER_OP("SnnlibSelectSpikesGrad")
    .Input("v: T")
    .Input("ids: int32")
    .Input("counts: int32")
    .Input("grad_values: T")
    .Input("th1: T")
    .Input("beta: T")
    .Attr("T: {float, double}")
    .Output("grad_v: T")
    .SetShapeFn([](InferenceContext* c) -> absl::Status {
      const char* op = "SnnlibSelectSpikesGrad";
      ShapeHandle v, g;
      DimensionHandle batch, cap;
      TF_RETURN_IF_ERROR(WithRanks(c, op, {{0, 2, "v", "[batch, n]", &v},
                                           {3, 2, "grad_values", "[batch, S]", &g}}));
      TF_RETURN_IF_ERROR(SparseShapes(c, 1, 2, op, &batch, &cap));
      TF_RETURN_IF_ERROR(MergeBatch(c, c->Dim(v, 0), batch, op, "v", "ids", &batch));
      TF_RETURN_IF_ERROR(MergeBatch(c, c->Dim(g, 0), batch, op, "grad_values", "ids", &batch));
      TF_RETURN_IF_ERROR(ShapeIdRange(c, c->Dim(v, 1), op, "N (v.shape[1])"));
      c->set_output(0, c->Matrix(batch, c->Dim(v, 1)));
      return absl::OkStatus();
    })
    .Doc("Gradient of SnnlibSelectSpikes w.r.t. v (SuperSpike surrogate on listed neurons).");

template <typename T>
class SelectSpikesOp : public OpKernel {
 public:
  explicit SelectSpikesOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("capacity", &capacity_));
    OP_REQUIRES(ctx, capacity_ >= 1,
                absl::InvalidArgumentError(
                    absl::StrCat("SnnlibSelectSpikes: capacity must be >= 1; got ", capacity_)));
  }

  void Compute(OpKernelContext* ctx) override {
    const char* op = "SnnlibSelectSpikes";
    const Tensor& v = ctx->input(0);
    OP_REQUIRES_OK(ctx, CheckMatrix(v, op, "v"));
    OP_REQUIRES_OK(ctx, CheckScalar(ctx->input(1), op, "th1"));
    OP_REQUIRES_OK(ctx, CheckScalar(ctx->input(2), op, "th2"));
    OP_REQUIRES_OK(ctx, CheckScalar(ctx->input(3), op, "beta"));
    const int64_t batch = v.dim_size(0), n = v.dim_size(1), cap = capacity_;
    OP_REQUIRES_OK(ctx, CheckIdRange(n, op, "N (v.shape[1])"));
    OP_REQUIRES(ctx, cap <= n,
                absl::InvalidArgumentError(
                    absl::StrCat(op, ": capacity must be <= N (v.shape[1]) = ", n, "; got ", cap)));
    const T th1 = ctx->input(1).scalar<T>()(), th2 = ctx->input(2).scalar<T>()();
    OP_REQUIRES_OK(ctx, CheckFinite(th1, op, "th1"));
    OP_REQUIRES_OK(ctx, CheckTh2(th2, th1, op));
    OP_REQUIRES_OK(ctx, CheckPositive(ctx->input(3).scalar<T>()(), op, "beta"));

    Tensor *ids_t, *counts_t, *values_t, *dropped_t;
    OP_REQUIRES_OK(ctx, AllocateOutput(ctx, 0, {batch, cap}, op, "ids [batch, capacity]", &ids_t));
    OP_REQUIRES_OK(ctx, AllocateOutput(ctx, 1, {batch, 2}, op, "counts [batch, 2]", &counts_t));
    OP_REQUIRES_OK(ctx,
                   AllocateOutput(ctx, 2, {batch, cap}, op, "values [batch, capacity]", &values_t));
    OP_REQUIRES_OK(ctx, AllocateOutput(ctx, 3, {batch}, op, "dropped [batch]", &dropped_t));
    const T* vp = v.flat<T>().data();
    int32_t* ids = ids_t->flat<int32_t>().data();
    int32_t* counts = counts_t->flat<int32_t>().data();
    T* values = values_t->flat<T>().data();
    int32_t* dropped = dropped_t->flat<int32_t>().data();

    ParallelFor(ctx, batch, SatMul(4, n), [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const T* row = vp + b * n;
        int32_t* out = ids + b * cap;
        int64_t k = 0, n_spk = 0;
        int64_t j = 0;
        // Chunks of 16 with no spike are skipped after one vectorisable test (rows are
        // mostly silent).
        for (; j + 16 <= n; j += 16) {
          int any = 0;
          for (int q = 0; q < 16; ++q) any |= row[j + q] >= th1;
          if (!any) continue;
          for (int q = 0; q < 16; ++q) {
            if (row[j + q] >= th1) {
              if (k < cap) out[k++] = static_cast<int32_t>(j + q);
              ++n_spk;
            }
          }
        }
        for (; j < n; ++j) {
          if (row[j] >= th1) {
            if (k < cap) out[k++] = static_cast<int32_t>(j);
            ++n_spk;
          }
        }
        const int64_t kept = k;
        if (th2 < th1) {  // otherwise no neuron can be a candidate
          for (int64_t j = 0; j < n && k < cap; ++j) {
            if (!(row[j] >= th1) && row[j] >= th2) out[k++] = static_cast<int32_t>(j);
          }
        }
        FinishList(k, kept, n_spk, cap, out, values + b * cap, counts + 2 * b, dropped + b);
      }
    });
  }

 private:
  int64_t capacity_;
};

template <typename T>
class SelectSpikesGradOp : public OpKernel {
 public:
  explicit SelectSpikesGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const char* op = "SnnlibSelectSpikesGrad";
    const Tensor& v = ctx->input(0);
    const Tensor& ids_t = ctx->input(1);
    const Tensor& counts_t = ctx->input(2);
    const Tensor& g_t = ctx->input(3);
    OP_REQUIRES_OK(ctx, CheckMatrix(v, op, "v"));
    OP_REQUIRES_OK(ctx, CheckScalar(ctx->input(4), op, "th1"));
    OP_REQUIRES_OK(ctx, CheckScalar(ctx->input(5), op, "beta"));
    OP_REQUIRES_OK(ctx, CheckIdRange(v.dim_size(1), op, "N (v.shape[1])"));
    OP_REQUIRES_OK(ctx, CheckSparse(ids_t, counts_t, v.dim_size(1), op, "N (v.shape[1])"));
    OP_REQUIRES_OK(ctx, CheckSameShape(g_t, ids_t, op, "grad_values", "ids"));
    const int64_t batch = v.dim_size(0), n = v.dim_size(1), cap = ids_t.dim_size(1);
    OP_REQUIRES(ctx, ids_t.dim_size(0) == batch,
                absl::InvalidArgumentError(
                    absl::StrCat(op, ": v and ids must have the same batch size; got ", batch,
                                 " and ", ids_t.dim_size(0))));
    const T th1 = ctx->input(4).scalar<T>()(), beta = ctx->input(5).scalar<T>()();
    OP_REQUIRES_OK(ctx, CheckFinite(th1, op, "th1"));
    OP_REQUIRES_OK(ctx, CheckPositive(beta, op, "beta"));

    Tensor* dv_t;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, v.shape(), &dv_t));
    const T* vp = v.flat<T>().data();
    const int32_t* ids = ids_t.flat<int32_t>().data();
    const int32_t* counts = counts_t.flat<int32_t>().data();
    const T* g = g_t.flat<T>().data();
    T* dv = dv_t->flat<T>().data();
    ParallelFor(ctx, batch, SatAdd(n, SatMul(8, cap)), [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        T* out = dv + b * n;
        std::memset(out, 0, sizeof(T) * n);
        const T* row = vp + b * n;
        const int32_t* id = ids + b * cap;
        const T* gb = g + b * cap;
        for (int32_t i = 0; i < counts[2 * b + 1]; ++i) {
          const T d = beta * std::abs(row[id[i]] - th1) + T(1);
          out[id[i]] += gb[i] / (d * d);
        }
      }
    });
  }
};

#define SNNLIB_REGISTER(T)                                                                      \
  REGISTER_KERNEL_BUILDER(Name("SnnlibSelectSpikes").Device(DEVICE_CPU).TypeConstraint<T>("T"), \
                          SelectSpikesOp<T>);                                                   \
  REGISTER_KERNEL_BUILDER(                                                                      \
      Name("SnnlibSelectSpikesGrad").Device(DEVICE_CPU).TypeConstraint<T>("T"),                 \
      SelectSpikesGradOp<T>);
SNNLIB_REGISTER(float)
SNNLIB_REGISTER(double)
#undef SNNLIB_REGISTER

}  // namespace
}  // namespace snnlib
