// Fused neural-network kernels: softmax / log_softmax, rms_norm, add_rms_norm, layer_norm,
// rope, swiglu and attention. Inputs are widened to f32 on load; every result is rounded once
// on store. Reductions use a fixed assignment of elements to threads and a fixed tree
// (xor-butterfly warp shuffles, then warps combined in warp order), so results are bitwise
// identical run to run.
//
// Launch geometry and assumptions:
//   Row ops (softmax, norms): 256 threads a block (1024 for a few long rows); dense
//     rms_norm / add_rms_norm rows of 16-byte vectors use tl_*rms_norm_vec (see there). A row is
//     handled by one warp (`group` 32, eight rows a block: short rows) or by the whole block
//     (`group` = the block: long rows), rows grid-strided. A row is described by a Strided view of its start (all axes but the last,
//     with the tensor's offset) and the element stride of its last axis; the host permutes
//     softmax's axis last, for the input and for the output. Norm outputs are dense rows.
//   tl_rope: blocks of 256 threads over rows of (leading axes, seq), grid-strided, and
//     blockIdx.y over groups of heads (few rows: each block then rotates about 256 pairs);
//     a block computes the cos/sin of up to 256 pairs into shared memory (angles in f64,
//     reduced to [-π, π] before an f32 sincosf), then rotates those pairs of its heads.
//   tl_swiglu: 1-D grid-stride over the dense output.
//   tl_attention_<COLS>: flash attention on CUDA cores. 128 threads (4 warps) a block; a
//     block owns one (batch, kv head) and a tile of 32 "rows": the pairs (query head of the
//     kv head's group, query) in that order, so the query heads sharing a kv head (GQA) share
//     its K/V tiles. blockIdx.y splits the keys when there are too few row tiles to fill the
//     GPU (split-KV decoding). tl_attention_narrow_<COLS> is the same with 2 rows a warp
//     (8 a block), for decoding, where one query per head leaves too few rows to keep four
//     warps of 8 busy. Per tile of 32 keys, K and V go through shared memory as f32;
//     each warp owns 8 rows, a lane scores key `lane` against them, online softmax keeps a
//     running max and lane-partial sums, and a lane accumulates value columns lane + 32·c
//     (c < COLS, so value_dim <= 32·COLS <= 256; head_dim <= 256 by the host's check).
//     Tiles are loaded by the whole block, each thread issuing a batch of independent loads
//     (16-byte vectors where the layout allows) before storing them.
//     Nothing of size keys x queries is materialised. With one split the block writes the
//     output; otherwise it writes unnormalised partials (o, max, sum) and
//     tl_attention_combine merges the splits in split order. The dynamic shared memory is
//     4·(32·ldq + 32·ldk + 32·ldv + 32·32) bytes (above 48 KiB the host raises the limit).
//   tl_attention_decode_<dtype>_<VPR>: a few queries over many keys (decoding); see below.
//   tl_attention_mma_<dtype>_<D>: flash attention on tensor cores (mma.sync m16n8k16) for
//     f16/bf16 with head_dim == value_dim == D (64 or 128) and rows of q, k and v that are
//     dense 16-byte vectors; the host takes it for many rows (prefill) and never splits the
//     keys. 128 threads (4 warps) a block; a block owns one (batch, kv head) and 64 rows
//     (ordered as for tl_attention), a warp 16 of them. q's tile and two buffers of 64 keys of
//     K and V reach shared memory by cp.async (the next tile loads while one is used); q·kᵀ
//     and p·v run on the tensor cores with f32 accumulation; the online softmax (exp2 of
//     log2-scaled scores) keeps per-row max and sums in the lanes that hold the row. p is
//     rounded to the dtype for p·v. Dynamic shared memory 5 · 64 · (D + 8) · 2 bytes.

#define ROW_THREADS 256
#define NEG_INF __int_as_float(0xff800000)

__device__ __forceinline__ i64 imin(i64 a, i64 b) { return a < b ? a : b; }
__device__ __forceinline__ i64 imax(i64 a, i64 b) { return a > b ? a : b; }

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum (max) over a row group: one warp, or the whole block through `scratch` (32 floats).
// Every thread of the group gets the same value. Block groups must call it uniformly.
__device__ __forceinline__ float group_sum(float v, int group, float* scratch) {
    v = warp_sum(v);
    if (group == 32) return v;
    __syncthreads();  // readers of the previous reduction are done with scratch
    if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = v;
    __syncthreads();
    float total = scratch[0];
    for (int w = 1; w < group / 32; ++w) total += scratch[w];
    return total;
}

__device__ __forceinline__ float group_max(float v, int group, float* scratch) {
    v = warp_max(v);
    if (group == 32) return v;
    __syncthreads();
    if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = v;
    __syncthreads();
    float best = scratch[0];
    for (int w = 1; w < group / 32; ++w) best = fmaxf(best, scratch[w]);
    return best;
}

// The rows a thread's group handles: first, step, and the thread's lane in the group.
struct RowGroup {
    i64 first;
    i64 step;
    int lane;
};

__device__ __forceinline__ RowGroup row_group(int group) {
    int per_block = blockDim.x / group;
    RowGroup g;
    g.lane = threadIdx.x % group;
    g.first = (i64)blockIdx.x * per_block + threadIdx.x / group;
    g.step = (i64)gridDim.x * per_block;
    return g;
}

// The value a dtype stores for v, back as f32 (AddRmsNorm normalises the stored sum).
// ---- softmax / log_softmax: max, sum of exp(x - max), then the outputs ----
extern "C" __global__ void __launch_bounds__(1024) tl_softmax(int log_mode, Strided x_rows, i64 x_step, const void* x,
                                      Strided y_rows, i64 y_step, void* y, int dt, i64 rows, i64 d,
                                      int group) {
    tl_wait_then_allow_successor();
    __shared__ float scratch[32];
    RowGroup g = row_group(group);
    for (i64 row = g.first; row < rows; row += g.step) {
        i64 xb = strided_offset(x_rows, row), yb = strided_offset(y_rows, row);
        float m = NEG_INF;
        for (i64 j = g.lane; j < d; j += group) m = fmaxf(m, load_f(x, dt, xb + j * x_step));
        m = group_max(m, group, scratch);
        float s = 0.0f;
        for (i64 j = g.lane; j < d; j += group) s += expf(load_f(x, dt, xb + j * x_step) - m);
        s = group_sum(s, group, scratch);
        if (log_mode) {
            float log_s = logf(s);
            for (i64 j = g.lane; j < d; j += group) {
                store_f(y, dt, yb + j * y_step, (load_f(x, dt, xb + j * x_step) - m) - log_s);
            }
        } else {
            float inv = 1.0f / s;
            for (i64 j = g.lane; j < d; j += group) {
                store_f(y, dt, yb + j * y_step, expf(load_f(x, dt, xb + j * x_step) - m) * inv);
            }
        }
    }
}

// The first NORM_KEPT elements of a thread's share of a row stay in registers between the
// sum of squares and the output (with their weights, loaded in the same batch as x), so a
// row of up to NORM_KEPT · group elements costs one memory round trip before the reduction
// instead of three; longer rows read the rest again.
#define NORM_KEPT 8

