// SnnlibSparseLifLayer / SnnlibSparseLifLayerGrad: one LIF layer over a whole sequence on
// index lists (the seed's "sparse_layer", fused per layer; DESIGN.md sections 3-5).
//
// Time-major shapes: input spikes (in_ids [T, B, S_in], in_counts [T, B, 2]), weights
// W [N_in, N] (in, out: the Keras kernel layout, so an input spike selects the contiguous row
// W[id, :]). Forward, per sample b and step t (c = (1 - alpha) * gain):
//   I_t[n] = sum_{i < in_counts[t, b, 0]} W[in_ids[t, b, i], n]
//   V_t[n] = alpha * (V_{t-1}[n] >= th1 ? 0 : V_{t-1}[n]) + c * I_t[n]        (V_{-1} = 0)
//   out    = spikes (V >= th1) ascending, then candidates (th2 <= V < th1) ascending, <= S slots
// Outputs: out_ids [T, B, S], out_counts [T, B, 2], out_values [T, B, S] (1 for spikes),
// dropped [T, B] (spikes that did not fit), v_listed [T, B, S] (V at the listed neurons, kept
// for the backward pass: O(T B S) storage), potentials [T, B, N] only if return_potentials.
// `input_grad` only tells the gradient whether the input slots need a gradient (input data
// does not; it may pass in_values as exactly [0, 0, 0]). With `input_delay` the layer reads its
// input one step late: I_t is summed over the input of step t - 1 (none at t = 0), the delay
// between the layers of the seed's network, without the copy of the whole lists (and of their
// gradient) that shifting them before the call costs.
//
// Backward, with g = dL/d out_values (and optionally dL/d potentials):
//   h_t[n]  = g_t[i] / (beta |V_t[n] - th1| + 1)^2 for listed n = out_ids[t, b, i], i < counts1
//   dV_t    = h_t + alpha * dV_{t+1}            (reset under stop-gradient: dV_t/dV_{t-1} = alpha)
//   dI_t    = c * dV_t
//   dW[in_ids[t, b, i], n] += dI_t[n]            for i < in_counts[t, b, 0] (real input spikes)
//   g_in[t, b, i] = sum_n W[in_ids[t, b, i], n] dI_t[n]  for i < in_counts[t, b, 1]
// so dW is nonzero only on the rows of input neurons that spiked.
//
// Work layout: all work runs over blocks of neurons (64 forward; backward 128 with AVX-512 where
// every thread still gets a block, else 64, or 32 without AVX-512; see GradBlock). A layer of at
// most 16 or 32 neurons (a readout) gathers panels only that wide in the forward pass and takes a
// row-by-row backward (NarrowRows). A block's weights, the column slab W[:, n0 : n0 + width], are
// copied once per call (one contiguous row segment per input; in the forward, once per part of a
// block whose samples are split between threads) into a panel [in, width] that stays in cache. The
// forward's blocks and the row passes are pieces that the pool threads take as they finish the last
// (ParallelItems); the backward's blocks are one contiguous range per thread (ParallelRanges: each
// range sums its share of the slot gradients in its own buffer, in a fixed order).
// Forward: the thread walks every row r = t * B + b in memory order (step outer, sample inner, with
// the state of every sample in a small [B, width] buffer; a layer of fewer blocks than threads
// splits each block's samples between threads), gathers the panel rows of the row's input spikes
// and records per (block, row) two 64-bit masks (spikes, candidates; vector compares) and the
// potentials of flagged neurons only (packed); the selection then reads masks, not dense
// potentials.
// Backward (wider layers): the input slots are first grouped by input neuron per chunk of steps (a
// counting sort, once per call). Per block and chunk, from the last chunk to the first, the
// reverse-time filter writes the chunk's dI rows ([rows of the chunk, width], 64-256 KB by
// ChunkSteps: in L2), then each input neuron j listed in the chunk is visited once with W[j, block]
// and its dW accumulator in registers: dW[j, block] += dI rows where j spiked, slot gradient =
// W[j, block] . dI row for each listed slot of j (accumulated per entry, scattered to the slots
// once at the end). The surrogate injections are computed once per call in slot order; the filter
// of each block picks its own from a row's listed ids (InjectRow). The checks of the listed ids
// and potentials, the injections and the chunk sort run as one pass of pool pieces. No dense
// [T, B, N] buffer or transpose; the accumulators are vectors of the native width of each ISA
// build (SNNLIB_BY_WIDTH in simd.h).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
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

constexpr int64_t kBlock = 64;      // neurons per block of the forward pass (64-bit masks)
// Neurons per block of the backward pass (see BackwardBlocks): a power of 2 from kGradBlockMin
// to kGradBlockMaxOf, 128 with 64-byte vectors (its weights, dW accumulator and dI row then fill
// 24 of the 32 AVX-512 registers), else 32 (12 of the 16 AVX2 registers).
constexpr int64_t kGradBlockMin = 16;
// Layers of at most this many neurons (one block of 16 or 32) take the row-by-row backward
// (NarrowRows) instead of the grouped one (BackwardBlocks).
constexpr int64_t kNarrowMost = 32;
template <int kBytes>
constexpr int64_t kGradBlockMaxOf = kBytes >= 64 ? 128 : 32;
// The narrowest power of 2 from kGradBlockMin that holds n neurons, at most `most`: the width
// of a layer's blocks (a readout of 10 neurons walks 16, not 64 or 128).
inline int64_t NarrowestWidth(int64_t n, int64_t most) {
  int64_t width = kGradBlockMin;
  while (width < n && width < most) width *= 2;
  return width;
}
// The block width of the backward pass for a layer of n neurons on `threads` pool threads, as
// the build SNNLIB_BY_WIDTH runs on this CPU: the narrowest that holds the layer, at most the
// build's widest, and at most 64 when the widest would leave a thread without a block. The
// per-entry work (the lane sums of w . d, the loop) is shared by more neurons in a wider block:
// 128 took 0.94-0.98 of the time of 64 for the gradient of a 980 -> 980 layer at 1 % and 5 %
// activity (paired A/B).
inline int64_t GradBlock(int64_t n, int64_t threads) {
  const int bytes = VectorBytes();
  int64_t most = bytes == 64 ? kGradBlockMaxOf<64> : kGradBlockMaxOf<32>;
  if (most > 64 && n < most * threads) most = 64;
  return NarrowestWidth(n, most);
}
// The backward pass's chunks of steps (ChunkEntries): a chunk's dI rows of one block take at
// least kChunkBytes and at most kChunkBytesMax (in L2 beside the block's W and dW panels).
constexpr int64_t kChunkBytes = 65536, kChunkBytesMax = 262144;
// Each visit of an input neuron in a chunk loads and stores its W and dW segments: chunks grow
// (up to kChunkBytesMax) until an average input neuron is listed this many times per chunk.
constexpr int64_t kEntriesPerVisit = 16;

// Steps per chunk for `entries` listed input slots over t_len * batch rows of `row_bytes` dI
// each: the fewest rows with kEntriesPerVisit entries per input neuron, within the byte bounds.
inline int64_t ChunkSteps(int64_t entries, int64_t t_len, int64_t batch, int64_t n_in,
                          int64_t row_bytes) {
  const int64_t least = std::max<int64_t>(1, kChunkBytes / row_bytes);
  const int64_t most = std::max<int64_t>(least, kChunkBytesMax / row_bytes);
  const double per_row = static_cast<double>(entries) / static_cast<double>(t_len * batch);
  const double wanted = per_row > 0 ? kEntriesPerVisit * static_cast<double>(n_in) / per_row
                                    : static_cast<double>(most);
  const int64_t chunk_rows = std::clamp<int64_t>(static_cast<int64_t>(std::min(wanted, 1e15)),
                                                 least, most);
  return std::max<int64_t>(1, chunk_rows / batch);
}

// Whether every id of ids[0 : count) lies in [0, n): their largest, read as unsigned (a
// negative id then exceeds every n), is below n. Branch-free so that it vectorises: with an
// exit per id, the checks of the fused layer's ids took about 2.5 % of a training step.
inline bool IdsInRange(const int32_t* ids, int32_t count, int64_t n) {
  uint32_t most = 0;
  for (int32_t i = 0; i < count; ++i) most = std::max(most, static_cast<uint32_t>(ids[i]));
  return count == 0 || static_cast<int64_t>(most) < n;
}

// Shape checks of a time-major sparse sequence: ids [T, B, S], counts [T, B, 2].
absl::Status CheckSequenceShapes(const Tensor& ids, const Tensor& counts, const char* op,
                                 const char* ids_name, const char* counts_name) {
  if (ids.dims() != 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        op, ": ", ids_name, " must be rank 3 [time, batch, S]; got ", ids.shape().DebugString()));
  }
  if (counts.dims() != 3 || counts.dim_size(2) != 2 || counts.dim_size(0) != ids.dim_size(0) ||
      counts.dim_size(1) != ids.dim_size(1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        op, ": ", counts_name, " must have shape [time, batch, 2] = [", ids.dim_size(0), ", ",
        ids.dim_size(1), ", 2]; got ", counts.shape().DebugString()));
  }
  return absl::OkStatus();
}

