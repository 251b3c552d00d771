// Reductions. The host permutes the reduced axes last and describes the input by two views:
// `kept` (output index -> base offset) and `red` (reduced index -> offset from the base).
// Sum/mean/max/min/logsumexp run in two passes so a few large outputs still fill the GPU:
//   tl_reduce_partial: 1-D grid over (output, chunk) pairs, 256 threads a block; each block
//     folds one chunk of one output into an accumulator pair, fixed-order shared-memory tree.
//   tl_reduce_final: one thread per output combines its chunks in chunk order.
// Fixed assignment of elements to threads and a fixed tree make results bitwise
// deterministic. Float accumulation is in f64; integer sums wrap in 64 bits.
// tl_arg_reduce: one block (256 threads) per output; ties go to the first index.

#define R_SUM 0
#define R_MEAN 1
#define R_MAX 2
#define R_MIN 3
#define R_LSE 4
#define REDUCE_THREADS 256

struct Acc { double a; double b; };

__device__ __forceinline__ Acc acc_identity(int op) {
    Acc r;
    r.b = 0.0;
    switch (op) {
        case R_MAX: r.a = -1.0 / 0.0; break;
        case R_MIN: r.a = 1.0 / 0.0; break;
        case R_LSE: r.a = -1.0 / 0.0; break;
        default: r.a = 0.0; break;
    }
    return r;
}

__device__ __forceinline__ Acc acc_combine(int op, Acc x, Acc y) {
    Acc r;
    r.b = 0.0;
    switch (op) {
        case R_MAX: r.a = (x.a != x.a || y.a != y.a) ? x.a + y.a : fmax(x.a, y.a); break;
        case R_MIN: r.a = (x.a != x.a || y.a != y.a) ? x.a + y.a : fmin(x.a, y.a); break;
        case R_LSE: {
            // (max, sum of exp(v - max)) pairs; NaN wins, then +inf, and -inf is empty.
            if (x.a != x.a || y.a != y.a) {
                r.a = x.a + y.a;
                r.b = 1.0;
                break;
            }
            if (x.a == -1.0 / 0.0) return y;
            if (y.a == -1.0 / 0.0) return x;
            double m = fmax(x.a, y.a);
            r.a = m;
            r.b = m == 1.0 / 0.0 ? 1.0 : x.b * exp(x.a - m) + y.b * exp(y.a - m);
            break;
        }
        default: r.a = x.a + y.a; break;
    }
    return r;
}

__device__ __forceinline__ Acc acc_of(int op, double v) {
    Acc r;
    r.a = v;
    r.b = op == R_LSE ? 1.0 : 0.0;
    return r;
}

// Integer accumulators (sum wraps, max/min exact), kept in the same two slots as bits.
__device__ __forceinline__ i64 iacc_identity(int op) {
    return op == R_MAX ? (i64)0x8000000000000000ULL : (op == R_MIN ? 0x7fffffffffffffffLL : 0);
}

__device__ __forceinline__ i64 iacc_combine(int op, i64 x, i64 y) {
    switch (op) {
        case R_MAX: return x > y ? x : y;
        case R_MIN: return x < y ? x : y;
        default: return (i64)((unsigned long long)x + (unsigned long long)y);
    }
}

