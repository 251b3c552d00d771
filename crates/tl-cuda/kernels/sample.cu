// Token sampling and the repetition penalty (Op::Sample, Op::RepetitionPenalty).
//
// Views: logits [rows, vocab] (f32/f16/bf16), tokens [rows, n] (i32/i64) and uniform [rows]
// (f32) come as (element offset, row stride, column stride); any strides, broadcast 0 too.
// Outputs are dense.
//
// Launch geometry and assumptions:
//   tl_sample: SAMPLE_THREADS (1024) threads a block, one block per row, rows grid-strided.
//     Nothing is sorted. Candidates are ranked by a 64-bit key that encodes the candidate
//     order of Op::Sample (logit descending under IEEE total order, then token id ascending):
//       key(j) = ordered_bits(logit_j) * vocab + (vocab - 1 - j),
//     a larger key being an earlier candidate; keys are distinct, and below 2^32 * vocab,
//     so the host requires vocab < 2^31. Every set the CPU keeps (top_k, top_p, min_p) is a
//     prefix of the candidate order, so it is "keys >= cut" for one threshold `cut`, found
//     by block reductions and binary searches over key thresholds:
//       top_k: the largest t with count(keys >= t) >= top_k (the k-th key);
//       top_p: the largest t with sum(p over keys >= t) >= top_p (the CPU's first prefix
//         whose running sum reaches top_p ends at key t);
//       min_p: kept are the keys above the largest kept key with !(p >= min_p * p_top) (the
//         CPU's take_while), and at least the top key;
//       the draw: the largest t with sum(p over kept keys >= t) > u * mass, then the smallest
//         key >= t (the CPU's first candidate whose running sum exceeds the target, or its
//         last kept candidate when none does).
//     Probabilities follow cpu/sample.rs: w = exp((logit - logit_top) / T) in f64 from the
//     f32 logit, p = w / total with total the sum of w over the top_k set. Sums are f64, each
//     thread adding its elements (j = thread, thread + 1024, ...) in order, then a fixed
//     xor-butterfly and warp-order tree: deterministic, and monotone in the threshold (a
//     dropped element adds nothing; rounded addition is monotone), which the binary searches
//     need. The sums are the CPU's up to their order of addition, so a decision can differ
//     from the CPU's only when a running sum lands within rounding of top_p or of the target.
//     Each search pass reads the row again: from shared memory when the host gives the
//     kernel vocab floats of it (`cached`, for temperature > 0: the ~150 passes of a draw
//     then cost no memory latency), else from L2; exp is evaluated only for the elements a
//     pass counts. A search takes about 32 + log2(vocab) passes.
//   tl_sample_greedy_split: the greedy case of one row spread over the grid (a block of
//     GREEDY_THREADS per slice of the row), for decoding: one block of tl_sample walks the
//     row in several dependent rounds of loads, this grid in one. Each block writes its
//     largest key to `partials[block]`, then counts itself done on `done`; the last block to
//     arrive takes the largest of the partials (a maximum, so the order of arrival changes
//     nothing) and puts `done` back to zero for the next launch. Every launch gets the same
//     scratch; it touches it only after its wait, when every earlier launch has completed.
//   tl_repetition_penalty: PENALTY_THREADS (256) threads a block, one block per row, rows
//     grid-strided. The block copies the row to the output, then thread i takes tokens i,
//     i + 256, ...; a token is penalised by the thread holding its first occurrence in the
//     row, so each distinct token is penalised once and no two threads write one element.
//     Out-of-range tokens (negative, or not below vocab): the CPU backend returns
//     IndexOutOfRange, but a kernel cannot report an error without the host synchronising,
//     so on CUDA they are skipped (that row's logits stay as they are for them).

#define SAMPLE_THREADS 1024
#define GREEDY_THREADS 256
#define PENALTY_THREADS 256

// ---- block reductions: every thread gets the same value; call uniformly ----

struct SumOp {
    template <typename T>
    __device__ __forceinline__ static T apply(T a, T b) { return a + b; }
};
struct MaxOp {
    template <typename T>
    __device__ __forceinline__ static T apply(T a, T b) { return a > b ? a : b; }
};
struct MinOp {
    template <typename T>
    __device__ __forceinline__ static T apply(T a, T b) { return a < b ? a : b; }
};