// The contents of a sequence of checked shapes: counts in [0, S] with counts0 <= counts1, and
// (if `ids_too`) the listed slots' ids in [0, n). The rows are checked in order, so the error
// names the first bad row.
absl::Status CheckSequenceRows(const Tensor& ids, const Tensor& counts, int64_t n, const char* op,
                               const char* ids_name, const char* counts_name, bool ids_too) {
  const int64_t rows = ids.dim_size(0) * ids.dim_size(1), cap = ids.dim_size(2);
  const int32_t* id = ids.flat<int32_t>().data();
  const int32_t* cnt = counts.flat<int32_t>().data();
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t c0 = cnt[2 * r], c1 = cnt[2 * r + 1];
    if (c0 < 0 || c1 < 0 || c0 > cap || c1 > cap || c0 > c1) {
      return absl::InvalidArgumentError(absl::StrCat(
          op, ": ", counts_name, " must satisfy 0 <= counts[..., 0] <= counts[..., 1] <= S = ", cap,
          "; got (", c0, ", ", c1, ") at flat row ", r));
    }
    if (!ids_too || IdsInRange(id + r * cap, c1, n)) continue;
    for (int32_t i = 0; i < c1; ++i) {
      const int32_t v = id[r * cap + i];
      if (v < 0 || v >= n) {
        return absl::InvalidArgumentError(absl::StrCat(op, ": ", ids_name, " must lie in [0, ", n,
                                                       "); got ", v, " at flat row ", r, ", slot ",
                                                       i));
      }
    }
  }
  return absl::OkStatus();
}

// Shape checks of a time-major sparse sequence (ids [T, B, S], counts [T, B, 2]) and its
// contents: counts in [0, S], counts0 <= counts1, ids in [0, n) for listed slots.
absl::Status CheckSequence(const Tensor& ids, const Tensor& counts, int64_t n, const char* op,
                           const char* ids_name, const char* counts_name) {
  absl::Status s = CheckSequenceShapes(ids, counts, op, ids_name, counts_name);
  if (s.ok()) s = CheckSequenceRows(ids, counts, n, op, ids_name, counts_name, true);
  return s;
}

// The neuron constants, passed as one tensor [alpha, gain, th1, th2, beta] of the op's dtype
// (so float64 runs use exact float64 constants). Domains: 0 < alpha < 1; gain and beta finite
// and > 0; th1 finite; th2 = -inf ("no second threshold") or finite and <= th1.
template <typename T>
struct Constants {
  T alpha, gain, th1, th2, beta;
};

template <typename T>
absl::Status ReadConstants(const Tensor& t, const char* op, Constants<T>* k) {
  if (t.dims() != 1 || t.dim_size(0) != 5) {
    return absl::InvalidArgumentError(
        absl::StrCat(op, ": constants must be [alpha, gain, th1, th2, beta] (shape [5]); got ",
                     t.shape().DebugString()));
  }
  const T* c = t.flat<T>().data();
  *k = Constants<T>{c[0], c[1], c[2], c[3], c[4]};
  if (!(k->alpha > T(0) && k->alpha < T(1))) {
    return absl::InvalidArgumentError(absl::StrCat(
        op, ": alpha (constants[0]) must be in (0, 1); got ", static_cast<double>(k->alpha)));
  }
  absl::Status s = CheckPositive(k->gain, op, "gain (constants[1])");
  if (s.ok()) s = CheckFinite(k->th1, op, "th1 (constants[2])");
  if (s.ok()) s = CheckTh2(k->th2, k->th1, op, "th2 (constants[3])");
  if (s.ok()) s = CheckPositive(k->beta, op, "beta (constants[4])");
  return s;
}

// Whether x[0 : count) are all finite: no value has an exponent of all ones (inf and nan do).
// Branch-free on the bits, so that it vectorises (an exit per value took about 1.4 % of a
// training step).
template <typename T>
inline bool AllFinite(const T* x, int32_t count) {
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  const T inf = std::numeric_limits<T>::infinity();  // its bits: the exponent all ones
  Bits exponent;
  std::memcpy(&exponent, &inf, sizeof(exponent));
  Bits any = 0;
  for (int32_t i = 0; i < count; ++i) {
    Bits bits;
    std::memcpy(&bits, x + i, sizeof(bits));
    any |= static_cast<Bits>((bits & exponent) == exponent);
  }
  return any == 0;
}

// The entries of `t` [time, batch, S] read by the listed slots i < counts[..., 1] must be
// finite (padding slots may hold anything).
template <typename T>
absl::Status CheckListedFinite(const Tensor& t, const Tensor& counts, const char* op,
                               const char* name) {
  static_assert(std::numeric_limits<T>::is_iec559, "IEEE 754 values");
  const int64_t rows = counts.NumElements() / 2, cap = t.dim_size(2);
  const T* x = t.flat<T>().data();
  const int32_t* cnt = counts.flat<int32_t>().data();
  for (int64_t r = 0; r < rows; ++r) {
    if (AllFinite(x + r * cap, cnt[2 * r + 1])) continue;
    for (int32_t i = 0; i < cnt[2 * r + 1]; ++i) {
      if (!std::isfinite(static_cast<double>(x[r * cap + i]))) {
        return absl::InvalidArgumentError(absl::StrCat(
            op, ": ", name, " must be finite at the listed slots; got ",
            static_cast<double>(x[r * cap + i]), " at flat row ", r, ", slot ", i));
      }
    }
  }
  return absl::OkStatus();
}

// --- hot loops, compiled for AVX-512, AVX2 and baseline (chosen at load time) ------------

// Sizes and pointers shared by the loops of one call.
template <typename T>
struct LayerArgs {
  int64_t n, n_in, t_len, batch, s_in, n_blocks;
  const T* w;              // weights [in, out] = [n_in, n]
  const int32_t* ids;      // input ids [T, B, S_in]
  const int32_t* counts;   // input counts [T, B, 2]
  T alpha, scale, th1, th2, beta;
  // Rows of input delay: row r of the layer reads the input row r - lag, none for r < lag
  // (lag = B: the input of step t drives step t + 1; see the attr input_delay).
  int64_t lag;
  int64_t rows() const { return t_len * batch; }
  // The ids of the input of row r (r >= lag) and its count k (0: spikes, 1: listed; 0 for
  // r < lag).
  const int32_t* in_ids(int64_t r) const { return ids + (r - lag) * s_in; }
  int32_t in_count(int64_t r, int k) const { return r < lag ? 0 : counts[2 * (r - lag) + k]; }
};

// Copies nb <= kWidth values from src to dst: a constant-size copy (inlined vector moves) for
// a full block, a library memcpy only for the last, partial one.
template <int64_t kWidth, typename T>
SNNLIB_INLINE void CopySegment(T* dst, const T* src, int64_t nb) {
  if (nb == kWidth) {
    std::memcpy(dst, src, kWidth * sizeof(T));
  } else {
    std::memcpy(dst, src, nb * sizeof(T));
  }
}

// The panel of one neuron block: panel[j * kWidth + k] = W[j, n0 + k] (row j of the panel is
// the contiguous segment W[j, n0 : n0 + nb]); columns k >= nb are zero.
template <int64_t kWidth, typename T>
SNNLIB_INLINE void LoadPanel(const LayerArgs<T>& a, int64_t n0, T* panel) {
  const int64_t nb = std::min(kWidth, a.n - n0);
  for (int64_t j = 0; j < a.n_in; ++j) {
    T* dst = panel + j * kWidth;
    CopySegment<kWidth>(dst, a.w + j * a.n + n0, nb);
    std::fill(dst + nb, dst + kWidth, T(0));
  }
}

// What the forward pass records per (block, row), for the selection: the masks of the block's
// spikes and candidates, and where the row's packed potentials of the block start. One record
// instead of three arrays: the selection walks every block's records of a row, so this halves
// the memory streams it follows.
struct BlockRow {
  uint64_t spk, cand;
  int64_t at;
};

