// Matrix-vector products for batch-1 decoding: y[r, j] = sum_c x[r, c] * w[j, c] for a few
// rows r of x (R <= 4) and a dense row-major float weight w [n, k], in f32 accumulation.
//
// Launch geometry and assumptions:
//   tl_matvec_<dtype>_r<R>: MV_WARPS warps a block, `split` consecutive warps (1, 2, 4 or
//     8) per weight row j (grid = ceil(n · split / MV_WARPS)), each taking a share of the
//     row in whole columns of 32 vectors; the warp's lanes stream its share as 16-byte
//     vectors, eight loads in flight per lane (the tail predicated, not looped), past L1
//     (the weights are read once); x rows come through the caches. The shares' sums meet in
//     shared memory and are added in share order.
//     Launched as dependent kernels: the first weights load before waiting for x's writer
//     (unless that kernel wrote the weights: `prefetch` 0), and the rest of the row is
//     prefetched into L2 meanwhile (always: L2 is coherent).
//     k is a multiple of the vector (4 f32, 8 f16/bf16); w, x and the x row stride are
//     16-byte aligned; y is dense [R, n] in the dtype of x and w. The lane sums are added
//     in a fixed butterfly, so results are the same run to run.
//   tl_linear_<dtype>[_gated]: `Linear` of one activation row (linear_input.cuh). The same
//     geometry and weight stream as tl_matvec_*_r1; after the wait each block computes the
//     normalised input into shared memory (dynamic: the rows linear_input reads, the input
//     written over the first) and the warps read it from there. Gated: a warp streams row j
//     of w and of w_up together and stores silu(gate)·up. Registers are bounded so that
//     three blocks (two gated) share a multiprocessor: qkv's rows then fit in one wave.
//   tl_linear_<dtype>[_gated]_many: the same for rows that would take many waves (an output
//     head): a grid of the blocks the GPU holds at once, warp g of G taking rows g, g + G,
//     ..., so a block computes the input once; the warp's next row is prefetched into L2.

#define MV_WARPS 8
#define MV_UNROLL 8

__device__ __forceinline__ uint4 load_streaming(const uint4* p) {
    uint4 r;
    asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
                 : "l"(p));
    return r;
}

// The dot product of two 16-byte vectors of dtype DT.
template <int DT>
__device__ __forceinline__ float dot16(uint4 a, uint4 b) {
    if (DT == TL_F32) {
        return __uint_as_float(a.x) * __uint_as_float(b.x) + __uint_as_float(a.y) * __uint_as_float(b.y) +
               __uint_as_float(a.z) * __uint_as_float(b.z) + __uint_as_float(a.w) * __uint_as_float(b.w);
    }
    unsigned int wa[4] = {a.x, a.y, a.z, a.w}, wb[4] = {b.x, b.y, b.z, b.w};
    float s = 0.0f;
#pragma unroll
    for (int h = 0; h < 4; ++h) {
        unsigned short alo = (unsigned short)(wa[h] & 0xffffu), ahi = (unsigned short)(wa[h] >> 16);
        unsigned short blo = (unsigned short)(wb[h] & 0xffffu), bhi = (unsigned short)(wb[h] >> 16);
        if (DT == TL_BF16) {
            s = fmaf(bf16_to_f32(alo), bf16_to_f32(blo), s);
            s = fmaf(bf16_to_f32(ahi), bf16_to_f32(bhi), s);
        } else {
            s = fmaf(f16_to_f32(alo), f16_to_f32(blo), s);
            s = fmaf(f16_to_f32(ahi), f16_to_f32(bhi), s);
        }
    }
    return s;
}

template <int R, int DT, int UNROLL = MV_UNROLL>
__device__ __forceinline__ void load_batch(const uint4* row, i64 v0, i64 vecs, bool active, uint4* wv) {
    const uint4 zero = make_uint4(0u, 0u, 0u, 0u);
#pragma unroll
    for (int u = 0; u < UNROLL; ++u) {
        const i64 v = v0 + 32 * u;
        wv[u] = active && v < vecs ? load_streaming(row + v) : zero;
    }
}

// Pulls bytes [from, to) of a weight row into L2, a 128-byte line per lane at a time: the
// row's later batches then come from L2 after the wait, while this launch's first batch and
// the kernel before it still run. Only warms the coherent L2, so it is safe whoever writes.
__device__ __forceinline__ void prefetch_rest(const uint4* row, i64 from, i64 to, int lane) {
    const unsigned char* p = (const unsigned char*)row;
    for (i64 at = from + 128 * (i64)lane; at < to; at += 32 * 128) {
        asm volatile("prefetch.global.L2 [%0];" ::"l"(p + at));
    }
}