extern "C" __global__ void tl_reduce_partial(int op, Strided kept, Strided red, const void* x, int dt,
                                             Acc* partial, i64 n_out, i64 n_red, i64 chunks, i64 chunk_len) {
    tl_wait_then_allow_successor();
    __shared__ Acc shared[REDUCE_THREADS];
    bool integer = !is_float_dtype(dt);
    for (i64 blk = blockIdx.x; blk < n_out * chunks; blk += gridDim.x) {
        i64 out = blk / chunks, c = blk % chunks;
        i64 base = strided_offset(kept, out);
        i64 start = c * chunk_len;
        i64 end = start + chunk_len < n_red ? start + chunk_len : n_red;
        Acc acc = acc_identity(op);
        i64 iacc = iacc_identity(op);
        for (i64 r = start + threadIdx.x; r < end; r += blockDim.x) {
            i64 o = base + strided_offset(red, r);
            if (integer) {
                iacc = iacc_combine(op, iacc, load_i(x, dt, o));
            } else {
                acc = acc_combine(op, acc, acc_of(op, (double)load_f(x, dt, o)));
            }
        }
        if (integer) acc.a = __longlong_as_double(iacc);
        shared[threadIdx.x] = acc;
        __syncthreads();
        for (int width = blockDim.x / 2; width > 0; width /= 2) {
            if (threadIdx.x < width) {
                Acc l = shared[threadIdx.x], r = shared[threadIdx.x + width];
                if (integer) {
                    l.a = __longlong_as_double(iacc_combine(op, __double_as_longlong(l.a), __double_as_longlong(r.a)));
                } else {
                    l = acc_combine(op, l, r);
                }
                shared[threadIdx.x] = l;
            }
            __syncthreads();
        }
        if (threadIdx.x == 0) partial[blk] = shared[0];
        __syncthreads();
    }
}

extern "C" __global__ void tl_reduce_final(int op, const Acc* partial, void* y, int dt, i64 n_out,
                                           i64 chunks, i64 n_red) {
    tl_wait_then_allow_successor();
    TL_GRID_LOOP(out, n_out) {
        if (!is_float_dtype(dt)) {
            i64 acc = iacc_identity(op);
            for (i64 c = 0; c < chunks; ++c) acc = iacc_combine(op, acc, __double_as_longlong(partial[out * chunks + c].a));
            store_i(y, dt, out, acc);
            continue;
        }
        Acc acc = acc_identity(op);
        for (i64 c = 0; c < chunks; ++c) acc = acc_combine(op, acc, partial[out * chunks + c]);
        double v = acc.a;
        if (op == R_MEAN) v = acc.a / (double)n_red;
        if (op == R_LSE) v = acc.a + log(acc.b);
        store_f(y, dt, out, (float)v);
    }
}

// is_better: strictly better value, NaN counting as the most extreme.
__device__ __forceinline__ bool arg_better(bool is_max, double v, double best) {
    if (v != v) return best == best;
    if (best != best) return false;
    return is_max ? v > best : v < best;
}

extern "C" __global__ void tl_arg_reduce(int is_max, Strided kept, Strided red, const void* x, int dt,
                                         i64* y, i64 n_out, i64 n_red) {
    tl_wait_then_allow_successor();
    __shared__ double values[REDUCE_THREADS];
    __shared__ i64 indices[REDUCE_THREADS];
    for (i64 out = blockIdx.x; out < n_out; out += gridDim.x) {
        i64 base = strided_offset(kept, out);
        double best = 0.0;
        i64 best_index = -1;
        for (i64 r = threadIdx.x; r < n_red; r += blockDim.x) {
            double v = load_d(x, dt, base + strided_offset(red, r));
            if (best_index < 0 || arg_better(is_max, v, best)) {
                best = v;
                best_index = r;
            }
        }
        values[threadIdx.x] = best;
        indices[threadIdx.x] = best_index;
        __syncthreads();
        for (int width = blockDim.x / 2; width > 0; width /= 2) {
            if (threadIdx.x < width) {
                double v = values[threadIdx.x + width];
                i64 k = indices[threadIdx.x + width];
                i64 mine = indices[threadIdx.x];
                bool take = k >= 0 && (mine < 0 || arg_better(is_max, v, values[threadIdx.x]) ||
                                       (!arg_better(is_max, values[threadIdx.x], v) && k < mine));
                if (take) {
                    values[threadIdx.x] = v;
                    indices[threadIdx.x] = k;
                }
            }
            __syncthreads();
        }
        if (threadIdx.x == 0) y[out] = indices[0];
        __syncthreads();
    }
}