// Forward for neuron block blk and samples [b0, b1): the membrane recursion of <= 64 neurons
// of those samples over all steps, from the block's weight panel [in, kWidth] (kept in cache;
// kWidth < 64 only for a layer of at most kWidth neurons, whose other lanes stay 0). Their rows
// r = t * B + b are visited in memory order (step outer, sample inner; `state` [B, 64] holds
// the potentials of every sample of the block), so every array is read and written
// sequentially. Writes the record of every (block, row) visited (`rec` [n_blocks, rows]), the
// potentials of the flagged neurons (spikes and candidates) packed per block and sample range:
// block blk's in `v_flagged` + blk * rows * 64, those of samples [b0, b1) from T * b0 * 64 on,
// row after row, each row's in ascending neuron order from rec[blk * rows + r].at on (only
// what the selection reads: a few values per row, not [rows, 64]), and all potentials into
// `v_all` [rows, N] when it is not null.
template <int kBytes, int64_t kWidth, typename T>
SNNLIB_INLINE void ForwardBlocksImpl(const LayerArgs<T>& a, int64_t blk, int64_t b0, int64_t b1,
                                     T* panel, T* state, BlockRow* rec, T* v_flagged, T* v_all) {
  using V = typename VecOf<T, kBytes>::type;
  constexpr int kPer = sizeof(V) / sizeof(T), kVecs = kBlock / kPer;
  constexpr int kGathered = kWidth / kPer;  // the vectors of a panel row
  static_assert(kWidth % kPer == 0 && kWidth <= kBlock, "whole vectors of one block");
  constexpr uint32_t kLaneBits = static_cast<uint32_t>((uint64_t{1} << kPer) - 1);
  const T flag_min = std::min(a.th1, a.th2);
  const V th1 = V{} + a.th1;
  const int64_t rows = a.rows();
  const int64_t n0 = blk * kBlock, nb = std::min(kBlock, a.n - n0);
  const uint64_t valid = nb == kBlock ? ~uint64_t{0} : (uint64_t{1} << nb) - 1;
  LoadPanel<kWidth>(a, n0, panel);
  std::fill(state + b0 * kBlock, state + b1 * kBlock, T(0));
  T* packed = v_flagged + blk * rows * kBlock;
  int64_t at = a.t_len * b0 * kBlock;
  for (int64_t t = 0; t < a.t_len; ++t) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t r = t * a.batch + b;
      T* v = state + b * kBlock;
      V sum[kVecs];
      for (int j = 0; j < kVecs; ++j) sum[j] = V{};
      const int32_t* row_ids = a.in_ids(r);
      const int32_t spikes = a.in_count(r, 0);
      for (int32_t i = 0; i < spikes; ++i) {
        const T* w_row = panel + static_cast<int64_t>(row_ids[i]) * kWidth;
        for (int j = 0; j < kGathered; ++j) sum[j] += LoadU<V>(w_row + j * kPer);
      }
      for (int j = 0; j < kVecs; ++j) {
        const V prev = LoadU<V>(v + j * kPer);
        StoreU(v + j * kPer, a.alpha * (prev >= th1 ? V{} : prev) + a.scale * sum[j]);
      }
      // Vector compares: the flagged neurons (v >= min(th1, th2)), and among them the spikes;
      // the candidates are the flagged that do not spike.
      const uint64_t flag = GeBits64<V>(v, flag_min) & valid;
      uint64_t spk = 0, cand = 0;
      if (flag) {
        spk = GeBits64<V>(v, a.th1) & valid;
        cand = flag & ~spk;
        rec[blk * rows + r].at = at;
        if constexpr (kBytes == 64) {
          // One compress and one whole-vector store per vector with flagged lanes. The store
          // may write past the row's last value (overwritten by the next rows), never past the
          // region of the samples [b0, b1), [T b0 64, T b1 64): before vector j of the k-th row
          // visited (k < T (b1 - b0)), at <= T b0 64 + 64 k + kPer j.
          for (int j = 0; j < kVecs; ++j) {
            const uint32_t m = static_cast<uint32_t>(flag >> (j * kPer)) & kLaneBits;
            if (m) {
              StoreU(packed + at, Compress512(LoadU<V>(v + j * kPer), m));
              at += __builtin_popcount(m);
            }
          }
        } else {
          for (uint64_t m = flag; m; m &= m - 1) packed[at++] = v[__builtin_ctzll(m)];
        }
      }
      if (v_all) std::copy(v, v + nb, v_all + r * a.n + n0);
      rec[blk * rows + r].spk = spk;
      rec[blk * rows + r].cand = cand;
    }
  }
}

// The input slots of the backward pass grouped by input neuron, per chunk of steps: the
// weight gradient and the slot gradient of input neuron j both read the block's dI at the rows
// where j is listed, so each chunk visits its neurons once, with W[j, block] and the dW
// accumulator in registers and the chunk's dI rows in cache (the transposed view of in_ids).
// Chunk c covers steps [c * steps, (c + 1) * steps), rows r0 = c * steps * B onwards; its
// entries are beg[c] .. beg[c + 1] in the arrays `row` (r - r0) and `slot` (i, the slot of
// in_ids[r]); its groups are gfirst[c] .. gfirst[c] + gnum[c]: group q is input neuron gid[q]
// with entries [end of group q - 1 (0 for the first), gend[q]) counted from beg[c], its real
// spikes (i < counts[r, 0]) before gspk[q] and its candidates after.
struct ChunkEntries {
  int64_t steps, n_chunks;
  int64_t* beg;
  int32_t* row;
  int32_t* slot;
  int64_t* gfirst;
  int64_t* gnum;
  int32_t* gid;
  int64_t* gspk;
  int64_t* gend;
};

// Fills chunk c of `ce` (its offsets beg and gfirst already set): a counting sort
// of the chunk's listed input slots by the key 2 * id + (candidate ? 1 : 0), so each neuron's
// spikes precede its candidates. `hist` is scratch of 2 * n_in + 1 entries. `listed_of(r)` is
// how many slots of row r take part (counts[r, 1] with an input gradient, else counts[r, 0]).
template <typename T, typename Listed>
void BuildChunk(const LayerArgs<T>& a, const ChunkEntries& ce, int64_t c, Listed listed_of,
                int64_t* hist) {
  const int64_t r0 = c * ce.steps * a.batch;
  const int64_t r1 = std::min(a.t_len, (c + 1) * ce.steps) * a.batch;
  std::fill(hist, hist + 2 * a.n_in + 1, int64_t{0});
  for (int64_t r = r0; r < r1; ++r) {
    const int32_t* ids = a.in_ids(r);
    const int32_t spk = a.in_count(r, 0), listed = listed_of(r);
    if (!IdsInRange(ids, listed, a.n_in)) continue;  // the caller reports the row
    for (int32_t i = 0; i < listed; ++i) ++hist[2 * int64_t{ids[i]} + (i >= spk) + 1];
  }
  for (int64_t key = 0; key < 2 * a.n_in; ++key) hist[key + 1] += hist[key];
  int32_t* gid = ce.gid + ce.gfirst[c];
  int64_t* gspk = ce.gspk + ce.gfirst[c];
  int64_t* gend = ce.gend + ce.gfirst[c];
  int64_t groups = 0;
  for (int64_t j = 0; j < a.n_in; ++j) {
    if (hist[2 * j + 2] == hist[2 * j]) continue;
    gid[groups] = static_cast<int32_t>(j);
    gspk[groups] = hist[2 * j + 1];
    gend[groups] = hist[2 * j + 2];
    ++groups;
  }
  ce.gnum[c] = groups;
  int32_t* row = ce.row + ce.beg[c];
  int32_t* slot = ce.slot + ce.beg[c];
  for (int64_t r = r0; r < r1; ++r) {
    const int32_t* ids = a.in_ids(r);
    const int32_t spk = a.in_count(r, 0), listed = listed_of(r);
    if (!IdsInRange(ids, listed, a.n_in)) continue;
    for (int32_t i = 0; i < listed; ++i) {
      const int64_t at = hist[2 * int64_t{ids[i]} + (i >= spk)]++;
      row[at] = static_cast<int32_t>(r - r0);
      slot[at] = i;
    }
  }
}

// The surrogate injections of the listed output slots, in slot order: h[r * s + i] =
// g / (beta |v - th1| + 1)^2 of slot i of row r, into neuron ids[r * s + i], for the listed
// slots i < counts[2 r + 1] (out_ids [rows, s], out_counts [rows, 2]).
template <typename T>
struct Injections {
  const int32_t* ids;
  const int32_t* counts;
  const T* h;
  int64_t s;
};

// Bit l of the result is whether slot i + l of a row's listed ids (slots before `end`) lies in
// [lo, lo + kWidth): one vector compare (InRangeBits) where a whole vector fits in the row's
// s slots (the lanes from `end` on masked off), else one slot at a time.
template <int kBytes, int64_t kWidth>
SNNLIB_INLINE uint32_t ListedInRangeBits(const int32_t* ids, int32_t i, int32_t end, int64_t s,
                                         int32_t lo) {
  constexpr int32_t kIds = kBytes / sizeof(int32_t);
  uint32_t bits = 0;
  if (i + kIds <= s) {
    bits = InRangeBits<kBytes>(ids + i, lo, kWidth);
    if (end - i < kIds) bits &= (uint32_t{1} << (end - i)) - 1;
  } else {
    for (int32_t l = 0; l < end - i; ++l) {
      bits |= static_cast<uint32_t>(static_cast<uint32_t>(ids[i + l] - lo) < kWidth) << l;
    }
  }
  return bits;
}

// Adds to dv [kWidth] the injections of row r into the neurons [n0, n0 + kWidth), in slot
// order. The row's listed ids are compared a vector at a time (ListedInRangeBits), so each
// block visits only its own few of a row's injections; no per-call grouping of the slots by
// block. The AVX-512 build first compresses the slot numbers of a segment's hits into one list
// (one loop over the hits instead of one per vector: the 980 -> 980 gradient at 5 % took 0.895
// of the time of the per-block bucketing it replaced, against 0.933 with a loop per vector;
// paired op A/B).
template <int kBytes, int64_t kWidth, typename T>
SNNLIB_INLINE void InjectRow(const Injections<T>& inj, int64_t r, int64_t n0, T* dv) {
  constexpr int32_t kIds = kBytes / sizeof(int32_t);
  const int32_t* ids = inj.ids + r * inj.s;
  const T* h = inj.h + r * inj.s;
  const int32_t listed = inj.counts[2 * r + 1], lo = static_cast<int32_t>(n0);
  if constexpr (kBytes == 64) {
    typedef typename IdVec<64>::Signed IV;
    constexpr int32_t kSegment = 256;
    int32_t found_at[kSegment + kIds];
    IV lane;
    for (int32_t l = 0; l < kIds; ++l) lane[l] = l;
    for (int32_t seg = 0; seg < listed; seg += kSegment) {
      const int32_t end = std::min(listed, seg + kSegment);
      int32_t found = 0;
      for (int32_t i = seg; i < end; i += kIds) {
        const uint32_t bits = ListedInRangeBits<kBytes, kWidth>(ids, i, end, inj.s, lo);
        StoreU(found_at + found, CompressIds512(lane + i, bits));
        found += __builtin_popcount(bits);
      }
      for (int32_t q = 0; q < found; ++q) {
        const int32_t at = found_at[q];
        dv[ids[at] - lo] += h[at];
      }
    }
  } else {
    for (int32_t i = 0; i < listed; i += kIds) {
      uint32_t bits = ListedInRangeBits<kBytes, kWidth>(ids, i, listed, inj.s, lo);
      for (; bits; bits &= bits - 1) {
        const int32_t at = i + __builtin_ctz(bits);
        dv[ids[at] - lo] += h[at];
      }
    }
  }
}