template <int R, int DT>
__device__ __forceinline__ void matvec(const uint4* x, i64 x_row_vecs, const uint4* w, void* y,
                                       i64 vecs, i64 n, int prefetch, int split) {
    __shared__ float partial[R][MV_WARPS];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const i64 j = ((i64)blockIdx.x * MV_WARPS + warp) / split;
    const int part = warp % split;
    const bool active = j < n;
    // The warp's share of the row: whole columns of 32 vectors, so lanes stay aligned.
    const i64 share = ((vecs + split - 1) / split + 31) / 32 * 32;
    const i64 begin = part * share, end = active ? (begin + share < vecs ? begin + share : vecs) : begin;
    const uint4* row = w + j * vecs;
    // Unless the kernel before this one wrote the weights (`prefetch` 0), the first batch is
    // in flight before waiting for it.
    KernelTimeline timeline;
    timeline.mark(0);
    uint4 wv[MV_UNROLL];
    load_batch<R, DT>(row, begin + lane, end, prefetch, wv);
    prefetch_rest(row, 16 * (begin + 32 * MV_UNROLL), 16 * end, lane);
    tl_wait_for_predecessor();
    tl_allow_successor();
    timeline.mark(1);
    timeline.mark(2);  // x comes through the caches: no input phase
    if (!prefetch) load_batch<R, DT>(row, begin + lane, end, true, wv);
    float acc[R];
#pragma unroll
    for (int r = 0; r < R; ++r) acc[r] = 0.0f;
    // The tail is predicated inside a batch, so its loads are in flight together; the
    // additions keep v's order. (A second batch in flight would double the registers, and
    // so halve the blocks an SM holds, for the long rows alone.)
    for (i64 v0 = begin + lane; v0 < end; v0 += 32 * MV_UNROLL) {
        if (v0 != begin + lane) load_batch<R, DT>(row, v0, end, true, wv);
#pragma unroll
        for (int u = 0; u < MV_UNROLL; ++u) {
            const i64 v = v0 + 32 * u;
            if (v >= end) break;
#pragma unroll
            for (int r = 0; r < R; ++r) acc[r] += dot16<DT>(wv[u], x[r * x_row_vecs + v]);
        }
    }
#pragma unroll
    for (int r = 0; r < R; ++r) {
        const float total = warp_sum(acc[r]);
        if (split == 1) {
            if (lane == 0 && active) store_f(y, DT, r * n + j, total);
        } else if (lane == 0) {
            partial[r][warp] = total;
        }
    }
    timeline.mark(3);
    timeline.mark(4);
    if (split == 1) return timeline.finish(5, prefetch, n, (DT == TL_F32 ? 4 : 8) * vecs);
    // The row's warps are consecutive in the block; their shares are added in part order.
    __syncthreads();
    if (part == 0 && lane == 0 && active) {
#pragma unroll
        for (int r = 0; r < R; ++r) {
            float total = 0.0f;
            for (int s = 0; s < split; ++s) total += partial[r][warp + s];
            store_f(y, DT, r * n + j, total);
        }
    }
    timeline.finish(5, prefetch, n, (DT == TL_F32 ? 4 : 8) * vecs);
}

#define TL_MATVEC(SUFFIX, DT, R)                                                                 \
    extern "C" __global__ void __launch_bounds__(MV_WARPS * 32) tl_matvec_##SUFFIX##_r##R(     \
        const uint4* x, i64 x_row_vecs, const uint4* w, void* y, i64 vecs, i64 n, int prefetch,   \
        int split) {                                                                             \
        matvec<R, DT>(x, x_row_vecs, w, y, vecs, n, prefetch, split);                            \
    }

TL_MATVEC(f32, TL_F32, 1)
TL_MATVEC(f32, TL_F32, 2)
TL_MATVEC(f32, TL_F32, 3)
TL_MATVEC(f32, TL_F32, 4)
TL_MATVEC(f16, TL_F16, 1)
TL_MATVEC(f16, TL_F16, 2)
TL_MATVEC(f16, TL_F16, 3)
TL_MATVEC(f16, TL_F16, 4)
TL_MATVEC(bf16, TL_BF16, 1)
TL_MATVEC(bf16, TL_BF16, 2)
TL_MATVEC(bf16, TL_BF16, 3)
TL_MATVEC(bf16, TL_BF16, 4)