// ---- rms_norm: x / sqrt(mean(x²) + eps) · w, the scale computed in f64 ----
extern "C" __global__ void __launch_bounds__(1024) tl_rms_norm(Strided x_rows, i64 x_step, const void* x, const void* w,
                                       i64 w_offset, i64 w_step, void* y, int dt, i64 rows, i64 d,
                                       double eps, int group) {
    tl_wait_for_predecessor();
    tl_allow_successor();
    __shared__ float scratch[32];
    RowGroup g = row_group(group);
    for (i64 row = g.first; row < rows; row += g.step) {
        i64 xb = strided_offset(x_rows, row);
        float kept[NORM_KEPT], weight[NORM_KEPT];
#pragma unroll
        for (int t = 0; t < NORM_KEPT; ++t) {
            i64 j = g.lane + (i64)t * group;
            kept[t] = j < d ? load_f(x, dt, xb + j * x_step) : 0.0f;
            weight[t] = j < d ? load_f(w, dt, w_offset + j * w_step) : 0.0f;
        }
        float ss = 0.0f;
#pragma unroll
        for (int t = 0; t < NORM_KEPT; ++t) ss += kept[t] * kept[t];
        for (i64 j = g.lane + (i64)NORM_KEPT * group; j < d; j += group) {
            float v = load_f(x, dt, xb + j * x_step);
            ss += v * v;
        }
        ss = group_sum(ss, group, scratch);
        float scale = norm_scale((double)ss / (double)d + eps);
#pragma unroll
        for (int t = 0; t < NORM_KEPT; ++t) {
            i64 j = g.lane + (i64)t * group;
            if (j < d) store_f(y, dt, row * d + j, kept[t] * scale * weight[t]);
        }
        for (i64 j = g.lane + (i64)NORM_KEPT * group; j < d; j += group) {
            float v = load_f(x, dt, xb + j * x_step);
            store_f(y, dt, row * d + j, v * scale * load_f(w, dt, w_offset + j * w_step));
        }
    }
}

// ---- add_rms_norm: sum = x + residual (stored), then rms_norm of the stored sum ----
extern "C" __global__ void __launch_bounds__(1024) tl_add_rms_norm(Strided x_rows, i64 x_step, const void* x,
                                           Strided r_rows, i64 r_step, const void* residual,
                                           const void* w, i64 w_offset, i64 w_step, void* sum,
                                           void* y, int dt, i64 rows, i64 d, double eps, int group) {
    tl_wait_for_predecessor();
    tl_allow_successor();
    __shared__ float scratch[32];
    RowGroup g = row_group(group);
    for (i64 row = g.first; row < rows; row += g.step) {
        i64 xb = strided_offset(x_rows, row), rb = strided_offset(r_rows, row);
        float kept[NORM_KEPT], weight[NORM_KEPT];
#pragma unroll
        for (int t = 0; t < NORM_KEPT; ++t) {
            i64 j = g.lane + (i64)t * group;
            kept[t] = j < d ? load_f(x, dt, xb + j * x_step) + load_f(residual, dt, rb + j * r_step) : 0.0f;
            weight[t] = j < d ? load_f(w, dt, w_offset + j * w_step) : 0.0f;
        }
        // Normalised is the sum as stored, rounded to the dtype.
        float ss = 0.0f;
#pragma unroll
        for (int t = 0; t < NORM_KEPT; ++t) {
            i64 j = g.lane + (i64)t * group;
            kept[t] = round_to(dt, kept[t]);
            if (j < d) store_f(sum, dt, row * d + j, kept[t]);
            ss += kept[t] * kept[t];
        }
        for (i64 j = g.lane + (i64)NORM_KEPT * group; j < d; j += group) {
            float v = round_to(dt, load_f(x, dt, xb + j * x_step) + load_f(residual, dt, rb + j * r_step));
            store_f(sum, dt, row * d + j, v);
            ss += v * v;
        }
        ss = group_sum(ss, group, scratch);
        float scale = norm_scale((double)ss / (double)d + eps);
#pragma unroll
        for (int t = 0; t < NORM_KEPT; ++t) {
            i64 j = g.lane + (i64)t * group;
            if (j < d) store_f(y, dt, row * d + j, kept[t] * scale * weight[t]);
        }
        // Each thread reads back only the sums it stored itself.
        for (i64 j = g.lane + (i64)NORM_KEPT * group; j < d; j += group) {
            float v = load_f(sum, dt, row * d + j);
            store_f(y, dt, row * d + j, v * scale * load_f(w, dt, w_offset + j * w_step));
        }
    }
}

// ---- rms_norm / add_rms_norm of dense rows in 16-byte vectors ----
// One block of NORM_VEC_THREADS a row (grid-stride over rows); thread t holds vectors
// t, t + NORM_VEC_THREADS, ... (at most NORM_VEC_KEPT) of x (+ residual) and of w in
// registers from one batch of loads to the store of y. Assumes dense rows for every tensor
// (x, residual, w, sum, y), 16-byte aligned, and d a multiple of the vector with
// d / vector <= NORM_VEC_THREADS · NORM_VEC_KEPT (the host checks). Both entry points take
// the same arguments; tl_rms_norm_vec_* ignores `residual` and `sum` (null).
#define NORM_VEC_THREADS 256
#define NORM_VEC_KEPT 4

// The elements of a 16-byte vector of dtype DT as f32, and back (rounded to nearest even).
template <int DT>
__device__ __forceinline__ void unpack16(uint4 raw, float* f) {
    if (DT == TL_F32) {
        f[0] = __uint_as_float(raw.x);
        f[1] = __uint_as_float(raw.y);
        f[2] = __uint_as_float(raw.z);
        f[3] = __uint_as_float(raw.w);
        return;
    }
    unsigned int w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
    for (int h = 0; h < 4; ++h) {
        unsigned short lo = (unsigned short)(w[h] & 0xffffu), hi = (unsigned short)(w[h] >> 16);
        f[2 * h] = DT == TL_F16 ? f16_to_f32(lo) : bf16_to_f32(lo);
        f[2 * h + 1] = DT == TL_F16 ? f16_to_f32(hi) : bf16_to_f32(hi);
    }
}

template <int DT>
__device__ __forceinline__ uint4 pack16(const float* f) {
    if (DT == TL_F32) return make_uint4(__float_as_uint(f[0]), __float_as_uint(f[1]), __float_as_uint(f[2]), __float_as_uint(f[3]));
    unsigned int w[4];
#pragma unroll
    for (int h = 0; h < 4; ++h) {
        unsigned int lo = DT == TL_F16 ? f32_to_f16(f[2 * h]) : f32_to_bf16(f[2 * h]);
        unsigned int hi = DT == TL_F16 ? f32_to_f16(f[2 * h + 1]) : f32_to_bf16(f[2 * h + 1]);
        w[h] = lo | (hi << 16);
    }
    return make_uint4(w[0], w[1], w[2], w[3]);
}

template <int DT, bool ADD>
__device__ __forceinline__ void rms_norm_vec(const uint4* x, const uint4* residual, const uint4* w,
                                             uint4* sum, uint4* y, i64 rows, i64 vecs, i64 d, double eps) {
    constexpr int VEC = DT == TL_F32 ? 4 : 8;
    // The successor (a mat-vec reading the normalised row) may start prefetching its weights
    // at once: this short kernel gives it the whole wait for the kernel before.
    tl_allow_successor();
    tl_wait_for_predecessor();
    __shared__ float scratch[32];
    for (i64 row = blockIdx.x; row < rows; row += gridDim.x) {
        uint4 raw[NORM_VEC_KEPT], raw_residual[NORM_VEC_KEPT], weight[NORM_VEC_KEPT];
        const uint4 zero = make_uint4(0u, 0u, 0u, 0u);
#pragma unroll
        for (int t = 0; t < NORM_VEC_KEPT; ++t) {
            const i64 v = threadIdx.x + (i64)t * NORM_VEC_THREADS;
            raw[t] = v < vecs ? x[row * vecs + v] : zero;
            if (ADD) raw_residual[t] = v < vecs ? residual[row * vecs + v] : zero;
            weight[t] = v < vecs ? w[v] : zero;
        }
        float kept[NORM_VEC_KEPT][VEC];
        float ss = 0.0f;
#pragma unroll
        for (int t = 0; t < NORM_VEC_KEPT; ++t) {
            const i64 v = threadIdx.x + (i64)t * NORM_VEC_THREADS;
            unpack16<DT>(raw[t], kept[t]);
            if (ADD) {
                float r[VEC];
                unpack16<DT>(raw_residual[t], r);
                // Normalised is the sum as stored, rounded to the dtype.
#pragma unroll
                for (int e = 0; e < VEC; ++e) kept[t][e] = round_to(DT, kept[t][e] + r[e]);
                if (v < vecs) sum[row * vecs + v] = pack16<DT>(kept[t]);
            }
#pragma unroll
            for (int e = 0; e < VEC; ++e) ss += kept[t][e] * kept[t][e];
        }
        ss = group_sum(ss, NORM_VEC_THREADS, scratch);
        const float scale = norm_scale((double)ss / (double)d + eps);
#pragma unroll
        for (int t = 0; t < NORM_VEC_KEPT; ++t) {
            const i64 v = threadIdx.x + (i64)t * NORM_VEC_THREADS;
            if (v >= vecs) continue;
            float f[VEC], out[VEC];
            unpack16<DT>(weight[t], f);
#pragma unroll
            for (int e = 0; e < VEC; ++e) out[e] = kept[t][e] * scale * f[e];
            y[row * vecs + v] = pack16<DT>(out);
        }
    }
}