// The dI rows of one chunk for the neuron block at n0 (nb real neurons), steps from last to
// first (c = scale): FilterRow, then dbuf[r - r0, :] = c * dv.
//
// One step of the reverse-time filter of row r for the neuron block at n0 (nb real neurons):
// dv = alpha * dv + gp_t + h_t (the row's injections into the block: InjectRow).
template <int kBytes, int64_t kGradBlock, typename T>
SNNLIB_INLINE void FilterRow(const LayerArgs<T>& a, int64_t r, int64_t n0, int64_t nb,
                             const Injections<T>& inj, const T* gp, T* dv) {
  for (int64_t k = 0; k < kGradBlock; ++k) dv[k] *= a.alpha;
  if (gp) {
    const T* gp_row = gp + r * a.n + n0;
    for (int64_t k = 0; k < nb; ++k) dv[k] += gp_row[k];  // padding neurons stay 0
  }
  InjectRow<kBytes, kGradBlock>(inj, r, n0, dv);
}

template <int kBytes, int64_t kGradBlock, typename T>
SNNLIB_INLINE void FilterChunk(const LayerArgs<T>& a, int64_t t0, int64_t t1, int64_t n0,
                               int64_t nb, const Injections<T>& inj, const T* gp, T* state,
                               T* dbuf) {
  const int64_t r0 = t0 * a.batch;
  for (int64_t t = t1 - 1; t >= t0; --t) {
    for (int64_t b = 0; b < a.batch; ++b) {
      const int64_t r = t * a.batch + b;
      T* dv = state + b * kGradBlock;
      FilterRow<kBytes, kGradBlock>(a, r, n0, nb, inj, gp, dv);
      T* di = dbuf + (r - r0) * kGradBlock;
      for (int64_t k = 0; k < kGradBlock; ++k) di[k] = a.scale * dv[k];
    }
  }
}

// Backward, for neuron blocks [blk0, blk1), chunks of steps from last to first: the chunk's dI
// rows (FilterChunk), then per input neuron j listed in the chunk (ChunkEntries), with
// w = W[j, block] and d_r = dbuf[r - r0, :]:
//   dpanel[j, :] += sum of d_r over the rows r where j spiked     (the block's slab of dW)
//   psum[e]      += w . d_r  for every listed entry e of j (if psum: the slot gradient, in
//                            entry order, scattered to its slots once after all blocks)
// The lane vectors of kPer consecutive entries are summed at once (SumLanes). At the end of a
// block its dW panel is written to the columns n0 .. n0 + nb of `gw` [in, out]: one contiguous
// row segment per input neuron (zero for inputs that never spiked).
template <int kBytes, int64_t kGradBlock, typename T>
SNNLIB_INLINE void BackwardBlocksImpl(const LayerArgs<T>& a, const ChunkEntries& ce,
                                      int64_t blk0, int64_t blk1, const Injections<T>& inj,
                                      const T* gp, T* panel, T* dpanel, T* state, T* dbuf,
                                      T* gw, T* psum) {
  using V = typename VecOf<T, kBytes>::type;
  constexpr int kPer = sizeof(V) / sizeof(T), kVecs = kGradBlock / kPer;
  V lanes[kPer];
  for (int64_t blk = blk0; blk < blk1; ++blk) {
    const int64_t n0 = blk * kGradBlock, nb = std::min(kGradBlock, a.n - n0);
    if (psum) LoadPanel<kGradBlock>(a, n0, panel);
    std::fill(dpanel, dpanel + a.n_in * kGradBlock, T(0));
    std::fill(state, state + a.batch * kGradBlock, T(0));
    for (int64_t c = ce.n_chunks - 1; c >= 0; --c) {
      const int64_t t0 = c * ce.steps, t1 = std::min(a.t_len, t0 + ce.steps);
      FilterChunk<kBytes, kGradBlock>(a, t0, t1, n0, nb, inj, gp, state, dbuf);
      const int32_t* row = ce.row + ce.beg[c];
      T* sum_at = psum ? psum + ce.beg[c] : nullptr;
      int fill = 0;
      int64_t begin = 0;
      const int64_t q_end = ce.gfirst[c] + ce.gnum[c];
      for (int64_t q = ce.gfirst[c]; q < q_end; ++q) {
        const int64_t j = ce.gid[q], mid = ce.gspk[q], end = ce.gend[q];
        V w[kVecs], acc[kVecs], d[kVecs];
        for (int v = 0; v < kVecs; ++v) acc[v] = V{};
        if (!psum) {
          for (int64_t e = begin; e < mid; ++e) {
            const T* d_row = dbuf + static_cast<int64_t>(row[e]) * kGradBlock;
            for (int v = 0; v < kVecs; ++v) acc[v] += LoadU<V>(d_row + v * kPer);
          }
        } else {
          for (int v = 0; v < kVecs; ++v) w[v] = LoadU<V>(panel + j * kGradBlock + v * kPer);
          // One entry's lane vector of w . d_r; every kPer of them, their sums into psum.
          auto dot = [&]() {
            V lane = w[0] * d[0];
            for (int v = 1; v < kVecs; ++v) lane += w[v] * d[v];
            lanes[fill] = lane;
            if (++fill == kPer) {
              StoreU(sum_at, LoadU<V>(sum_at) + SumLanes(lanes));
              sum_at += kPer;
              fill = 0;
            }
          };
          for (int64_t e = begin; e < mid; ++e) {
            const T* d_row = dbuf + static_cast<int64_t>(row[e]) * kGradBlock;
            for (int v = 0; v < kVecs; ++v) d[v] = LoadU<V>(d_row + v * kPer);
            for (int v = 0; v < kVecs; ++v) acc[v] += d[v];
            dot();
          }
          for (int64_t e = mid; e < end; ++e) {
            const T* d_row = dbuf + static_cast<int64_t>(row[e]) * kGradBlock;
            for (int v = 0; v < kVecs; ++v) d[v] = LoadU<V>(d_row + v * kPer);
            dot();
          }
        }
        T* dst = dpanel + j * kGradBlock;
        for (int v = 0; v < kVecs; ++v) StoreU(dst + v * kPer, LoadU<V>(dst + v * kPer) + acc[v]);
        begin = end;
      }
      if (psum && fill) {
        for (int s = fill; s < kPer; ++s) lanes[s] = V{};
        StoreN(sum_at, LoadN<V>(sum_at, fill) + SumLanes(lanes), fill);
      }
    }
    for (int64_t j = 0; j < a.n_in; ++j) {
      CopySegment<kGradBlock>(gw + j * a.n + n0, dpanel + j * kGradBlock, nb);
    }
  }
}

// Backward of a narrow layer (one block of kWidth >= n neurons: a readout) for the samples
// [b0, b1), steps from last to first, with its weight panel [in, kWidth]: per row r, the
// reverse-time filter (FilterRow; `state` [batch, kWidth] holds each sample's dv), then with
// d = c * dv:
//   dpart[j, :] += d        for the input neurons j that spiked in row r
//   g_in[r, i]   = W[j, :] . d  for every listed slot i of row r (j = in_ids[r, i]; if gin)
// The lane vectors of kPer consecutive slots are summed at once (SumLanes) and stored to the
// slots directly. A narrow block's panels fit in L1 and L2, so no grouping of the slots by input
// neuron (the chunk sort of the wide layers) is needed, and the samples split between threads
// (each with its own dW partial `dpart` [in, kWidth]). For a 980 -> 10 readout this took 0.49
// (5 % activity) and 0.88 (1 %) of the time of the grouped backward (paired A/B).
template <int kBytes, int64_t kWidth, typename T>
SNNLIB_INLINE void NarrowRowsImpl(const LayerArgs<T>& a, int64_t b0, int64_t b1,
                                  const Injections<T>& inj, const T* gp, const T* panel,
                                  T* state, T* dpart, T* gin) {
  using V = typename VecOf<T, kBytes>::type;
  constexpr int kPer = sizeof(V) / sizeof(T), kVecs = kWidth / kPer;
  V lanes[kPer];
  for (int64_t t = a.t_len - 1; t >= 0; --t) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t r = t * a.batch + b;
      T* dv = state + b * kWidth;
      FilterRow<kBytes, kWidth>(a, r, 0, a.n, inj, gp, dv);
      V d[kVecs];
      for (int v = 0; v < kVecs; ++v) d[v] = a.scale * LoadU<V>(dv + v * kPer);
      if (r < a.lag) continue;  // no input in this row
      const int32_t* ids = a.in_ids(r);
      const int32_t spk = a.in_count(r, 0);
      for (int32_t i = 0; i < spk; ++i) {
        T* dst = dpart + static_cast<int64_t>(ids[i]) * kWidth;
        for (int v = 0; v < kVecs; ++v) StoreU(dst + v * kPer, LoadU<V>(dst + v * kPer) + d[v]);
      }
      if (!gin) continue;
      T* out = gin + (r - a.lag) * a.s_in;
      const int32_t listed = a.in_count(r, 1);
      int fill = 0;
      for (int32_t i = 0; i < listed; ++i) {
        const T* w = panel + static_cast<int64_t>(ids[i]) * kWidth;
        V lane = LoadU<V>(w) * d[0];
        for (int v = 1; v < kVecs; ++v) lane += LoadU<V>(w + v * kPer) * d[v];
        lanes[fill] = lane;
        if (++fill == kPer) {
          StoreU(out, SumLanes(lanes));
          out += kPer;
          fill = 0;
        }
      }
      if (fill) {
        for (int s = fill; s < kPer; ++s) lanes[s] = V{};
        StoreN(out, SumLanes(lanes), fill);
      }
    }
  }
}