// `scratch` holds one value per warp. Lanes of a butterfly compute the same operations with
// the operands swapped, so (a + b == b + a) they agree bitwise; warps are combined in order.
template <typename Op, typename T>
__device__ __forceinline__ T block_reduce(T v, T* scratch) {
    for (int o = 16; o > 0; o >>= 1) v = Op::apply(v, __shfl_xor_sync(0xffffffffu, v, o));
    __syncthreads();  // readers of the previous reduction are done with scratch
    if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = v;
    __syncthreads();
    T r = scratch[0];
    for (int w = 1; w < (int)(blockDim.x >> 5); ++w) r = Op::apply(r, scratch[w]);
    return r;
}

// ---- candidate keys ----

// The float's IEEE total order as an unsigned order (Rust's f32::total_cmp).
__device__ __forceinline__ unsigned int ordered_bits(float v) {
    unsigned int b = __float_as_uint(v);
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

__device__ __forceinline__ i64 candidate_key(float v, i64 j, i64 vocab) {
    return (i64)ordered_bits(v) * vocab + (vocab - 1 - j);
}

__device__ __forceinline__ i64 key_token(i64 key, i64 vocab) { return vocab - 1 - key % vocab; }

struct LogitRow {
    const void* x;
    int dt;
    i64 base;  // offset of the row's first logit
    i64 step;  // column stride
    i64 vocab;
    const float* cached;  // the row widened to f32 in shared memory, or null
};

__device__ __forceinline__ float row_logit(const LogitRow& r, i64 j) {
    return r.cached ? r.cached[j] : load_f(r.x, r.dt, r.base + j * r.step);
}

// A thread's logits j0 + u·blockDim (u < SAMPLE_BATCH), loaded together: one memory latency
// a batch, where a plain loop over the row waits for each load in turn (a row from L2 costs
// one latency per SAMPLE_BATCH of a thread's elements instead of one per element).
#define SAMPLE_BATCH 8

// DT the row's dtype as a constant (-1: row_logit, for a cached row or another dtype). With
// r.dt, the switch in load_f put each of a batch's loads in a branch of its own and
// converted it before the next was issued: one latency per element again (in the SASS).
template <int DT>
__device__ __forceinline__ void load_batch_of(const LogitRow& r, i64 j0, i64 end, float* v) {
#pragma unroll
    for (int u = 0; u < SAMPLE_BATCH; ++u) {
        const i64 j = j0 + u * (i64)blockDim.x;
        v[u] = j < end ? (DT >= 0 ? load_f(r.x, DT, r.base + j * r.step) : row_logit(r, j)) : 0.0f;
    }
}

// The batch at j0, logits at or past `end` (at most the vocabulary) read as zero.
__device__ __forceinline__ void load_batch(const LogitRow& r, i64 j0, i64 end, float* v) {
    if (!r.cached) {
        switch (r.dt) {
            case TL_F32: return load_batch_of<TL_F32>(r, j0, end, v);
            case TL_BF16: return load_batch_of<TL_BF16>(r, j0, end, v);
            case TL_F16: return load_batch_of<TL_F16>(r, j0, end, v);
        }
    }
    load_batch_of<-1>(r, j0, end, v);
}

// The largest candidate key of the thread's share of logits [begin, end); -1 for none.
__device__ __forceinline__ i64 best_key_in(const LogitRow& r, i64 begin, i64 end) {
    i64 best = -1;
    for (i64 j0 = begin + threadIdx.x; j0 < end; j0 += SAMPLE_BATCH * (i64)blockDim.x) {
        float v[SAMPLE_BATCH];
        load_batch(r, j0, end, v);
#pragma unroll
        for (int u = 0; u < SAMPLE_BATCH; ++u) {
            const i64 j = j0 + u * (i64)blockDim.x;
            const i64 k = j < end ? candidate_key(v[u], j, r.vocab) : -1;
            best = k > best ? k : best;
        }
    }
    return best;
}

// Copies the row into shared memory as f32 (the values row_logit gives).
__device__ __forceinline__ void cache_row(const LogitRow& r, float* cache) {
    for (i64 j0 = threadIdx.x; j0 < r.vocab; j0 += SAMPLE_BATCH * (i64)blockDim.x) {
        float v[SAMPLE_BATCH];
        load_batch(r, j0, r.vocab, v);
#pragma unroll
        for (int u = 0; u < SAMPLE_BATCH; ++u) {
            const i64 j = j0 + u * (i64)blockDim.x;
            if (j < r.vocab) cache[j] = v[u];
        }
    }
}

// w / total with w = exp((logit - top) / T), as cpu/sample.rs computes it (total 1: w).
__device__ __forceinline__ double probability(float v, double top, double temperature, double total) {
    return exp(((double)v - top) / temperature) / total;
}

// How many keys are >= t.
__device__ i64 count_from(const LogitRow& r, i64 t, i64* scratch) {
    i64 c = 0;
    for (i64 j = threadIdx.x; j < r.vocab; j += blockDim.x) c += candidate_key(row_logit(r, j), j, r.vocab) >= t;
    return block_reduce<SumOp>(c, scratch);
}

// Sum of probability() over the keys >= t.
__device__ double mass_from(const LogitRow& r, i64 t, double top, double temperature, double total,
                            double* scratch) {
    double s = 0.0;
    for (i64 j = threadIdx.x; j < r.vocab; j += blockDim.x) {
        float v = row_logit(r, j);
        if (candidate_key(v, j, r.vocab) >= t) s += probability(v, top, temperature, total);
    }
    return block_reduce<SumOp>(s, scratch);
}

#define SEARCH_COUNT 0     // count_from(t) >= top_k
#define SEARCH_REACHES 1   // mass_from(t) >= bound
#define SEARCH_EXCEEDS 2   // mass_from(t) > bound

// The largest t in [lo, hi) at which the search's test holds, or lo when it holds at none
// strictly between lo and hi, where alone it is evaluated. The test holds for small t and
// fails for large t (fewer keys are >= a larger t), so this is a binary search; hi is taken
// as failing (a test that holds there too makes the result hi - 1).
__device__ i64 largest_threshold(int search, const LogitRow& r, i64 lo, i64 hi, i64 top_k, double bound,
                                 double top, double temperature, double total, i64* iscratch,
                                 double* dscratch) {
    while (hi - lo > 1) {
        i64 mid = lo + (hi - lo) / 2;
        bool holds;
        if (search == SEARCH_COUNT) {
            holds = count_from(r, mid, iscratch) >= top_k;
        } else {
            double m = mass_from(r, mid, top, temperature, total, dscratch);
            holds = search == SEARCH_REACHES ? m >= bound : m > bound;
        }
        if (holds) lo = mid; else hi = mid;
    }
    return lo;
}

// temperature <= 0: the top candidate (first maximum). top_k: 0 or >= vocab keep every token
// (the host passes 0 for both).
extern "C" __global__ void __launch_bounds__(SAMPLE_THREADS)
tl_sample(const void* x, int dt, i64 x_offset, i64 x_row_stride, i64 x_col_stride, const float* uniform,
          i64 u_offset, i64 u_stride, i64* y, i64 rows, i64 vocab, double temperature, i64 top_k,
          double top_p, double min_p, int cached) {
    KernelTimeline timeline;
    timeline.mark(0);
    tl_wait_then_allow_successor();
    timeline.mark(1);
    __shared__ i64 iscratch[32];
    __shared__ double dscratch[32];
    extern __shared__ float row_cache[];
    for (i64 row = blockIdx.x; row < rows; row += gridDim.x) {
        LogitRow r = {x, dt, x_offset + row * x_row_stride, x_col_stride, vocab, nullptr};
        if (cached) {
            __syncthreads();  // the previous row's passes are done with the cache
            cache_row(r, row_cache);
            __syncthreads();
            r.cached = row_cache;
        }
        const i64 best = block_reduce<MaxOp>(best_key_in(r, 0, vocab), iscratch);
        if (temperature <= 0.0) {
            if (threadIdx.x == 0) y[row] = key_token(best, vocab);
            continue;
        }
        double top = (double)row_logit(r, key_token(best, vocab));
        // Every search runs below best + 1, where no key is counted.
        i64 cut = 0;
        if (top_k > 0) {
            cut = largest_threshold(SEARCH_COUNT, r, 0, best + 1, top_k, 0.0, top, temperature, 1.0, iscratch,
                                    dscratch);
        }
        double total = mass_from(r, cut, top, temperature, 1.0, dscratch);
        if (top_p < 1.0) {
            cut = largest_threshold(SEARCH_REACHES, r, cut, best + 1, 0, top_p, top, temperature, total,
                                    iscratch, dscratch);
        }
        if (min_p > 0.0) {
            double floor_p = __dmul_rn(min_p, probability((float)top, top, temperature, total));
            i64 below = -1;  // the largest kept key whose probability is not >= floor_p
            for (i64 j = threadIdx.x; j < vocab; j += blockDim.x) {
                float v = row_logit(r, j);
                i64 k = candidate_key(v, j, vocab);
                if (k >= cut && k > below && !(probability(v, top, temperature, total) >= floor_p)) below = k;
            }
            below = block_reduce<MaxOp>(below, iscratch);
            if (below >= 0) cut = below + 1 < best ? below + 1 : best;
        }
        double mass = mass_from(r, cut, top, temperature, total, dscratch);
        double target = __dmul_rn((double)uniform[u_offset + row * u_stride], mass);
        i64 t = largest_threshold(SEARCH_EXCEEDS, r, cut, best + 1, 0, target, top, temperature, total,
                                  iscratch, dscratch);
        // t is the chosen key when some running sum exceeds the target above cut; otherwise
        // t == cut and the smallest kept key is the CPU's choice either way.
        i64 chosen = best;
        for (i64 j = threadIdx.x; j < vocab; j += blockDim.x) {
            i64 k = candidate_key(row_logit(r, j), j, vocab);
            if (k >= t && k < chosen) chosen = k;
        }
        chosen = block_reduce<MinOp>(chosen, iscratch);
        if (threadIdx.x == 0) y[row] = key_token(chosen, vocab);
    }
    timeline.finish(4, 0, rows, vocab);
}

extern "C" __global__ void __launch_bounds__(GREEDY_THREADS)
tl_sample_greedy_split(const void* x, int dt, i64 x_offset, i64 x_col_stride, i64* y, i64 vocab, i64* partials,
                       unsigned int* done) {
    KernelTimeline timeline;
    timeline.mark(0);
    tl_wait_then_allow_successor();
    timeline.mark(1);
    __shared__ i64 iscratch[32];
    __shared__ bool last;
    const LogitRow r = {x, dt, x_offset, x_col_stride, vocab, nullptr};
    const i64 slice = (vocab + gridDim.x - 1) / gridDim.x;
    const i64 begin = blockIdx.x * slice, end = begin + slice < vocab ? begin + slice : vocab;
    i64 best = block_reduce<MaxOp>(best_key_in(r, begin, end), iscratch);
    if (threadIdx.x == 0) {
        partials[blockIdx.x] = best;
        __threadfence();  // the partial is visible before the count says so
        last = atomicAdd(done, 1u) == gridDim.x - 1;
    }
    __syncthreads();
    if (last) {
        __threadfence();  // every block's partial, counted, is read after its count
        i64 all = -1;
        for (unsigned int b = threadIdx.x; b < gridDim.x; b += blockDim.x) {
            const i64 p = ((volatile i64*)partials)[b];
            all = p > all ? p : all;
        }
        all = block_reduce<MaxOp>(all, iscratch);
        if (threadIdx.x == 0) {
            y[0] = key_token(all, vocab);
            *done = 0u;
        }
    }
    timeline.finish(4, 0, 1, vocab);
}

// Divides each distinct token's logit by penalty when positive, multiplies it otherwise (f32,
// as the CPU backend does).
extern "C" __global__ void __launch_bounds__(PENALTY_THREADS)
tl_repetition_penalty(const void* x, int dt, i64 x_offset, i64 x_row_stride, i64 x_col_stride,
                      const void* tokens, int tdt, i64 t_offset, i64 t_row_stride, i64 t_col_stride,
                      void* y, i64 rows, i64 vocab, i64 n, float penalty) {
    tl_wait_then_allow_successor();
    for (i64 row = blockIdx.x; row < rows; row += gridDim.x) {
        i64 xb = x_offset + row * x_row_stride, yb = row * vocab, tb = t_offset + row * t_row_stride;
        for (i64 j = threadIdx.x; j < vocab; j += blockDim.x) {
            store_f(y, dt, yb + j, load_f(x, dt, xb + j * x_col_stride));
        }
        __syncthreads();  // the copy is in place before penalised logits overwrite it
        for (i64 j = threadIdx.x; j < n; j += blockDim.x) {
            i64 token = load_i(tokens, tdt, tb + j * t_col_stride);
            if (token < 0 || token >= vocab) continue;
            bool first = true;
            for (i64 k = 0; k < j; ++k) {
                if (load_i(tokens, tdt, tb + k * t_col_stride) == token) {
                    first = false;
                    break;
                }
            }
            if (!first) continue;
            float v = load_f(x, dt, xb + token * x_col_stride);
            store_f(y, dt, yb + token, v > 0.0f ? v / penalty : v * penalty);
        }
    }
}