// MANY: warp g of G takes rows g, g + G, ... (a grid of fewer than n / MV_WARPS blocks), so
// that a block computes the input once for several rows; the warp's next row heads for L2
// while one is summed.
template <int DT, bool GATED, bool MANY>
__device__ __forceinline__ void linear_matvec(const LinearInput& in, const uint4* w, const uint4* w_up, void* y,
                                              i64 vecs, i64 n, int prefetch) {
    extern __shared__ uint4 h[];
    const int lane = threadIdx.x & 31;
    const i64 rows_step = (i64)gridDim.x * MV_WARPS;
    i64 j = (i64)blockIdx.x * MV_WARPS + (threadIdx.x >> 5);
    const bool active = j < n;
    const uint4* row = w + j * vecs;
    const uint4* row_up = w_up + j * vecs;
    // Gated: half the batch from each row, so the two rows in flight take the registers of one.
    constexpr int UNROLL = GATED ? MV_UNROLL / 2 : MV_UNROLL;
    KernelTimeline timeline;
    timeline.mark(0);
    uint4 wv[UNROLL], uv[UNROLL];
    load_batch<1, DT, UNROLL>(row, lane, vecs, active && prefetch, wv);
    if (GATED) load_batch<1, DT, UNROLL>(row_up, lane, vecs, active && prefetch, uv);
    if (active) {
        prefetch_rest(row, 16 * 32 * UNROLL, 16 * vecs, lane);
        if (GATED) prefetch_rest(row_up, 16 * 32 * UNROLL, 16 * vecs, lane);
    }
    linear_input_early<DT>(in, (unsigned char*)h);
    tl_wait_for_predecessor();
    tl_allow_successor();
    timeline.mark(1);
    linear_input<DT>(in, (unsigned char*)h, [&](i64 c, const float* f, bool valid) {
        if (valid) li_store_chunk(h, DT, c, f);
    });
    __syncthreads();
    timeline.mark(2);
    if (!active) return timeline.finish(GATED ? 6 : 5, prefetch, n, (DT == TL_F32 ? 4 : 8) * vecs);
    for (bool first = true;; first = false) {
        if (MANY && j + rows_step < n) {
            prefetch_rest(row + rows_step * vecs, 0, 16 * vecs, lane);
            if (GATED) prefetch_rest(row_up + rows_step * vecs, 0, 16 * vecs, lane);
        }
        float acc = 0.0f, acc_up = 0.0f;
        for (i64 v0 = lane; v0 < vecs; v0 += 32 * UNROLL) {
            if (v0 != lane || !prefetch || !first) {
                load_batch<1, DT, UNROLL>(row, v0, vecs, true, wv);
                if (GATED) load_batch<1, DT, UNROLL>(row_up, v0, vecs, true, uv);
            }
#pragma unroll
            for (int u = 0; u < UNROLL; ++u) {
                const i64 v = v0 + 32 * u;
                if (v >= vecs) break;
                const uint4 x = h[v];
                acc += dot16<DT>(wv[u], x);
                if (GATED) acc_up += dot16<DT>(uv[u], x);
            }
        }
        acc = warp_sum(acc);
        if (GATED) acc_up = warp_sum(acc_up);
        if (lane == 0) store_f(y, DT, j, GATED ? linear_gate(DT, acc, acc_up) : acc);
        if (first) timeline.mark(3);
        j += rows_step;
        if (!MANY || j >= n) {
            timeline.mark(4);
            return timeline.finish(GATED ? 6 : 5, prefetch, n, (DT == TL_F32 ? 4 : 8) * vecs);
        }
        row += rows_step * vecs;
        row_up += rows_step * vecs;
    }
}

#define TL_LINEAR(SUFFIX, DT, GATED)                                                                 \
    extern "C" __global__ void __launch_bounds__(MV_WARPS * 32, 3) tl_linear_##SUFFIX(  \
        LinearInput in, const uint4* w, const uint4* w_up, void* y, i64 vecs, i64 n, int prefetch) { \
        linear_matvec<DT, GATED, false>(in, w, w_up, y, vecs, n, prefetch);                          \
    }                                                                                                \
    extern "C" __global__ void __launch_bounds__(MV_WARPS * 32, 3) tl_linear_##SUFFIX##_many(       \
        LinearInput in, const uint4* w, const uint4* w_up, void* y, i64 vecs, i64 n, int prefetch) { \
        linear_matvec<DT, GATED, true>(in, w, w_up, y, vecs, n, prefetch);                           \
    }

TL_LINEAR(f32, TL_F32, false)
TL_LINEAR(f32_gated, TL_F32, true)
TL_LINEAR(f16, TL_F16, false)
TL_LINEAR(f16_gated, TL_F16, true)
TL_LINEAR(bf16, TL_BF16, false)
TL_LINEAR(bf16_gated, TL_BF16, true)