// NarrowRowsImpl at the width `width` (16 or 32 = kNarrowMost).
template <int kBytes, typename T>
SNNLIB_INLINE void NarrowRowsOfWidth(int64_t width, const LayerArgs<T>& a, int64_t b0, int64_t b1,
                                     const Injections<T>& inj, const T* gp, const T* panel,
                                     T* state, T* dpart, T* gin) {
  static_assert(kGradBlockMin == 16 && kNarrowMost == 32, "the widths below");
  if (width == 16) {
    return NarrowRowsImpl<kBytes, 16>(a, b0, b1, inj, gp, panel, state, dpart, gin);
  }
  return NarrowRowsImpl<kBytes, 32>(a, b0, b1, inj, gp, panel, state, dpart, gin);
}

// BackwardBlocksImpl at the block width `width` (GradBlock: a power of 2 from kGradBlockMin to
// kGradBlockMaxOf<kBytes>).
template <int kBytes, typename T>
SNNLIB_INLINE void BackwardBlocksOfWidth(int64_t width, const LayerArgs<T>& a,
                                         const ChunkEntries& ce, int64_t blk0, int64_t blk1,
                                         const Injections<T>& inj, const T* gp, T* panel,
                                         T* dpanel, T* state, T* dbuf, T* gw, T* psum) {
  static_assert(kGradBlockMin == 16 && kGradBlockMaxOf<kBytes> <= 128, "the widths below");
  switch (width) {
    case 16:
      return BackwardBlocksImpl<kBytes, 16>(a, ce, blk0, blk1, inj, gp, panel,
                                            dpanel, state, dbuf, gw, psum);
    case 32:
      return BackwardBlocksImpl<kBytes, 32>(a, ce, blk0, blk1, inj, gp, panel,
                                            dpanel, state, dbuf, gw, psum);
    default:
      break;
  }
  if constexpr (kGradBlockMaxOf<kBytes> >= 128) {
    if (width == 64) {
      return BackwardBlocksImpl<kBytes, 64>(a, ce, blk0, blk1, inj, gp, panel,
                                            dpanel, state, dbuf, gw, psum);
    }
    return BackwardBlocksImpl<kBytes, 128>(a, ce, blk0, blk1, inj, gp, panel,
                                           dpanel, state, dbuf, gw, psum);
  }
}

// ForwardBlocksImpl with panels `width` wide (16, 32 or 64: see SparseLifLayerOp::Compute).
template <int kBytes, typename T>
SNNLIB_INLINE void ForwardBlocksOfWidth(int64_t width, const LayerArgs<T>& a, int64_t blk,
                                        int64_t b0, int64_t b1, T* panel, T* state,
                                        BlockRow* rec, T* vf, T* va) {
  if (width == 16) return ForwardBlocksImpl<kBytes, 16>(a, blk, b0, b1, panel, state, rec, vf, va);
  if (width == 32) return ForwardBlocksImpl<kBytes, 32>(a, blk, b0, b1, panel, state, rec, vf, va);
  return ForwardBlocksImpl<kBytes, kBlock>(a, blk, b0, b1, panel, state, rec, vf, va);
}

#define SNNLIB_DISPATCH(T)                                                                  \
  SNNLIB_BY_WIDTH(ForwardBlocks, ForwardBlocksOfWidth,                                      \
                  (int64_t width, const LayerArgs<T>& a, int64_t blk, int64_t b0, int64_t b1, \
                   T* panel, T* state, BlockRow* rec, T* vf, T* va),                        \
                  (width, a, blk, b0, b1, panel, state, rec, vf, va))                        \
  SNNLIB_BY_WIDTH(BackwardBlocks, BackwardBlocksOfWidth,                                    \
                  (int64_t width, const LayerArgs<T>& a, const ChunkEntries& ce, int64_t b0, \
                   int64_t b1, const Injections<T>& inj, const T* gp, T* panel, T* dpanel,  \
                   T* state, T* dbuf, T* gw, T* psum),                                       \
                  (width, a, ce, b0, b1, inj, gp, panel, dpanel, state, dbuf, gw, psum))    \
  SNNLIB_BY_WIDTH(NarrowRows, NarrowRowsOfWidth,                                            \
                  (int64_t width, const LayerArgs<T>& a, int64_t b0, int64_t b1,            \
                   const Injections<T>& inj, const T* gp, const T* panel, T* state,         \
                   T* dpart, T* gin),                                                       \
                  (width, a, b0, b1, inj, gp, panel, state, dpart, gin))
SNNLIB_DISPATCH(float)
SNNLIB_DISPATCH(double)
#undef SNNLIB_DISPATCH

REGISTER_OP("SnnlibSparseLifLayer")
    .Input("weights: T")
    .Input("in_ids: int32")
    .Input("in_counts: int32")
    .Input("in_values: T")
    .Input("constants: T")
    .Attr("T: {float, double}")
    .Attr("capacity: int >= 1")
    .Attr("return_potentials: bool = false")
    .Attr("input_grad: bool = true")
    .Attr("input_delay: bool = false")
    .Output("out_ids: int32")
    .Output("out_counts: int32")
    .Output("out_values: T")
    .Output("dropped: int32")
    .Output("v_listed: T")
    .Output("potentials: T")
    .SetShapeFn([](InferenceContext* c) -> absl::Status {
      const char* op = "SnnlibSparseLifLayer";
      ShapeHandle w, ids, counts;
      TF_RETURN_IF_ERROR(WithRanks(c, op, {{0, 2, "weights", "(in, out)", &w},
                                           {1, 3, "in_ids", "[time, batch, S_in]", &ids},
                                           {2, 3, "in_counts", "[time, batch, 2]", &counts},
                                           {3, 3, "in_values", "[time, batch, S_in]"},
                                           {4, 1, "constants", "[5]"}}));
      int64_t cap;
      bool potentials;
      TF_RETURN_IF_ERROR(c->GetAttr("capacity", &cap));
      TF_RETURN_IF_ERROR(c->GetAttr("return_potentials", &potentials));
      DimensionHandle t = c->Dim(ids, 0), b = c->Dim(ids, 1);
      TF_RETURN_IF_ERROR(c->Merge(t, c->Dim(counts, 0), &t));
      TF_RETURN_IF_ERROR(MergeBatch(c, b, c->Dim(counts, 1), op, "in_ids", "in_counts", &b));
      TF_RETURN_IF_ERROR(ShapeIdRange(c, c->Dim(w, 1), op, "N (weights.shape[1])"));
      TF_RETURN_IF_ERROR(ShapeIdRange(c, c->Dim(w, 0), op, "in (weights.shape[0])"));
      if (c->ValueKnown(c->Dim(w, 1)) && cap > c->Value(c->Dim(w, 1))) {
        return absl::InvalidArgumentError(absl::StrCat(
            op, ": capacity must be <= the layer width N (weights.shape[1]) = ",
            c->Value(c->Dim(w, 1)), "; got ", cap));
      }
      TF_RETURN_IF_ERROR(ShapeElements(c, {t, b, c->MakeDim(cap)}, op,
                                       "out_ids [time, batch, capacity]"));
      if (potentials) {
        TF_RETURN_IF_ERROR(ShapeElements(c, {t, b, c->Dim(w, 1)}, op,
                                         "potentials [time, batch, N = weights.shape[1]]"));
      }
      ShapeHandle listed = c->MakeShape({t, b, c->MakeDim(cap)});
      c->set_output(0, listed);
      c->set_output(1, c->MakeShape({t, b, c->MakeDim(2)}));
      c->set_output(2, listed);
      c->set_output(3, c->MakeShape({t, b}));
      c->set_output(4, listed);
      if (potentials) {
        c->set_output(5, c->MakeShape({t, b, c->Dim(w, 1)}));
      } else {
        c->set_output(5, c->MakeShape({0, 0, 0}));
      }
      return absl::OkStatus();
    })
    .Doc("One LIF layer over a whole time-major sequence of sparse input spikes.");

REGISTER_OP("SnnlibSparseLifLayerGrad")
    .Input("weights: T")
    .Input("in_ids: int32")
    .Input("in_counts: int32")
    .Input("out_ids: int32")
    .Input("out_counts: int32")
    .Input("v_listed: T")
    .Input("grad_values: T")
    .Input("grad_potentials: T")
    .Input("constants: T")
    .Attr("T: {float, double}")
    .Attr("input_grad: bool = true")
    .Attr("input_delay: bool = false")
    .Output("grad_weights: T")
    .Output("grad_in_values: T")
    .SetShapeFn([](InferenceContext* c) -> absl::Status {
      const char* op = "SnnlibSparseLifLayerGrad";
      ShapeHandle w;
      TF_RETURN_IF_ERROR(WithRanks(c, op, {{0, 2, "weights", "(in, out)", &w},
                                           {1, 3, "in_ids", "[time, batch, S_in]"},
                                           {2, 3, "in_counts", "[time, batch, 2]"},
                                           {3, 3, "out_ids", "[time, batch, S]"},
                                           {4, 3, "out_counts", "[time, batch, 2]"},
                                           {5, 3, "v_listed", "[time, batch, S]"},
                                           {6, 3, "grad_values", "[time, batch, S]"},
                                           {7, 3, "grad_potentials", "[time, batch, N]"},
                                           {8, 1, "constants", "[5]"}}));
      TF_RETURN_IF_ERROR(ShapeIdRange(c, c->Dim(w, 1), op, "N (weights.shape[1])"));
      TF_RETURN_IF_ERROR(ShapeIdRange(c, c->Dim(w, 0), op, "in (weights.shape[0])"));
      c->set_output(0, c->input(0));
      c->set_output(1, c->input(1));
      return absl::OkStatus();
    })
    .Doc("BPTT of SnnlibSparseLifLayer: weight gradient and input slot gradient. "
         "grad_potentials is [time, batch, N], or exactly [0, 0, 0] for none.");