#define TL_RMS_NORM_VEC(SUFFIX, DT)                                                              \
    extern "C" __global__ void __launch_bounds__(NORM_VEC_THREADS) tl_rms_norm_vec_##SUFFIX(     \
        const uint4* x, const uint4* residual, const uint4* w, uint4* sum, uint4* y, i64 rows,   \
        i64 vecs, i64 d, double eps) {                                                           \
        rms_norm_vec<DT, false>(x, residual, w, sum, y, rows, vecs, d, eps);                     \
    }                                                                                            \
    extern "C" __global__ void __launch_bounds__(NORM_VEC_THREADS) tl_add_rms_norm_vec_##SUFFIX( \
        const uint4* x, const uint4* residual, const uint4* w, uint4* sum, uint4* y, i64 rows,   \
        i64 vecs, i64 d, double eps) {                                                           \
        rms_norm_vec<DT, true>(x, residual, w, sum, y, rows, vecs, d, eps);                      \
    }

TL_RMS_NORM_VEC(f32, TL_F32)
TL_RMS_NORM_VEC(f16, TL_F16)
TL_RMS_NORM_VEC(bf16, TL_BF16)

// ---- layer_norm: two passes (mean, then the variance of the centred row) ----
extern "C" __global__ void __launch_bounds__(1024) tl_layer_norm(Strided x_rows, i64 x_step, const void* x, const void* w,
                                         i64 w_offset, i64 w_step, const void* bias, i64 b_offset,
                                         i64 b_step, void* y, int dt, i64 rows, i64 d, double eps,
                                         int group) {
    tl_wait_then_allow_successor();
    __shared__ float scratch[32];
    RowGroup g = row_group(group);
    for (i64 row = g.first; row < rows; row += g.step) {
        i64 xb = strided_offset(x_rows, row);
        float s = 0.0f;
        for (i64 j = g.lane; j < d; j += group) s += load_f(x, dt, xb + j * x_step);
        float mean = group_sum(s, group, scratch) / (float)d;
        float ss = 0.0f;
        for (i64 j = g.lane; j < d; j += group) {
            float c = load_f(x, dt, xb + j * x_step) - mean;
            ss += c * c;
        }
        ss = group_sum(ss, group, scratch);
        float scale = norm_scale((double)ss / (double)d + eps);
        for (i64 j = g.lane; j < d; j += group) {
            float c = load_f(x, dt, xb + j * x_step) - mean;
            store_f(y, dt, row * d + j,
                    c * scale * load_f(w, dt, w_offset + j * w_step) + load_f(bias, dt, b_offset + j * b_step));
        }
    }
}

// ---- rope: pairs (i, i + d/2) or (2i, 2i + 1) rotated by pos·scale·base^(−2i/d) ----
#define ROPE_CHUNK 256

extern "C" __global__ void tl_rope(int interleaved, Strided x_rows, i64 head_step, i64 dim_step,
                                   const void* x, const void* pos, int pdt, i64 pos_offset,
                                   i64 pos_step, void* y, int dt, i64 rows, i64 seq, i64 heads,
                                   i64 head_dim, double base, double position_scale,
                                   i64 heads_per_block) {
    // The frequencies of the first chunk depend on no tensor: computed (f64, the slow part)
    // while the kernel before this one finishes.
    const double first_frequency =
        threadIdx.x < head_dim / 2 ? exp2(log2(base) * (-2.0 * (double)threadIdx.x / (double)head_dim)) : 0.0;
    tl_wait_for_predecessor();
    tl_allow_successor();
    // Angles in f64: positions reach the tens of thousands, where an f32 angle is off by
    // ~1e-3 rad. The angle is reduced to [-π, π] in f64, so the f32 sincosf that follows
    // takes its short path: cos and sin within 2e-7 of the f64 values, without f64 sincos's
    // long serial chain (most of this kernel's time when decoding).
    __shared__ float cos_s[ROPE_CHUNK];
    __shared__ float sin_s[ROPE_CHUNK];
    const double two_pi = 6.283185307179586;
    i64 half = head_dim / 2;
    // blockIdx.y takes heads [h0, h1): a decoding row's pairs spread over several blocks.
    const i64 h0 = (i64)blockIdx.y * heads_per_block, h1 = imin(heads, h0 + heads_per_block);
    for (i64 r = blockIdx.x; r < rows; r += gridDim.x) {
        i64 s = r % seq;
        double scaled = (double)load_i(pos, pdt, pos_offset + s * pos_step) * position_scale;
        i64 xb = strided_offset(x_rows, r);
        for (i64 c0 = 0; c0 < half; c0 += ROPE_CHUNK) {
            i64 chunk = imin(ROPE_CHUNK, half - c0);
            __syncthreads();  // the previous chunk's readers are done
            for (i64 t = threadIdx.x; t < chunk; t += blockDim.x) {
                double inverse_frequency =
                    c0 == 0 && t == threadIdx.x
                        ? first_frequency
                        : exp2(log2(base) * (-2.0 * (double)(c0 + t) / (double)head_dim));
                double angle = scaled * inverse_frequency;
                angle -= rint(angle / two_pi) * two_pi;
                float sin_a, cos_a;
                sincosf((float)angle, &sin_a, &cos_a);
                cos_s[t] = cos_a;
                sin_s[t] = sin_a;
            }
            __syncthreads();
            for (i64 q = threadIdx.x; q < (h1 - h0) * chunk; q += blockDim.x) {
                i64 h = h0 + q / chunk, t = q % chunk, i = c0 + t;
                i64 first = interleaved ? 2 * i : i;
                i64 second = interleaved ? 2 * i + 1 : i + half;
                i64 xh = xb + h * head_step;
                float a = load_f(x, dt, xh + first * dim_step);
                float b = load_f(x, dt, xh + second * dim_step);
                float c = cos_s[t], sn = sin_s[t];
                i64 yh = (r * heads + h) * head_dim;
                store_f(y, dt, yh + first, a * c - b * sn);
                store_f(y, dt, yh + second, a * sn + b * c);
            }
        }
    }
}

// ---- swiglu: silu(gate) · up ----
extern "C" __global__ void tl_swiglu(Strided gate_view, Strided up_view, const void* gate,
                                     const void* up, void* y, int dt, i64 n) {
    tl_allow_successor();  // as in rms_norm_vec: the down projection prefetches meanwhile
    tl_wait_for_predecessor();
    TL_GRID_LOOP(i, n) {
        float g = load_f(gate, dt, strided_offset(gate_view, i));
        float u = load_f(up, dt, strided_offset(up_view, i));
        store_f(y, dt, i, g / (1.0f + expf(-g)) * u);
    }
}

