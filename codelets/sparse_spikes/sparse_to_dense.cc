// SnnlibSparseToDense / SnnlibSparseToDenseGrad: sparse spike lists -> dense 0/1 spikes.
//
// Forward:  dense[b, ids[b, i]] = 1 for i < counts[b, 0]; every other entry is 0.
// Backward: g_values[b, i] = g_dense[b, ids[b, i]] for i < counts[b, 1], else 0.
// The `values` input carries no data; it fixes the dtype and connects the slot gradient.
// n (the attr, or grad_dense.shape[1]) <= 2**31 - 1: ids are int32.
#include <cstring>

#include "common.h"
#include "tensorflow/core/framework/op.h"

namespace snnlib {
namespace {

using ::tensorflow::DEVICE_CPU;
using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::TensorShape;

REGISTER_OP("SnnlibSparseToDense")
    .Input("ids: int32")
    .Input("counts: int32")
    .Input("values: T")
    .Attr("n: int >= 1")
    .Attr("T: {float, double}")
    .Output("dense: T")
    .SetShapeFn([](InferenceContext* c) -> absl::Status {
      const char* op = "SnnlibSparseToDense";
      ShapeHandle values;
      DimensionHandle batch, cap;
      TF_RETURN_IF_ERROR(SparseShapes(c, 0, 1, op, &batch, &cap));
      TF_RETURN_IF_ERROR(WithRanks(c, op, {{2, 2, "values", "[batch, S]", &values}}));
      TF_RETURN_IF_ERROR(MergeBatch(c, c->Dim(values, 0), batch, op, "values", "ids", &batch));
      int64_t n;
      TF_RETURN_IF_ERROR(c->GetAttr("n", &n));
      TF_RETURN_IF_ERROR(CheckIdRange(n, op, "n"));
      DimensionHandle n_dim = c->MakeDim(n);
      TF_RETURN_IF_ERROR(ShapeElements(c, {batch, n_dim}, op, "dense [batch, n]"));
      c->set_output(0, c->Matrix(batch, n_dim));
      return absl::OkStatus();
    })
    .Doc("dense[b, ids[b, i]] = 1 for the first counts[b, 0] slots.");

REGISTER_OP("SnnlibSparseToDenseGrad")
    .Input("ids: int32")
    .Input("counts: int32")
    .Input("grad_dense: T")
    .Attr("T: {float, double}")
    .Output("grad_values: T")
    .SetShapeFn([](InferenceContext* c) -> absl::Status {
      const char* op = "SnnlibSparseToDenseGrad";
      ShapeHandle g;
      DimensionHandle batch, cap;
      TF_RETURN_IF_ERROR(SparseShapes(c, 0, 1, op, &batch, &cap));
      TF_RETURN_IF_ERROR(WithRanks(c, op, {{2, 2, "grad_dense", "[batch, n]", &g}}));
      TF_RETURN_IF_ERROR(MergeBatch(c, c->Dim(g, 0), batch, op, "grad_dense", "ids", &batch));
      TF_RETURN_IF_ERROR(ShapeIdRange(c, c->Dim(g, 1), op, "n (grad_dense.shape[1])"));
      c->set_output(0, c->Matrix(batch, cap));
      return absl::OkStatus();
    })
    .Doc("Gradient of SnnlibSparseToDense w.r.t. the slot values.");

template <typename T>
class SparseToDenseOp : public OpKernel {
 public:
  explicit SparseToDenseOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("n", &n_));
    OP_REQUIRES(
        ctx, n_ >= 1,
        absl::InvalidArgumentError(absl::StrCat("SnnlibSparseToDense: n must be >= 1; got ", n_)));
    OP_REQUIRES_OK(ctx, CheckIdRange(n_, "SnnlibSparseToDense", "n"));
  }

  void Compute(OpKernelContext* ctx) override {
    const char* op = "SnnlibSparseToDense";
    const Tensor& ids_t = ctx->input(0);
    const Tensor& counts_t = ctx->input(1);
    OP_REQUIRES_OK(ctx, CheckSparse(ids_t, counts_t, n_, op, "n"));
    OP_REQUIRES_OK(ctx, CheckSameShape(ctx->input(2), ids_t, op, "values", "ids"));
    const int64_t batch = ids_t.dim_size(0), cap = ids_t.dim_size(1), n = n_;
    Tensor* d_t;
    OP_REQUIRES_OK(ctx,
                   AllocateOutput(ctx, 0, {batch, n}, op, "dense [batch (ids.shape[0]), n]", &d_t));
    const int32_t* ids = ids_t.flat<int32_t>().data();
    const int32_t* counts = counts_t.flat<int32_t>().data();
    T* dense = d_t->flat<T>().data();
    ParallelFor(ctx, batch, SatAdd(n, SatMul(4, cap)), [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        T* out = dense + b * n;
        std::memset(out, 0, sizeof(T) * n);
        const int32_t* id = ids + b * cap;
        for (int32_t i = 0; i < counts[2 * b]; ++i) out[id[i]] = T(1);
      }
    });
  }

 private:
  int64_t n_;
};

template <typename T>
class SparseToDenseGradOp : public OpKernel {
 public:
  explicit SparseToDenseGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {}

  void Compute(OpKernelContext* ctx) override {
    const char* op = "SnnlibSparseToDenseGrad";
    const Tensor& ids_t = ctx->input(0);
    const Tensor& counts_t = ctx->input(1);
    const Tensor& g_t = ctx->input(2);
    OP_REQUIRES_OK(ctx, CheckMatrix(g_t, op, "grad_dense"));
    OP_REQUIRES_OK(ctx, CheckIdRange(g_t.dim_size(1), op, "n (grad_dense.shape[1])"));
    OP_REQUIRES_OK(ctx,
                   CheckSparse(ids_t, counts_t, g_t.dim_size(1), op, "n (grad_dense.shape[1])"));
    const int64_t batch = ids_t.dim_size(0), cap = ids_t.dim_size(1), n = g_t.dim_size(1);
    OP_REQUIRES(ctx, g_t.dim_size(0) == batch,
                absl::InvalidArgumentError(
                    absl::StrCat(op, ": grad_dense and ids must have the same batch size; got ",
                                 g_t.dim_size(0), " and ", batch)));
    Tensor* gv_t;
    OP_REQUIRES_OK(ctx, AllocateOutput(ctx, 0, {batch, cap}, op, "grad_values [batch, S]", &gv_t));
    const int32_t* ids = ids_t.flat<int32_t>().data();
    const int32_t* counts = counts_t.flat<int32_t>().data();
    const T* g = g_t.flat<T>().data();
    T* gv = gv_t->flat<T>().data();
    ParallelFor(ctx, batch, SatMul(4, cap), [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const int32_t* id = ids + b * cap;
        const int32_t c1 = counts[2 * b + 1];
        for (int64_t i = 0; i < cap; ++i) gv[b * cap + i] = i < c1 ? g[b * n + id[i]] : T(0);
      }
    });
  }
};

#define SNNLIB_REGISTER(T)                                                                       \
  REGISTER_KERNEL_BUILDER(Name("SnnlibSparseToDense").Device(DEVICE_CPU).TypeConstraint<T>("T"), \
                          SparseToDenseOp<T>);                                                   \
  REGISTER_KERNEL_BUILDER(                                                                       \
      Name("SnnlibSparseToDenseGrad").Device(DEVICE_CPU).TypeConstraint<T>("T"),                 \
      SparseToDenseGradOp<T>);
SNNLIB_REGISTER(float)
SNNLIB_REGISTER(double)
#undef SNNLIB_REGISTER

}  // namespace
}  // namespace snnlib