template <typename T>
class SparseLifLayerOp : public OpKernel {
 public:
  explicit SparseLifLayerOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("capacity", &capacity_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("return_potentials", &return_potentials_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("input_delay", &input_delay_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("input_grad", &input_grad_));
  }

  void Compute(OpKernelContext* ctx) override {
    const char* op = "SnnlibSparseLifLayer";
    const Tensor& weights = ctx->input(0);
    const Tensor& in_ids = ctx->input(1);
    const Tensor& in_counts = ctx->input(2);
    const Tensor& in_values = ctx->input(3);
    OP_REQUIRES_OK(ctx, CheckMatrix(weights, op, "weights"));
    const int64_t n_in = weights.dim_size(0), n = weights.dim_size(1);
    OP_REQUIRES_OK(ctx, CheckIdRange(n, op, "N (weights.shape[1])"));
    OP_REQUIRES_OK(ctx, CheckIdRange(n_in, op, "in (weights.shape[0])"));
    OP_REQUIRES_OK(ctx, CheckSequence(in_ids, in_counts, n_in, op, "in_ids", "in_counts"));
    // The values only carry the gradient to the input slots: input data without one (input_grad
    // false) may pass exactly [0, 0, 0] instead of a [time, batch, S_in] tensor of ones.
    if (input_grad_ || in_values.shape() != TensorShape({0, 0, 0})) {
      OP_REQUIRES_OK(ctx, CheckSameShape(in_values, in_ids, op, "in_values", "in_ids"));
    }
    Constants<T> k;
    OP_REQUIRES_OK(ctx, ReadConstants(ctx->input(4), op, &k));
    OP_REQUIRES(ctx, capacity_ <= n,
                absl::InvalidArgumentError(absl::StrCat(
                    op, ": capacity must be <= the layer width N (weights.shape[1]) = ", n,
                    "; got ", capacity_)));
    const int64_t t_len = in_ids.dim_size(0), batch = in_ids.dim_size(1), s_in = in_ids.dim_size(2);
    const int64_t s_out = capacity_;

    Tensor* out_ids = nullptr;
    Tensor* out_counts = nullptr;
    Tensor* out_values = nullptr;
    Tensor* dropped = nullptr;
    Tensor* v_listed = nullptr;
    Tensor* potentials = nullptr;
    const char* listed_what = "the outputs [time, batch, capacity] (out_ids, out_values, v_listed)";
    OP_REQUIRES_OK(ctx, AllocateOutput(ctx, 0, {t_len, batch, s_out}, op, listed_what, &out_ids));
    OP_REQUIRES_OK(ctx, AllocateOutput(ctx, 1, {t_len, batch, 2}, op,
                                       "out_counts [time, batch, 2]", &out_counts));
    OP_REQUIRES_OK(ctx,
                   AllocateOutput(ctx, 2, {t_len, batch, s_out}, op, listed_what, &out_values));
    OP_REQUIRES_OK(ctx, AllocateOutput(ctx, 3, {t_len, batch}, op, "dropped [time, batch]",
                                       &dropped));
    OP_REQUIRES_OK(ctx, AllocateOutput(ctx, 4, {t_len, batch, s_out}, op, listed_what, &v_listed));
    T* v_all = nullptr;
    if (return_potentials_) {
      OP_REQUIRES_OK(ctx, AllocateOutput(ctx, 5, {t_len, batch, n}, op,
                                         "potentials [time, batch, N = weights.shape[1]]",
                                         &potentials));
      v_all = potentials->flat<T>().data();
    } else {
      OP_REQUIRES_OK(ctx, ctx->allocate_output(5, TensorShape({0, 0, 0}), &potentials));
    }
    if (t_len == 0 || batch == 0) return;
    const int64_t rows = t_len * batch;  // <= in_counts.NumElements()
    if (n_in == 0) {
      // No inputs (every input count is 0): every potential stays 0, so every row lists the
      // same neurons; nothing proportional to N is built or walked (but the potentials).
      const bool spike = T(0) >= k.th1, cand = !spike && T(0) >= k.th2;
      const int64_t kept = spike || cand ? std::min(n, s_out) : 0;
      int32_t* o_ids = out_ids->flat<int32_t>().data();
      T* o_v = v_listed->flat<T>().data();
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t i = 0; i < kept; ++i) o_ids[r * s_out + i] = static_cast<int32_t>(i);
        std::fill(o_v + r * s_out, o_v + (r + 1) * s_out, T(0));
        FinishList(kept, spike ? kept : 0, spike ? n : 0, s_out, o_ids + r * s_out,
                   out_values->flat<T>().data() + r * s_out,
                   out_counts->flat<int32_t>().data() + 2 * r,
                   dropped->flat<int32_t>().data() + r);
      }
      if (v_all) std::fill(v_all, v_all + potentials->NumElements(), T(0));
      return;
    }

    const auto dtype = tensorflow::DataTypeToEnum<T>::value;
    const int64_t n_blocks = n / kBlock + (n % kBlock != 0);
    // The panels' width: 16 or 32 for a layer that narrow (a readout gathers a quarter of the
    // bytes: a 980 -> 10 forward took 0.80 / 0.93 of its time at 5 % / 1 % activity).
    const int64_t width = NarrowestWidth(n, kBlock);
    Tensor v_flagged_tensor, records_tensor, panel_tensor, state_tensor;
    // Potentials of flagged neurons only, packed per block (room for all, a few used).
    OP_REQUIRES_OK(ctx, AllocateTemp(ctx, dtype, {n_blocks, rows, kBlock}, op,
                                     "the potentials buffer [N / 64, time * batch, 64]",
                                     &v_flagged_tensor));
    static_assert(sizeof(BlockRow) == 3 * sizeof(uint64_t), "BlockRow is three 64-bit words");
    OP_REQUIRES_OK(ctx, AllocateTemp(ctx, tensorflow::DT_UINT64, {n_blocks, rows, 3}, op,
                                     "the masks and offsets [N / 64, time * batch, 3]",
                                     &records_tensor));
    // Work items: each block, its samples split into `splits` ranges when the blocks are fewer
    // than the pool's threads (a narrow layer, such as a readout, then still uses every core).
    // One weight panel [n_in, 64] per worker (ParallelItems) and one state [batch, 64] per block.
    const int64_t splits =
        std::max<int64_t>(1, std::min<int64_t>(batch, NumThreads(ctx) / n_blocks));
    const int64_t items = n_blocks * splits, workers = PoolParts(ctx, items);
    OP_REQUIRES_OK(ctx, AllocateTemp(ctx, dtype, {workers, n_in * kBlock}, op,
                                     "the weight panels [threads, in * 64]", &panel_tensor));
    OP_REQUIRES_OK(ctx, AllocateTemp(ctx, dtype, {n_blocks, batch * kBlock}, op,
                                     "the potentials state [N / 64, batch * 64]", &state_tensor));
    T* v_flagged = v_flagged_tensor.flat<T>().data();
    T* panels = panel_tensor.flat<T>().data();
    T* states = state_tensor.flat<T>().data();
    BlockRow* rec = reinterpret_cast<BlockRow*>(records_tensor.flat<uint64_t>().data());

    const int32_t* ids = in_ids.flat<int32_t>().data();
    const int32_t* cnt = in_counts.flat<int32_t>().data();
    const LayerArgs<T> args{n, n_in, t_len, batch, s_in, n_blocks, weights.flat<T>().data(), ids,
                            cnt, k.alpha, (T(1) - k.alpha) * k.gain, k.th1, k.th2, k.beta,
                            input_delay_ ? batch : 0};

    // Phase 1: per work item, its block's weight panel, then the membrane recursion of its
    // samples over all steps (the panel stays in cache). Each item writes only its block's and
    // samples' records, states and potentials, so the results do not depend on which worker
    // runs it.
    ParallelItems(ctx, items, [&](int64_t worker, int64_t start, int64_t end) {
      for (int64_t item = start; item < end; ++item) {
        const int64_t blk = item / splits, part = item % splits;
        ForwardBlocks(width, args, blk, batch * part / splits, batch * (part + 1) / splits,
                      panels + worker * n_in * kBlock, states + blk * batch * kBlock, rec,
                      v_flagged, v_all);
      }
    });