// ---- attention ----
#define ATT_BR 32     // rows (query head, query) per block
#define ATT_BC 32     // keys per tile: one per lane
#define ATT_WARPS 4
#define ATT_ROWS 8    // rows per warp
#define ATT_NARROW_ROWS 2  // rows per warp of the narrow variant, for decoding's few rows

// Mirrors `AttentionGeometry` in src/ops/nn.rs.
struct AttentionGeometry {
    i64 q_offset, k_offset, v_offset;
    i64 q_strides[4];
    i64 k_strides[4];
    i64 v_strides[4];
    i64 q_heads, kv_heads, q_len, kv_len, head_dim, value_dim;
    i64 group;      // q_heads / kv_heads
    i64 rows;       // group · q_len rows per (batch, kv head)
    i64 row_tiles;  // ceil(rows / rows per block)
    i64 split_len;  // keys per split (a multiple of ATT_BC)
    i64 out_rows;   // batch · q_heads · q_len
    int causal;
    int dt;
    float scale;
    int ldq, ldk, ldv;  // shared-memory row lengths in floats, multiples of 4
    // 1 when rows of q / k / v are dense runs of 16-byte vectors: last stride 1, the dim a
    // multiple of 16 / element size, and the offset and other strides multiples of it too.
    int q_vec, k_vec, v_vec;
    // Query positions (a whole KV cache as k and v): dtype code, or -1 when absent.
    int pos_dt;
    const void* pos;
    i64 pos_offset, pos_stride;
};

// One past the last key a query at position p sees, kept inside the keys (a kernel cannot
// report a bad position).
__device__ __forceinline__ i64 position_end(const AttentionGeometry& g, i64 p) {
    return imin(imax(p, 0) + 1, g.kv_len);
}

// One past the last key query `i` sees: up to its position when positions are given, else
// causal or all.
__device__ __forceinline__ i64 visible_end(const AttentionGeometry& g, i64 i) {
    if (g.pos_dt >= 0) return position_end(g, load_i(g.pos, g.pos_dt, g.pos_offset + i * g.pos_stride));
    return g.causal ? g.kv_len - g.q_len + i + 1 : g.kv_len;
}

// Loads `rows` rows of `dim` elements into shared memory as f32 rows of `ld` floats:
// columns dim..width are zero, and so are rows whose `row_base` is negative (absent). Each
// thread first issues a batch of independent global loads into registers, then stores them,
// so a tile costs about one memory latency instead of one per element. `vec` rows are read
// as 16-byte vectors (then width == dim).
#define LOAD_BATCH 8

template <typename RowBase>
__device__ __forceinline__ void load_rows(float* dst, int ld, int rows, int dim, int width,
                                          const void* src, int dt, i64 col_step, int vec,
                                          RowBase row_base) {
    const int tid = threadIdx.x, threads = blockDim.x;
    if (vec) {
        const int per_vec = dt == TL_F32 ? 4 : 8;
        const int per_row = dim / per_vec;
        const int total = rows * per_row;
        for (int first = 0; first < total; first += threads * LOAD_BATCH) {
            uint4 raw[LOAD_BATCH];
#pragma unroll
            for (int u = 0; u < LOAD_BATCH; ++u) {
                int e = first + tid + threads * u;
                raw[u] = make_uint4(0u, 0u, 0u, 0u);
                if (e < total) {
                    i64 base = row_base(e / per_row);
                    if (base >= 0) raw[u] = ((const uint4*)src)[base / per_vec + e % per_row];
                }
            }
#pragma unroll
            for (int u = 0; u < LOAD_BATCH; ++u) {
                int e = first + tid + threads * u;
                if (e >= total) break;
                float* d = dst + (e / per_row) * ld + (e % per_row) * per_vec;
                if (dt == TL_F32) {
                    *(float4*)d = make_float4(__uint_as_float(raw[u].x), __uint_as_float(raw[u].y),
                                              __uint_as_float(raw[u].z), __uint_as_float(raw[u].w));
                } else {
                    unsigned int w[4] = {raw[u].x, raw[u].y, raw[u].z, raw[u].w};
                    float f[8];
#pragma unroll
                    for (int h = 0; h < 4; ++h) {
                        unsigned short lo = (unsigned short)(w[h] & 0xffffu), hi = (unsigned short)(w[h] >> 16);
                        f[2 * h] = dt == TL_F16 ? f16_to_f32(lo) : bf16_to_f32(lo);
                        f[2 * h + 1] = dt == TL_F16 ? f16_to_f32(hi) : bf16_to_f32(hi);
                    }
                    *(float4*)d = make_float4(f[0], f[1], f[2], f[3]);
                    *(float4*)(d + 4) = make_float4(f[4], f[5], f[6], f[7]);
                }
            }
        }
        return;
    }
    const int total = rows * width;
    for (int first = 0; first < total; first += threads * LOAD_BATCH) {
        float v[LOAD_BATCH];
#pragma unroll
        for (int u = 0; u < LOAD_BATCH; ++u) {
            int e = first + tid + threads * u;
            v[u] = 0.0f;
            if (e < total) {
                int c = e % width;
                i64 base = row_base(e / width);
                if (base >= 0 && c < dim) v[u] = load_f(src, dt, base + c * col_step);
            }
        }
#pragma unroll
        for (int u = 0; u < LOAD_BATCH; ++u) {
            int e = first + tid + threads * u;
            if (e >= total) break;
            dst[(e / width) * ld + e % width] = v[u];
        }
    }
}

extern __shared__ float4 attention_smem[];