    // Phase 2: the index list of every (step, sample) from the masks: spikes in ascending
    // index, then candidates, at most S; spikes beyond S are counted as dropped. The potential
    // of flagged neuron k of a block is its rank among the row's flagged neurons of the block.
    auto flagged_v = [&](int64_t blk, int64_t r, int64_t k) {
      const BlockRow& br = rec[blk * rows + r];
      const int64_t rank = __builtin_popcountll((br.spk | br.cand) & ((uint64_t{1} << k) - 1));
      return v_flagged[blk * rows * kBlock + br.at + rank];
    };
    int32_t* o_ids = out_ids->flat<int32_t>().data();
    int32_t* o_cnt = out_counts->flat<int32_t>().data();
    T* o_val = out_values->flat<T>().data();
    T* o_v = v_listed->flat<T>().data();
    int32_t* o_drop = dropped->flat<int32_t>().data();
    ParallelItems(ctx, rows, [&](int64_t, int64_t start, int64_t end) {
      for (int64_t r = start; r < end; ++r) {
        int32_t* slot_id = o_ids + r * s_out;
        T* slot_v = o_v + r * s_out;
        int64_t kept = 0, spikes = 0;
        for (int64_t blk = 0; blk < n_blocks; ++blk) {
          uint64_t m = rec[blk * rows + r].spk;
          spikes += __builtin_popcountll(m);
          for (; m && kept < s_out; m &= m - 1, ++kept) {
            const int64_t k = __builtin_ctzll(m);
            slot_id[kept] = static_cast<int32_t>(blk * kBlock + k);
            slot_v[kept] = flagged_v(blk, r, k);
          }
        }
        const int64_t n_spk = kept;
        for (int64_t blk = 0; blk < n_blocks && kept < s_out; ++blk) {
          for (uint64_t m = rec[blk * rows + r].cand; m && kept < s_out; m &= m - 1, ++kept) {
            const int64_t k = __builtin_ctzll(m);
            slot_id[kept] = static_cast<int32_t>(blk * kBlock + k);
            slot_v[kept] = flagged_v(blk, r, k);
          }
        }
        std::fill(slot_v + kept, slot_v + s_out, T(0));
        FinishList(kept, n_spk, spikes, s_out, slot_id, o_val + r * s_out, o_cnt + 2 * r,
                   o_drop + r);
      }
    });
  }

 private:
  bool return_potentials_, input_delay_, input_grad_;
  int64_t capacity_;
};

// The backward of a narrow layer (n <= kNarrowMost, one block of `width`): NarrowRows over one
// contiguous range of samples per pool thread, each into its own dW partial, summed in range
// order (the same bits on every call) into `gw` [in, N]. `panel` [in, width] and `state`
// [batch, width] are scratch.
template <typename T>
void NarrowBackward(OpKernelContext* ctx, const LayerArgs<T>& a, int64_t width,
                    const Injections<T>& inj, const T* gp, T* panel, T* state, T* gw, T* gin) {
  const char* op = "SnnlibSparseLifLayerGrad";
  const auto dtype = tensorflow::DataTypeToEnum<T>::value;
  const int64_t parts = PoolParts(ctx, a.batch), n_in = a.n_in;
  Tensor dpart_tensor;
  OP_REQUIRES_OK(ctx, AllocateTemp(ctx, dtype, {parts, n_in * width}, op,
                                   "the weight gradient partials [threads, in * block]",
                                   &dpart_tensor));
  T* dparts = dpart_tensor.flat<T>().data();
  std::fill(state, state + a.batch * width, T(0));
  if (gin) {
    if (width == 16) {
      LoadPanel<16>(a, 0, panel);
    } else {
      LoadPanel<32>(a, 0, panel);
    }
  }
  RunParts(ctx, parts, [&](int64_t p) {
    T* dpart = dparts + p * n_in * width;
    std::fill(dpart, dpart + n_in * width, T(0));
    EqualRange(a.batch, parts, p, [&](int64_t b0, int64_t b1) {
      NarrowRows(width, a, b0, b1, inj, gp, panel, state, dpart, gin);
    });
  });
  ParallelItems(ctx, n_in, [&](int64_t, int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j) {
      for (int64_t k = 0; k < a.n; ++k) {
        T sum = T(0);
        for (int64_t p = 0; p < parts; ++p) sum += dparts[(p * n_in + j) * width + k];
        gw[j * a.n + k] = sum;
      }
    }
  });
}