template <int COLS, int ROWS>
__device__ __forceinline__ void attention_block(const AttentionGeometry& g, const void* q,
                                                const void* k, const void* v, void* out,
                                                float* part_o, float* part_ml) {
    constexpr int BR = ATT_WARPS * ROWS;  // rows a block owns
    float* qs = (float*)attention_smem;  // [BR][ldq]
    float* ks = qs + BR * g.ldq;      // [ATT_BC][ldk]
    float* vs = ks + ATT_BC * g.ldk;      // [ATT_BC][ldv]
    float* ps = vs + ATT_BC * g.ldv;      // [BR][ATT_BC]
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const i64 tile = blockIdx.x % g.row_tiles, batch_kv = blockIdx.x / g.row_tiles;
    const i64 kv_head = batch_kv % g.kv_heads, b = batch_kv / g.kv_heads;
    const i64 row0 = tile * BR;
    const i64 split = blockIdx.y;
    const i64 key_begin = split * g.split_len;
    const i64 key_end = imin(g.kv_len, key_begin + g.split_len);
    const int dpad = ((int)g.head_dim + 3) & ~3;

    // Keys any row of the block sees (causal rows see a prefix).
    i64 block_end = key_begin;
    for (int rr = 0; rr < BR; ++rr) {
        i64 r = row0 + rr;
        if (r < g.rows) block_end = imax(block_end, imin(key_end, visible_end(g, r % g.q_len)));
    }

    // The query tile, zero beyond head_dim and beyond the last row.
    load_rows(qs, g.ldq, BR, (int)g.head_dim, dpad, q, g.dt, g.q_strides[3], g.q_vec,
              [&](int rr) -> i64 {
                  i64 r = row0 + rr;
                  if (r >= g.rows) return -1;
                  i64 h = kv_head * g.group + r / g.q_len, i = r % g.q_len;
                  return g.q_offset + b * g.q_strides[0] + h * g.q_strides[1] + i * g.q_strides[2];
              });

    // This warp's rows: where each one's visible keys end inside this split.
    i64 row_end[ROWS];
#pragma unroll
    for (int t = 0; t < ROWS; ++t) {
        i64 r = row0 + warp * ROWS + t;
        row_end[t] = r < g.rows ? imin(key_end, visible_end(g, r % g.q_len)) : key_begin;
    }
    const bool warp_active = row0 + warp * ROWS < g.rows;

    float m[ROWS], l[ROWS], o[ROWS][COLS];
#pragma unroll
    for (int t = 0; t < ROWS; ++t) {
        m[t] = NEG_INF;
        l[t] = 0.0f;
#pragma unroll
        for (int c = 0; c < COLS; ++c) o[t][c] = 0.0f;
    }

    const float* q_warp = qs + warp * ROWS * g.ldq;
    float* p_warp = ps + warp * ROWS * ATT_BC;
    for (i64 t0 = key_begin; t0 < block_end; t0 += ATT_BC) {
        __syncthreads();  // every warp is done with the previous K/V tile
        // Keys past the end are zero rows: their weight is 0, and 0·NaN would not be.
        const i64 k_head = g.k_offset + b * g.k_strides[0] + kv_head * g.k_strides[1];
        load_rows(ks, g.ldk, ATT_BC, (int)g.head_dim, dpad, k, g.dt, g.k_strides[3], g.k_vec,
                  [&](int j) -> i64 { return t0 + j < block_end ? k_head + (t0 + j) * g.k_strides[2] : -1; });
        const i64 v_head = g.v_offset + b * g.v_strides[0] + kv_head * g.v_strides[1];
        load_rows(vs, g.ldv, ATT_BC, (int)g.value_dim, (int)g.value_dim, v, g.dt, g.v_strides[3], g.v_vec,
                  [&](int j) -> i64 { return t0 + j < block_end ? v_head + (t0 + j) * g.v_strides[2] : -1; });
        __syncthreads();
        if (!warp_active) continue;

        // Scores of key t0 + lane against the warp's rows.
        float s[ROWS];
#pragma unroll
        for (int t = 0; t < ROWS; ++t) s[t] = 0.0f;
        const float4* k_row = (const float4*)(ks + lane * g.ldk);
        for (int c4 = 0; c4 < dpad / 4; ++c4) {
            float4 kk = k_row[c4];
#pragma unroll
            for (int t = 0; t < ROWS; ++t) {
                float4 qq = ((const float4*)(q_warp + t * g.ldq))[c4];
                s[t] += qq.x * kk.x + qq.y * kk.y + qq.z * kk.z + qq.w * kk.w;
            }
        }
        const i64 key = t0 + lane;
#pragma unroll
        for (int t = 0; t < ROWS; ++t) {
            float x = key < row_end[t] ? s[t] * g.scale : NEG_INF;
            float m_new = fmaxf(m[t], warp_max(x));
            float p = 0.0f, alpha = 1.0f;
            if (m_new != NEG_INF) {  // otherwise no key of this row is seen yet
                p = expf(x - m_new);
                alpha = expf(m[t] - m_new);
            }
            l[t] = l[t] * alpha + p;
#pragma unroll
            for (int c = 0; c < COLS; ++c) o[t][c] *= alpha;
            m[t] = m_new;
            p_warp[t * ATT_BC + lane] = p;
        }
        __syncwarp();

        // o += p · V over the tile's keys.
        for (int j4 = 0; j4 < ATT_BC / 4; ++j4) {
            float4 pp[ROWS];
#pragma unroll
            for (int t = 0; t < ROWS; ++t) pp[t] = ((const float4*)(p_warp + t * ATT_BC))[j4];
#pragma unroll
            for (int jj = 0; jj < 4; ++jj) {
                const float* v_row = vs + (j4 * 4 + jj) * g.ldv;
#pragma unroll
                for (int c = 0; c < COLS; ++c) {
                    int col = lane + 32 * c;
                    float vv = col < g.value_dim ? v_row[col] : 0.0f;
#pragma unroll
                    for (int t = 0; t < ROWS; ++t) {
                        float pt = jj == 0 ? pp[t].x : (jj == 1 ? pp[t].y : (jj == 2 ? pp[t].z : pp[t].w));
                        o[t][c] += pt * vv;
                    }
                }
            }
        }
        __syncwarp();  // p_warp is rewritten by the next tile
    }

#pragma unroll
    for (int t = 0; t < ROWS; ++t) {
        float total = warp_sum(l[t]);
        i64 r = row0 + warp * ROWS + t;
        if (r >= g.rows) continue;
        i64 h = kv_head * g.group + r / g.q_len, i = r % g.q_len;
        i64 out_row = (b * g.q_heads + h) * g.q_len + i;
        if (gridDim.y == 1) {
            float inv = 1.0f / total;
#pragma unroll
            for (int c = 0; c < COLS; ++c) {
                int col = lane + 32 * c;
                if (col < g.value_dim) store_f(out, g.dt, out_row * g.value_dim + col, o[t][c] * inv);
            }
        } else {
            i64 slot = split * g.out_rows + out_row;
#pragma unroll
            for (int c = 0; c < COLS; ++c) {
                int col = lane + 32 * c;
                if (col < g.value_dim) part_o[slot * g.value_dim + col] = o[t][c];
            }
            if (lane == 0) {
                part_ml[slot * 2] = m[t];
                part_ml[slot * 2 + 1] = total;
            }
        }
    }
}

#define TL_ATTENTION(COLS)                                                                       \
    extern "C" __global__ void __launch_bounds__(ATT_WARPS * 32) tl_attention_##COLS(           \
        AttentionGeometry g, const void* q, const void* k, const void* v, void* out,            \
        float* part_o, float* part_ml) {                                                         \
        tl_wait_then_allow_successor();                                                          \
        attention_block<COLS, ATT_ROWS>(g, q, k, v, out, part_o, part_ml);                       \
    }                                                                                            \
    extern "C" __global__ void __launch_bounds__(ATT_WARPS * 32) tl_attention_narrow_##COLS(    \
        AttentionGeometry g, const void* q, const void* k, const void* v, void* out,            \
        float* part_o, float* part_ml) {                                                         \
        tl_wait_then_allow_successor();                                                          \
        attention_block<COLS, ATT_NARROW_ROWS>(g, q, k, v, out, part_o, part_ml);                \
    }

TL_ATTENTION(1)
TL_ATTENTION(2)
TL_ATTENTION(4)
TL_ATTENTION(8)

// ---- attention for decoding: one block per query row, no partials, no second launch ----
// DEC_WARPS warps a block; block = one (batch, query head, query). Warp w scores the
// visible keys in chunks of 32 (chunk w, w + DEC_WARPS, ...): lane = key, its K row read
// as VPR 16-byte vectors. For o += p · V the warp covers 32 / VPR keys a pass, VPR lanes
// per key, each lane one vector of columns. Each warp keeps an online softmax (running
// max, lane-partial sums); the warps are merged in warp order through shared memory.
// Assumes head_dim == value_dim == VPR · (16 / element size) and K/V rows that are dense
// 16-byte vectors (the host checks both).
#define DEC_WARPS 8

// The step's own key and value for RopeAttention (tl_rope_attention_decode_*): dense rows
// [kv_heads, dim] of k (not yet rotated) and v, and the rotation. `early`: no kernel that
// may still run writes the positions or the caches, so they are read before the wait.
struct RopeStep {
    const void* k_new;
    const void* v_new;
    int interleaved;
    int early;
    double base;
    double position_scale;
};

// Loads a warp's chunk of 32 keys starting at t0: lane = key for K (VPR vectors of its row);
// for V, 32 / VPR keys of VPR lanes each, a lane one vector of columns. Keys at or past
// `end` and the step's own row `own` (which comes from shared memory) read as zero.
template <int VPR>
__device__ __forceinline__ void load_key_chunk(const uint4* k_head, i64 k_step, const uint4* v_head, i64 v_step,
                                               i64 t0, i64 end, i64 own, int lane, uint4* kr, uint4* vr) {
    constexpr int KP = 32 / VPR;
    const uint4 zero = make_uint4(0u, 0u, 0u, 0u);
    const i64 key = t0 + lane;
    const int sub = lane / VPR, part = lane % VPR;
#pragma unroll
    for (int u = 0; u < VPR; ++u) kr[u] = key >= end || key == own ? zero : __ldg(k_head + key * k_step + u);
#pragma unroll
    for (int u = 0; u < VPR; ++u) {
        const i64 vk = t0 + u * KP + sub;
        vr[u] = vk >= end || vk == own ? zero : __ldg(v_head + vk * v_step + part);
    }
}

// With ROPE, the block also rotates its query and its kv head's new key by the query's
// position p (angles as tl_rope), keeps that key and value in shared memory for key p, and
// the first query head of each kv head writes them into the caches at row p (k, v then
// point to the caches; one query, q_len 1). Other blocks read only rows below p from the
// caches, so no block reads a row another writes. With `early`, the position, the angles
// and each warp's first chunk of cached keys are loaded before the wait, leaving one memory
// round trip (q and the step's k and v) between the wait and the scores.
template <int DT, int VPR, bool ROPE>
__device__ __forceinline__ void attention_decode(const AttentionGeometry& g, const void* q,
                                                 const uint4* k, const uint4* v, void* out,
                                                 const RopeStep& r) {
    constexpr int VEC = DT == TL_F32 ? 4 : 8;  // elements per 16-byte vector
    constexpr int D = VPR * VEC;
    constexpr int KP = 32 / VPR;  // keys per pass of the p · V product
    KernelTimeline timeline;
    timeline.mark(0);
    const bool early = ROPE && r.early;
    // Before the wait: the rotation's frequencies depend on no tensor.
    const double frequency =
        ROPE && threadIdx.x < D / 2 ? exp2(log2(r.base) * (-2.0 * (double)threadIdx.x / (double)D)) : 0.0;
    if (!early) {
        tl_wait_for_predecessor();
        tl_allow_successor();
        timeline.mark(1);
    }
    __shared__ float qs[D];
    __shared__ float warp_m[DEC_WARPS], warp_l[DEC_WARPS];
    __shared__ float warp_o[DEC_WARPS][D];
    __shared__ uint4 new_k[ROPE ? VPR : 1], new_v[ROPE ? VPR : 1];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int t = threadIdx.x;
    const i64 out_row = blockIdx.x;
    const i64 i = out_row % g.q_len, bh = out_row / g.q_len;
    const i64 h = bh % g.q_heads, b = bh / g.q_heads;
    const i64 kv_head = h / g.group;
    const i64 q_base = g.q_offset + b * g.q_strides[0] + h * g.q_strides[1] + i * g.q_strides[2];
    const uint4* k_head = k + (g.k_offset + b * g.k_strides[0] + kv_head * g.k_strides[1]) / VEC;
    const uint4* v_head = v + (g.v_offset + b * g.v_strides[0] + kv_head * g.v_strides[1]) / VEC;
    const i64 k_step = g.k_strides[2] / VEC, v_step = g.v_strides[2] / VEC;
    const int first = ROPE && r.interleaved ? 2 * t : t, second = ROPE && r.interleaved ? 2 * t + 1 : t + D / 2;
    i64 own = -1, end;
    float sn = 0.0f, cs = 1.0f;
    if (ROPE) {
        const i64 p = load_i(g.pos, g.pos_dt, g.pos_offset + i * g.pos_stride);
        // The step's row: its position, when inside the cache (the CPU reports one outside;
        // a kernel cannot, so it writes nothing then, as IndexCopy's kernel).
        own = p >= 0 && p < g.kv_len ? p : -1;
        end = position_end(g, p);
        if (t < D / 2) {
            double angle = (double)p * r.position_scale * frequency;
            angle -= rint(angle / 6.283185307179586) * 6.283185307179586;
            sincosf((float)angle, &sn, &cs);
        }
    } else {
        end = visible_end(g, i);
    }
    uint4 kr[VPR], vr[VPR];
    load_key_chunk<VPR>(k_head, k_step, v_head, v_step, (i64)warp * 32, end, own, lane, kr, vr);
    if (early) {
        tl_wait_for_predecessor();
        tl_allow_successor();
        timeline.mark(1);
    }
    if (ROPE) {
        if (t < D / 2) {
            const i64 k_base = kv_head * D;
            // One batch of loads: the query's pair, the new key's and the new value's. The
            // dtype is the constant DT, not g.dt: a switch put each load in a branch of its
            // own, converted before the next went out (six L2 round trips, 2.1 µs on an H200).
            const float a = load_f(q, DT, q_base + first * g.q_strides[3]);
            const float bq = load_f(q, DT, q_base + second * g.q_strides[3]);
            const float ka = load_f(r.k_new, DT, k_base + first);
            const float kb = load_f(r.k_new, DT, k_base + second);
            const float va = load_f(r.v_new, DT, k_base + first);
            const float vb = load_f(r.v_new, DT, k_base + second);
            qs[first] = round_to(DT, a * cs - bq * sn) * g.scale;
            qs[second] = round_to(DT, a * sn + bq * cs) * g.scale;
            store_f(new_k, DT, first, ka * cs - kb * sn);
            store_f(new_k, DT, second, ka * sn + kb * cs);
            store_f(new_v, DT, first, va);
            store_f(new_v, DT, second, vb);
        }
        __syncthreads();
        // The first query head of the group writes the row (whole 16-byte vectors).
        if (h % g.group == 0 && own >= 0 && t < VPR) {
            ((uint4*)k_head)[own * k_step + t] = new_k[t];
            ((uint4*)v_head)[own * v_step + t] = new_v[t];
        }
    } else {
        for (int c = t; c < D; c += blockDim.x) qs[c] = load_f(q, g.dt, q_base + c * g.q_strides[3]) * g.scale;
        __syncthreads();
    }
    timeline.mark(2);
    const int sub = lane / VPR, part = lane % VPR;
    float m = NEG_INF, l = 0.0f, o[VEC];
#pragma unroll
    for (int e = 0; e < VEC; ++e) o[e] = 0.0f;
    for (i64 t0 = (i64)warp * 32; t0 < end; t0 += DEC_WARPS * 32) {
        // Every load of the chunk is issued before any is used: one memory latency a chunk.
        // The step's own row comes from shared memory; no block reads a row written in this
        // kernel from the caches, so they may take the read-only path.
        if (t0 != (i64)warp * 32) load_key_chunk<VPR>(k_head, k_step, v_head, v_step, t0, end, own, lane, kr, vr);
        const i64 key = t0 + lane;
        if (ROPE && key == own) {
#pragma unroll
            for (int u = 0; u < VPR; ++u) kr[u] = new_k[u];
        }
#pragma unroll
        for (int u = 0; u < VPR; ++u) {
            if (ROPE && t0 + u * KP + sub == own) vr[u] = new_v[part];
        }
        float s = 0.0f;
#pragma unroll
        for (int u = 0; u < VPR; ++u) {
            float f[VEC];
            unpack16<DT>(kr[u], f);
#pragma unroll
            for (int e = 0; e < VEC; ++e) s = fmaf(f[e], qs[u * VEC + e], s);
        }
        const float x = key < end ? s : NEG_INF;
        const float m_new = fmaxf(m, warp_max(x));  // finite: key t0 is visible
        const float p = expf(x - m_new), alpha = expf(m - m_new);
        l = l * alpha + p;
#pragma unroll
        for (int e = 0; e < VEC; ++e) o[e] *= alpha;
#pragma unroll
        for (int u = 0; u < VPR; ++u) {
            const float pu = __shfl_sync(0xffffffffu, p, u * KP + sub);
            float f[VEC];
            unpack16<DT>(vr[u], f);
#pragma unroll
            for (int e = 0; e < VEC; ++e) o[e] = fmaf(pu, f[e], o[e]);
        }
        m = m_new;
    }
    timeline.mark(3);
    // Lanes holding the same columns (lane % VPR) sum their keys' shares.
#pragma unroll
    for (int offset = VPR; offset < 32; offset <<= 1) {
#pragma unroll
        for (int e = 0; e < VEC; ++e) o[e] += __shfl_xor_sync(0xffffffffu, o[e], offset);
    }
    const float l_total = warp_sum(l);
    if (lane == 0) {
        warp_m[warp] = m;
        warp_l[warp] = l_total;
    }
    if (lane < VPR) {
#pragma unroll
        for (int e = 0; e < VEC; ++e) warp_o[warp][lane * VEC + e] = o[e];
    }
    __syncthreads();
    for (int c = threadIdx.x; c < D; c += blockDim.x) {
        float best = NEG_INF;
#pragma unroll
        for (int w = 0; w < DEC_WARPS; ++w) best = fmaxf(best, warp_m[w]);
        float total = 0.0f, acc = 0.0f;
#pragma unroll
        for (int w = 0; w < DEC_WARPS; ++w) {
            if (warp_m[w] == NEG_INF) continue;  // this warp saw no key
            const float weight = expf(warp_m[w] - best);
            total += warp_l[w] * weight;
            acc += warp_o[w][c] * weight;
        }
        store_f(out, DT, out_row * D + c, acc / total);
    }
    timeline.mark(4);
    timeline.finish(3, early, 1, end);
}