template <typename T>
class SparseLifLayerGradOp : public OpKernel {
 public:
  explicit SparseLifLayerGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("input_grad", &input_grad_));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("input_delay", &input_delay_));
  }

  void Compute(OpKernelContext* ctx) override {
    const char* op = "SnnlibSparseLifLayerGrad";
    const Tensor& weights = ctx->input(0);
    const Tensor& in_ids = ctx->input(1);
    const Tensor& in_counts = ctx->input(2);
    const Tensor& out_ids = ctx->input(3);
    const Tensor& out_counts = ctx->input(4);
    const Tensor& v_listed = ctx->input(5);
    const Tensor& grad_values = ctx->input(6);
    const Tensor& grad_pot = ctx->input(7);
    Constants<T> k;
    OP_REQUIRES_OK(ctx, ReadConstants(ctx->input(8), op, &k));
    OP_REQUIRES_OK(ctx, CheckMatrix(weights, op, "weights"));
    const int64_t n_in = weights.dim_size(0), n = weights.dim_size(1);
    OP_REQUIRES_OK(ctx, CheckIdRange(n, op, "N (weights.shape[1])"));
    OP_REQUIRES_OK(ctx, CheckIdRange(n_in, op, "in (weights.shape[0])"));
    // The shapes and counts here; the listed ids and potentials in the first pass below,
    // where each row is read anyway (as a serial pass of their own, these checks took about
    // 2.5 % of a training step).
    OP_REQUIRES_OK(ctx, CheckSequenceShapes(in_ids, in_counts, op, "in_ids", "in_counts"));
    OP_REQUIRES_OK(ctx, CheckSequenceShapes(out_ids, out_counts, op, "out_ids", "out_counts"));
    OP_REQUIRES_OK(ctx, CheckSequenceRows(in_ids, in_counts, n_in, op, "in_ids", "in_counts",
                                          false));
    OP_REQUIRES_OK(ctx, CheckSequenceRows(out_ids, out_counts, n, op, "out_ids", "out_counts",
                                          false));
    OP_REQUIRES_OK(ctx, CheckSameShape(v_listed, out_ids, op, "v_listed", "out_ids"));
    OP_REQUIRES_OK(ctx, CheckSameShape(grad_values, out_ids, op, "grad_values", "out_ids"));
    const int64_t t_len = in_ids.dim_size(0), batch = in_ids.dim_size(1), s_in = in_ids.dim_size(2);
    const int64_t s_out = out_ids.dim_size(2);
    OP_REQUIRES(ctx, out_ids.dim_size(0) == t_len && out_ids.dim_size(1) == batch,
                absl::InvalidArgumentError(
                    absl::StrCat(op, ": out_ids must share [time, batch] with in_ids")));
    // Absent only as exactly [0, 0, 0] (what the registered gradient passes); otherwise
    // [time, batch, N] exactly (which may itself have no elements).
    const bool absent = grad_pot.shape() == TensorShape({0, 0, 0});
    const bool has_gpot = !absent && grad_pot.NumElements() > 0;
    OP_REQUIRES(ctx, absent || grad_pot.shape() == TensorShape({t_len, batch, n}),
                absl::InvalidArgumentError(absl::StrCat(
                    op, ": grad_potentials must be [time, batch, N] = [", t_len, ", ", batch,
                    ", ", n, "], or exactly [0, 0, 0] for none; got ",
                    grad_pot.shape().DebugString())));
    // The full checks in order, for the message of the first bad row (ids or potentials).
    auto check_contents = [&]() {
      absl::Status s = CheckSequenceRows(in_ids, in_counts, n_in, op, "in_ids", "in_counts", true);
      if (s.ok()) s = CheckSequenceRows(out_ids, out_counts, n, op, "out_ids", "out_counts", true);
      if (s.ok()) s = CheckListedFinite<T>(v_listed, out_counts, op, "v_listed");
      return s;
    };

    Tensor* grad_w = nullptr;
    Tensor* grad_in = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, weights.shape(), &grad_w));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, in_ids.shape(), &grad_in));
    T* gw = grad_w->flat<T>().data();
    T* gin = grad_in->flat<T>().data();
    // No step, no sample or no weights (then no neuron can be listed, or no input can be
    // read): both gradients are 0, and no loop walks the (possibly huge) empty dimension.
    if (t_len == 0 || batch == 0 || weights.NumElements() == 0) {
      OP_REQUIRES_OK(ctx, check_contents());
      std::fill(gin, gin + grad_in->NumElements(), T(0));
      std::fill(gw, gw + grad_w->NumElements(), T(0));
      return;
    }
    const auto dtype = tensorflow::DataTypeToEnum<T>::value;
    const int64_t rows = t_len * batch, lag = input_delay_ ? batch : 0;
    const int64_t width = GradBlock(n, NumThreads(ctx));  // the neurons of a block
    const int64_t n_blocks = n / width + (n % width != 0);
    const bool narrow = n <= kNarrowMost;
    Tensor panel_tensor, psum_tensor, state_tensor, h_tensor;
    // The blocks are split into `groups` contiguous ranges; each range has its own weight and
    // dW panels and accumulates its share of the input slot gradient in its own buffer (in
    // entry order), summed into the slots at the end (no races). A narrow layer (one block, one
    // group) uses the group's weight panel and state in NarrowBackward.
    const int64_t groups = PoolParts(ctx, n_blocks);
    OP_REQUIRES_OK(ctx, AllocateTemp(ctx, dtype, {groups, 2, n_in * width}, op,
                                     "the weight panels [groups, 2, in * block]", &panel_tensor));
    OP_REQUIRES_OK(ctx, AllocateTemp(ctx, dtype, {groups, batch * width}, op,
                                     "the gradient state [groups, batch * block]", &state_tensor));
    OP_REQUIRES_OK(ctx, AllocateTemp(ctx, dtype, {rows, s_out}, op,
                                     "the surrogate injections [time * batch, S]", &h_tensor));
    T* panels = panel_tensor.flat<T>().data();
    T* states = state_tensor.flat<T>().data();
    T* h = h_tensor.flat<T>().data();
    const int32_t* i_ids = in_ids.flat<int32_t>().data();
    const int32_t* i_cnt = in_counts.flat<int32_t>().data();
    const int32_t* o_ids = out_ids.flat<int32_t>().data();
    const int32_t* o_cnt = out_counts.flat<int32_t>().data();
    const T* o_v = v_listed.flat<T>().data();
    const T* g = grad_values.flat<T>().data();
    const T* gp = has_gpot ? grad_pot.flat<T>().data() : nullptr;
    const LayerArgs<T> args{n, n_in, t_len, batch, s_in, n_blocks, weights.flat<T>().data(), i_ids,
                            i_cnt, k.alpha, (T(1) - k.alpha) * k.gain, k.th1, k.th2, k.beta, lag};
    const Injections<T> inj{o_ids, o_cnt, h, s_out};

    // The input slots grouped by input neuron per chunk of steps (ChunkEntries, ChunkSteps),
    // for the wider layers only.
    auto listed_of = [&](int64_t r) { return args.in_count(r, input_grad_ ? 1 : 0); };
    int64_t listed_total = 0;
    if (!narrow) {
      for (int64_t r = 0; r < rows; ++r) listed_total += listed_of(r);
    }
    const int64_t steps = ChunkSteps(listed_total, t_len, batch, n_in,
                                     static_cast<int64_t>(width * sizeof(T)));
    const int64_t n_chunks = narrow ? 0 : (t_len + steps - 1) / steps, chunk_rows = steps * batch;
    OP_REQUIRES(ctx, chunk_rows <= std::numeric_limits<int32_t>::max(),
                absl::InvalidArgumentError(absl::StrCat(
                    op, ": batch ", batch, " is too large (at most 2**31 - 1 rows per step)")));
    Tensor beg_tensor, gfirst_tensor, gnum_tensor;
    OP_REQUIRES_OK(ctx, AllocateTemp(ctx, tensorflow::DT_INT64, {n_chunks + 1}, op,
                                     "the chunk entry offsets", &beg_tensor));
    OP_REQUIRES_OK(ctx, AllocateTemp(ctx, tensorflow::DT_INT64, {n_chunks + 1}, op,
                                     "the chunk group offsets", &gfirst_tensor));
    OP_REQUIRES_OK(ctx, AllocateTemp(ctx, tensorflow::DT_INT64, {n_chunks}, op,
                                     "the chunk group counts", &gnum_tensor));
    int64_t* beg = beg_tensor.flat<int64_t>().data();
    int64_t* gfirst = gfirst_tensor.flat<int64_t>().data();
    beg[0] = gfirst[0] = 0;
    for (int64_t c = 0; c < n_chunks; ++c) {
      int64_t entries = 0;
      const int64_t r1 = std::min(t_len, (c + 1) * steps) * batch;
      for (int64_t r = c * chunk_rows; r < r1; ++r) entries += listed_of(r);
      beg[c + 1] = beg[c] + entries;
      gfirst[c + 1] = gfirst[c] + std::min(entries, n_in);
    }
    Tensor row_tensor, slot_tensor, gid_tensor, gspk_tensor, gend_tensor, hist_tensor;
    OP_REQUIRES_OK(ctx, AllocateTemp(ctx, tensorflow::DT_INT32, {beg[n_chunks]}, op,
                                     "the listed input rows by neuron", &row_tensor));
    OP_REQUIRES_OK(ctx, AllocateTemp(ctx, tensorflow::DT_INT32, {beg[n_chunks]}, op,
                                     "the listed input slots by neuron", &slot_tensor));
    OP_REQUIRES_OK(ctx, AllocateTemp(ctx, tensorflow::DT_INT32, {gfirst[n_chunks]}, op,
                                     "the input neurons per chunk", &gid_tensor));
    OP_REQUIRES_OK(ctx, AllocateTemp(ctx, tensorflow::DT_INT64, {gfirst[n_chunks]}, op,
                                     "the spike ends per chunk", &gspk_tensor));
    OP_REQUIRES_OK(ctx, AllocateTemp(ctx, tensorflow::DT_INT64, {gfirst[n_chunks]}, op,
                                     "the entry ends per chunk", &gend_tensor));
    const int64_t workers = NumThreads(ctx);
    OP_REQUIRES_OK(ctx, AllocateTemp(ctx, tensorflow::DT_INT64,
                                     {narrow ? 0 : workers, 2 * n_in + 1}, op,
                                     "the key histograms [threads, 2 * in + 1]", &hist_tensor));
    const ChunkEntries ce{steps,
                          n_chunks,
                          beg,
                          row_tensor.flat<int32_t>().data(),
                          slot_tensor.flat<int32_t>().data(),
                          gfirst,
                          gnum_tensor.flat<int64_t>().data(),
                          gid_tensor.flat<int32_t>().data(),
                          gspk_tensor.flat<int64_t>().data(),
                          gend_tensor.flat<int64_t>().data()};
    int64_t* hists = hist_tensor.flat<int64_t>().data();

    // First pass, one pool region: the chunks (BuildChunk), then per row its checks (the
    // listed ids in range, the listed potentials finite), its surrogate injections
    // h = g / (beta |v - th1| + 1)^2 in slot order (Injections) and the zeros of its input
    // gradient. A bad row sets `invalid` and is skipped; BuildChunk skips it too.
    const int64_t row_items = std::min<int64_t>(rows, 16 * workers);
    std::atomic<bool> invalid{false};
    ParallelItems(ctx, n_chunks + row_items, [&](int64_t worker, int64_t start, int64_t end) {
      for (int64_t item = start; item < end; ++item) {
        if (item < n_chunks) {
          BuildChunk(args, ce, item, listed_of, hists + worker * (2 * n_in + 1));
          continue;
        }
        EqualRange(rows, row_items, item - n_chunks, [&](int64_t r0, int64_t r1) {
          for (int64_t r = r0; r < r1; ++r) {
            std::fill(gin + r * s_in, gin + (r + 1) * s_in, T(0));
            const int32_t listed = o_cnt[2 * r + 1];
            const T* v = o_v + r * s_out;
            if (!IdsInRange(i_ids + r * s_in, i_cnt[2 * r + 1], n_in) ||
                !IdsInRange(o_ids + r * s_out, listed, n) || !AllFinite(v, listed)) {
              invalid.store(true, std::memory_order_relaxed);
              continue;
            }
            const T* gr = g + r * s_out;
            T* hr = h + r * s_out;
            for (int32_t i = 0; i < listed; ++i) {
              const T x = k.beta * std::abs(v[i] - k.th1) + T(1);
              hr[i] = gr[i] / (x * x);
            }
          }
        });
      }
    });
    if (invalid.load()) {
      OP_REQUIRES_OK(ctx, check_contents());
      ctx->SetStatus(absl::InternalError(
          absl::StrCat(op, ": a row failed its checks but the full checks passed")));
      return;
    }
    if (narrow) {
      NarrowBackward(ctx, args, width, inj, gp, panels, states, gw, input_grad_ ? gin : nullptr);
      return;
    }
    Tensor dbuf_tensor;
    OP_REQUIRES_OK(ctx, AllocateTemp(ctx, dtype, {groups, chunk_rows * width}, op,
                                     "the chunk gradients [groups, rows per chunk * block]",
                                     &dbuf_tensor));
    const int64_t per_group = (n_blocks + groups - 1) / groups;
    T* dbufs = dbuf_tensor.flat<T>().data();
    T* psums = nullptr;
    if (input_grad_) {
      OP_REQUIRES_OK(ctx, AllocateTemp(ctx, dtype, {groups, beg[n_chunks]}, op,
                                       "the partial slot gradients [groups, listed inputs]",
                                       &psum_tensor));
      psums = psum_tensor.flat<T>().data();
    }
    ParallelRanges(ctx, groups, [&](int64_t start, int64_t end) {
      for (int64_t grp = start; grp < end; ++grp) {
        // Each group zeroes its own partial sums (every group's are summed, even an idle one's).
        if (psums) std::fill(psums + grp * beg[n_chunks], psums + (grp + 1) * beg[n_chunks], T(0));
        const int64_t b0 = grp * per_group, b1 = std::min(n_blocks, b0 + per_group);
        T* panel = panels + grp * 2 * n_in * width;
        if (b0 < b1) {
          BackwardBlocks(width, args, ce, b0, b1, inj, gp, panel, panel + n_in * width,
                         states + grp * batch * width, dbufs + grp * chunk_rows * width, gw,
                         psums ? psums + grp * beg[n_chunks] : nullptr);
        }
      }
    });
    if (psums) {
      const int64_t per_chunk = chunk_rows * s_in * groups;
      ParallelFor(ctx, n_chunks, per_chunk, [&](int64_t start, int64_t end) {
        for (int64_t c = start; c < end; ++c) {
          for (int64_t e = beg[c]; e < beg[c + 1]; ++e) {
            T sum = T(0);
            for (int64_t grp = 0; grp < groups; ++grp) sum += psums[grp * beg[n_chunks] + e];
            gin[(c * chunk_rows + ce.row[e] - lag) * s_in + ce.slot[e]] = sum;
          }
        }
      });
    }
  }

 private:
  bool input_grad_, input_delay_;
};

#define SNNLIB_REGISTER(T)                                                                      \
  REGISTER_KERNEL_BUILDER(Name("SnnlibSparseLifLayer").Device(DEVICE_CPU).TypeConstraint<T>("T"), \
                          SparseLifLayerOp<T>);                                                 \
  REGISTER_KERNEL_BUILDER(                                                                      \
      Name("SnnlibSparseLifLayerGrad").Device(DEVICE_CPU).TypeConstraint<T>("T"),               \
      SparseLifLayerGradOp<T>);
SNNLIB_REGISTER(float)
SNNLIB_REGISTER(double)
#undef SNNLIB_REGISTER

}  // namespace
}  // namespace snnlib