#define TL_ATTENTION_DECODE(SUFFIX, DT, VPR)                                                    \
    extern "C" __global__ void __launch_bounds__(DEC_WARPS * 32) tl_attention_decode_##SUFFIX##_##VPR( \
        AttentionGeometry g, const void* q, const uint4* k, const uint4* v, void* out) {         \
        RopeStep none = {nullptr, nullptr, 0, 0, 0.0, 0.0};                                         \
        attention_decode<DT, VPR, false>(g, q, k, v, out, none);                                 \
    }                                                                                            \
    extern "C" __global__ void __launch_bounds__(DEC_WARPS * 32) tl_rope_attention_decode_##SUFFIX##_##VPR( \
        AttentionGeometry g, const void* q, const uint4* k, const uint4* v, void* out, RopeStep r) { \
        attention_decode<DT, VPR, true>(g, q, k, v, out, r);                                     \
    }

TL_ATTENTION_DECODE(f32, TL_F32, 4)
TL_ATTENTION_DECODE(f32, TL_F32, 8)
TL_ATTENTION_DECODE(f32, TL_F32, 16)
TL_ATTENTION_DECODE(f32, TL_F32, 32)
TL_ATTENTION_DECODE(f16, TL_F16, 4)
TL_ATTENTION_DECODE(f16, TL_F16, 8)
TL_ATTENTION_DECODE(f16, TL_F16, 16)
TL_ATTENTION_DECODE(f16, TL_F16, 32)
TL_ATTENTION_DECODE(bf16, TL_BF16, 4)
TL_ATTENTION_DECODE(bf16, TL_BF16, 8)
TL_ATTENTION_DECODE(bf16, TL_BF16, 16)
TL_ATTENTION_DECODE(bf16, TL_BF16, 32)

// ---- attention on tensor cores (prefill): see the file's header ----
#define MMA_BR 64  // rows (query head, query) a block: 16 a warp
#define MMA_BC 64  // keys a tile
#define MMA_WARPS 4

// c += a · b for one 16x16 (row-major a) by 16x8 (column-major b) tile of f16/bf16, in f32.
template <int DT>
__device__ __forceinline__ void mma_16816(float* c, const unsigned int* a, unsigned int b0, unsigned int b1) {
    if (DT == TL_BF16) {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    } else {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    }
}

// Two floats rounded to the dtype (to nearest even), `lo` in the low half.
template <int DT>
__device__ __forceinline__ unsigned int pack_pair(float lo, float hi) {
    unsigned int r;
    if (DT == TL_BF16) {
        asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    } else {
        asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    }
    return r;
}

// Four 8x8 tiles of 16-bit values from shared memory, transposed (lanes 8m..8m+7 address
// the rows of tile m).
__device__ __forceinline__ void load_matrix_x4_trans(const void* row, unsigned int* r) {
    unsigned int address = (unsigned int)__cvta_generic_to_shared(row);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(address));
}

template <int DT, int D>
__device__ __forceinline__ void attention_mma(const AttentionGeometry& g, const void* q, const void* k,
                                              const void* v, void* out) {
    // Shared rows hold D + 8 elements: the 16 bytes of padding put the eight rows that a
    // fragment load or an ldmatrix reads at once in different banks.
    constexpr int LD = D + 8;
    constexpr int VPR = D / 8;  // 16-byte vectors a row
    unsigned short* qs = (unsigned short*)attention_smem;  // [MMA_BR][LD]
    unsigned short* ks = qs + MMA_BR * LD;                 // [2][MMA_BC][LD]
    unsigned short* vs = ks + 2 * MMA_BC * LD;             // [2][MMA_BC][LD]
    __shared__ i64 row_end[MMA_BR];
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int group = lane >> 2, quad = lane & 3;
    const i64 tile = blockIdx.x % g.row_tiles, batch_kv = blockIdx.x / g.row_tiles;
    const i64 kv_head = batch_kv % g.kv_heads, b = batch_kv / g.kv_heads;
    const i64 row0 = tile * MMA_BR;

    if (tid < MMA_BR) {
        const i64 r = row0 + tid;
        row_end[tid] = r < g.rows ? visible_end(g, r % g.q_len) : 0;
    }
    for (int e = tid; e < MMA_BR * VPR; e += blockDim.x) {
        const int rr = e / VPR, c = e % VPR;
        const i64 r = row0 + rr;
        const bool valid = r < g.rows;
        const i64 h = kv_head * g.group + (valid ? r / g.q_len : 0), i = valid ? r % g.q_len : 0;
        const i64 base = g.q_offset + b * g.q_strides[0] + h * g.q_strides[1] + i * g.q_strides[2];
        copy_async_16_or_zero(qs + rr * LD + c * 8, (const uint4*)q + base / 8 + c, valid);
    }
    copy_async_commit();
    __syncthreads();
    i64 block_end = 0;
    for (int rr = 0; rr < MMA_BR; ++rr) block_end = imax(block_end, row_end[rr]);
    const i64 end_lo = row_end[warp * 16 + group], end_hi = row_end[warp * 16 + group + 8];

    const i64 k_head = g.k_offset + b * g.k_strides[0] + kv_head * g.k_strides[1];
    const i64 v_head = g.v_offset + b * g.v_strides[0] + kv_head * g.v_strides[1];
    // Keys past the block's end are zero rows: their weight is 0, and 0·NaN would not be.
    auto load_tile = [&](i64 t0, int buffer) {
        for (int e = tid; e < MMA_BC * VPR; e += blockDim.x) {
            const int j = e / VPR, c = e % VPR;
            const i64 key = t0 + j;
            const bool valid = key < block_end;
            const i64 row = valid ? key : 0;
            const int at = (buffer * MMA_BC + j) * LD + c * 8;
            copy_async_16_or_zero(ks + at, (const uint4*)k + (k_head + row * g.k_strides[2]) / 8 + c, valid);
            copy_async_16_or_zero(vs + at, (const uint4*)v + (v_head + row * g.v_strides[2]) / 8 + c, valid);
        }
    };
    const int tiles = (int)((block_end + MMA_BC - 1) / MMA_BC);
    if (tiles > 0) load_tile(0, 0);
    copy_async_commit();

    // Scores in log2 units, so that exp2 gives the softmax's exponentials.
    const float scale = g.scale * 1.4426950408889634f;
    unsigned int qf[D / 16][4];
    float o[D / 8][4];
#pragma unroll
    for (int n = 0; n < D / 8; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
    float m_lo = NEG_INF, m_hi = NEG_INF, l_lo = 0.0f, l_hi = 0.0f;
    for (int t = 0; t < tiles; ++t) {
        // The next tile is in flight while this one is used.
        if (t + 1 < tiles) load_tile((i64)(t + 1) * MMA_BC, (t + 1) & 1);
        copy_async_commit();
        copy_async_wait<1>();
        __syncthreads();
        if (t == 0) {
            const unsigned short* q_lo = qs + (warp * 16 + group) * LD + 2 * quad;
#pragma unroll
            for (int kk = 0; kk < D / 16; ++kk) {
                qf[kk][0] = *(const unsigned int*)(q_lo + kk * 16);
                qf[kk][1] = *(const unsigned int*)(q_lo + 8 * LD + kk * 16);
                qf[kk][2] = *(const unsigned int*)(q_lo + kk * 16 + 8);
                qf[kk][3] = *(const unsigned int*)(q_lo + 8 * LD + kk * 16 + 8);
            }
        }
        const unsigned short* kb = ks + (t & 1) * MMA_BC * LD;
        const unsigned short* vb = vs + (t & 1) * MMA_BC * LD;
        // s = q · kᵀ: 8 tiles of 8 keys; lane holds keys 8n + 2·quad (+1) of rows group and
        // group + 8 of the warp's 16.
        float s[MMA_BC / 8][4];
#pragma unroll
        for (int n = 0; n < MMA_BC / 8; ++n) {
            s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
            const unsigned short* key_row = kb + (n * 8 + group) * LD + 2 * quad;
#pragma unroll
            for (int kk = 0; kk < D / 16; ++kk) {
                mma_16816<DT>(s[n], qf[kk], *(const unsigned int*)(key_row + kk * 16),
                              *(const unsigned int*)(key_row + kk * 16 + 8));
            }
        }
        const i64 t0 = (i64)t * MMA_BC;
        float max_lo = NEG_INF, max_hi = NEG_INF;
#pragma unroll
        for (int n = 0; n < MMA_BC / 8; ++n) {
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                const i64 key = t0 + n * 8 + 2 * quad + e;
                s[n][e] = key < end_lo ? s[n][e] * scale : NEG_INF;
                s[n][2 + e] = key < end_hi ? s[n][2 + e] * scale : NEG_INF;
                max_lo = fmaxf(max_lo, s[n][e]);
                max_hi = fmaxf(max_hi, s[n][2 + e]);
            }
        }
#pragma unroll
        for (int offset = 1; offset < 4; offset <<= 1) {
            max_lo = fmaxf(max_lo, __shfl_xor_sync(0xffffffffu, max_lo, offset));
            max_hi = fmaxf(max_hi, __shfl_xor_sync(0xffffffffu, max_hi, offset));
        }
        const float new_lo = fmaxf(m_lo, max_lo), new_hi = fmaxf(m_hi, max_hi);
        // A row that has seen no key yet keeps weight 0 (and no NaN from -inf - -inf).
        const float alpha_lo = new_lo == NEG_INF ? 1.0f : exp2f(m_lo - new_lo);
        const float alpha_hi = new_hi == NEG_INF ? 1.0f : exp2f(m_hi - new_hi);
        m_lo = new_lo;
        m_hi = new_hi;
        float sum_lo = 0.0f, sum_hi = 0.0f;
#pragma unroll
        for (int n = 0; n < MMA_BC / 8; ++n) {
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                s[n][e] = new_lo == NEG_INF ? 0.0f : exp2f(s[n][e] - new_lo);
                s[n][2 + e] = new_hi == NEG_INF ? 0.0f : exp2f(s[n][2 + e] - new_hi);
                sum_lo += s[n][e];
                sum_hi += s[n][2 + e];
            }
        }
        l_lo = l_lo * alpha_lo + sum_lo;
        l_hi = l_hi * alpha_hi + sum_hi;
#pragma unroll
        for (int n = 0; n < D / 8; ++n) {
            o[n][0] *= alpha_lo;
            o[n][1] *= alpha_lo;
            o[n][2] *= alpha_hi;
            o[n][3] *= alpha_hi;
        }
        // o += p · v, 16 keys a step: the score tiles 2j and 2j + 1 are, as they lie in the
        // lanes, the left operand's fragment; v's comes transposed from shared memory.
#pragma unroll
        for (int j = 0; j < MMA_BC / 16; ++j) {
            const unsigned int a[4] = {pack_pair<DT>(s[2 * j][0], s[2 * j][1]), pack_pair<DT>(s[2 * j][2], s[2 * j][3]),
                                       pack_pair<DT>(s[2 * j + 1][0], s[2 * j + 1][1]),
                                       pack_pair<DT>(s[2 * j + 1][2], s[2 * j + 1][3])};
            const unsigned short* v_rows = vb + (16 * j + (lane & 15)) * LD + (lane >> 4) * 8;
#pragma unroll
            for (int n2 = 0; n2 < D / 16; ++n2) {
                unsigned int r[4];
                load_matrix_x4_trans(v_rows + n2 * 16, r);
                mma_16816<DT>(o[2 * n2], a, r[0], r[1]);
                mma_16816<DT>(o[2 * n2 + 1], a, r[2], r[3]);
            }
        }
        __syncthreads();  // every warp is done with the buffers the next load overwrites
    }
    copy_async_wait<0>();

#pragma unroll
    for (int offset = 1; offset < 4; offset <<= 1) {
        l_lo += __shfl_xor_sync(0xffffffffu, l_lo, offset);
        l_hi += __shfl_xor_sync(0xffffffffu, l_hi, offset);
    }
#pragma unroll
    for (int half = 0; half < 2; ++half) {
        const i64 r = row0 + warp * 16 + group + 8 * half;
        if (r >= g.rows) continue;
        const i64 h = kv_head * g.group + r / g.q_len, i = r % g.q_len;
        const i64 out_row = (b * g.q_heads + h) * g.q_len + i;
        const float inv = 1.0f / (half ? l_hi : l_lo);
#pragma unroll
        for (int n = 0; n < D / 8; ++n) {
            const i64 at = out_row * D + n * 8 + 2 * quad;
            store_f(out, DT, at, o[n][2 * half] * inv);
            store_f(out, DT, at + 1, o[n][2 * half + 1] * inv);
        }
    }
}

#define TL_ATTENTION_MMA(SUFFIX, DT, D)                                                          \
    extern "C" __global__ void __launch_bounds__(MMA_WARPS * 32) tl_attention_mma_##SUFFIX##_##D( \
        AttentionGeometry g, const void* q, const void* k, const void* v, void* out) {            \
        tl_wait_then_allow_successor();                                                           \
        attention_mma<DT, D>(g, q, k, v, out);                                                    \
    }

TL_ATTENTION_MMA(f16, TL_F16, 64)
TL_ATTENTION_MMA(f16, TL_F16, 128)
TL_ATTENTION_MMA(bf16, TL_BF16, 64)
TL_ATTENTION_MMA(bf16, TL_BF16, 128)

// Merges the splits of each output element in split order: weights exp(m_s − max_s m_s).
extern "C" __global__ void tl_attention_combine(const float* part_o, const float* part_ml, void* out,
                                                int dt, i64 out_rows, i64 value_dim, i64 splits) {
    tl_wait_then_allow_successor();
    TL_GRID_LOOP(e, out_rows * value_dim) {
        i64 row = e / value_dim, col = e % value_dim;
        float best = NEG_INF;
        for (i64 s = 0; s < splits; ++s) best = fmaxf(best, part_ml[(s * out_rows + row) * 2]);
        float total = 0.0f, acc = 0.0f;
        for (i64 s = 0; s < splits; ++s) {
            i64 slot = s * out_rows + row;
            float m = part_ml[slot * 2];
            if (m == NEG_INF) continue;  // this split holds no key the row sees
            float w = expf(m - best);
            total += part_ml[slot * 2 + 1] * w;
            acc += part_o[slot * value_dim + col] * w;
        }
        store_f(out, dt, e, acc * (1.0f / total));
    }
}
