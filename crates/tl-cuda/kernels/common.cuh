// Shared by every kernel file (prepended before compilation).
// Types: f16 and bf16 are carried as raw 16-bit patterns and converted with our own
// functions, so no toolkit header is needed (NVRTC 13 ships none for them).
// Strided views: `Strided` describes an input view (rank <= TL_MAX_RANK, element strides,
// element offset); `strided_offset` maps a row-major logical index to a buffer offset.

typedef unsigned short tl_f16;
typedef unsigned short tl_bf16;
typedef long long i64;

#define TL_MAX_RANK 8

struct Strided {
    int rank;
    int contiguous;  // 1 when offset + i addresses logical element i
    i64 offset;
    i64 shape[TL_MAX_RANK];
    i64 strides[TL_MAX_RANK];
};

__device__ __forceinline__ i64 strided_offset(const Strided& s, i64 i) {
    if (s.contiguous) return s.offset + i;
    i64 off = s.offset;
    for (int d = s.rank - 1; d >= 0; --d) {
        i64 dim = s.shape[d];
        off += (i % dim) * s.strides[d];
        i /= dim;
    }
    return off;
}

__device__ __forceinline__ float f16_to_f32(tl_f16 h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}

__device__ __forceinline__ tl_f16 f32_to_f16(float f) {
    tl_f16 h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}

__device__ __forceinline__ float bf16_to_f32(tl_bf16 h) {
    return __uint_as_float(((unsigned int)h) << 16);
}

__device__ __forceinline__ tl_bf16 f32_to_bf16(float f) {
    unsigned int u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (tl_bf16)((u >> 16) | 0x40u);  // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
    return (tl_bf16)(u >> 16);
}

// Programmatic dependent launch (sm_90 and later; no-ops before). The host launches every
// kernel with `launch_dependent`, so it may start while the kernel before it still runs: it
// must call tl_wait_for_predecessor() (every thread) before it reads memory an earlier kernel
// wrote or writes memory an earlier kernel reads; before that it may only read what no
// kernel still running writes (the host tracks which buffers those are).
// tl_allow_successor() lets the next kernel start: most kernels call it right after the
// wait, so at most two overlap; short kernels followed by a mat-vec call it first (the host
// is told, and counts their predecessors' outputs as still being written).
__device__ __forceinline__ void tl_wait_for_predecessor() {
#if __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void tl_allow_successor() {
#if __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" :::);
#endif
}

// Kernel timelines (compiled in with TL_TRACE, which the host defines for TL_CUDA_TRACE; see
// src/kernel_timeline.rs): thread 0 of each block of an instrumented kernel takes
// %globaltimer at up to six marks and, at its end, appends one 64-byte record to the ring.
#ifdef TL_TRACE
#define TL_TRACE_RECORDS (1 << 18)
__device__ unsigned long long tl_trace_records[TL_TRACE_RECORDS * 8];
__device__ unsigned int tl_trace_count;
#endif

struct KernelTimeline {
#ifdef TL_TRACE
    unsigned long long t[6] = {0, 0, 0, 0, 0, 0};
#endif
    __device__ __forceinline__ void mark(int i) {
#ifdef TL_TRACE
        if (threadIdx.x == 0) asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t[i]));
#endif
    }
    // Mark 5 (the exit) and the record: kind 1 pair mat-vec, 2 gated, 3 decoding attention,
    // 4 the sampler, 5 a float mat-vec (tl_matvec_*, tl_linear_*), 6 a gated tl_linear_*.
    __device__ __forceinline__ void finish(int kind, int early, long long n, long long k) {
#ifdef TL_TRACE
        mark(5);
        if (threadIdx.x != 0) return;
        unsigned int sm;
        asm("mov.u32 %0, %%smid;" : "=r"(sm));
        const unsigned int at = atomicAdd(&tl_trace_count, 1u) % TL_TRACE_RECORDS;
        unsigned long long* r = tl_trace_records + 8ull * at;
        for (int i = 0; i < 6; ++i) r[i] = t[i];
        r[6] = (unsigned long long)(unsigned int)n | ((unsigned long long)(unsigned int)k << 32);
        r[7] = (unsigned long long)kind | ((unsigned long long)early << 4) | ((unsigned long long)sm << 8) |
               ((unsigned long long)blockIdx.x << 32);
#endif
    }
};

// The opening of a kernel that reads its inputs only after the wait: the next kernel starts
// (and waits itself) while this one runs, so a chain of launches costs no launch latency.
__device__ __forceinline__ void tl_wait_then_allow_successor() {
    tl_wait_for_predecessor();
    tl_allow_successor();
}

// Dtype codes, in step with `dtype_code` in src/launch.rs.
#define TL_F32 0
#define TL_F16 1
#define TL_BF16 2
#define TL_I32 3
#define TL_I64 4
#define TL_U8 5
#define TL_BOOL 6

// Element access by runtime dtype: the switch is uniform across a launch, so it costs a
// few instructions, and one kernel serves every dtype.
__device__ __forceinline__ float load_f(const void* p, int dt, i64 i) {
    switch (dt) {
        case TL_F32: return ((const float*)p)[i];
        case TL_F16: return f16_to_f32(((const tl_f16*)p)[i]);
        case TL_BF16: return bf16_to_f32(((const tl_bf16*)p)[i]);
        case TL_I32: return (float)((const int*)p)[i];
        case TL_I64: return (float)((const i64*)p)[i];
        default: return (float)((const unsigned char*)p)[i];
    }
}

__device__ __forceinline__ void store_f(void* p, int dt, i64 i, float v) {
    switch (dt) {
        case TL_F32: ((float*)p)[i] = v; break;
        case TL_F16: ((tl_f16*)p)[i] = f32_to_f16(v); break;
        case TL_BF16: ((tl_bf16*)p)[i] = f32_to_bf16(v); break;
        default: break;
    }
}

// v rounded to what a float dtype stores, widened back.
__device__ __forceinline__ float round_to(int dt, float v) {
    if (dt == TL_F16) return f16_to_f32(f32_to_f16(v));
    if (dt == TL_BF16) return bf16_to_f32(f32_to_bf16(v));
    return v;
}

__device__ __forceinline__ i64 load_i(const void* p, int dt, i64 i) {
    switch (dt) {
        case TL_I32: return ((const int*)p)[i];
        case TL_I64: return ((const i64*)p)[i];
        default: return ((const unsigned char*)p)[i];
    }
}

__device__ __forceinline__ void store_i(void* p, int dt, i64 i, i64 v) {
    switch (dt) {
        case TL_I32: ((int*)p)[i] = (int)v; break;
        case TL_I64: ((i64*)p)[i] = v; break;
        case TL_BOOL: ((unsigned char*)p)[i] = v != 0; break;
        default: ((unsigned char*)p)[i] = (unsigned char)v; break;
    }
}

__device__ __forceinline__ bool is_float_dtype(int dt) { return dt <= TL_BF16; }

__device__ __forceinline__ double load_d(const void* p, int dt, i64 i) {
    if (dt == TL_F32) return ((const float*)p)[i];
    if (is_float_dtype(dt)) return (double)load_f(p, dt, i);
    if (dt == TL_BOOL) return ((const unsigned char*)p)[i] != 0;
    return (double)load_i(p, dt, i);
}

// Saturating conversions with NaN -> 0, matching Rust's `as` (the CPU backend and the
// reference follow `Op::Cast`'s rules through it).
__device__ __forceinline__ i64 sat_i64(double v, double lo, double hi) {
    if (v != v) return 0;
    if (v <= lo) return (i64)lo;
    if (v >= hi) return (i64)hi;
    return (i64)v;
}

__device__ __forceinline__ void store_d(void* p, int dt, i64 i, double v) {
    switch (dt) {
        case TL_F32: ((float*)p)[i] = (float)v; break;
        case TL_F16: ((tl_f16*)p)[i] = f32_to_f16((float)v); break;  // double rounding is within f16 tolerance
        case TL_BF16: ((tl_bf16*)p)[i] = f32_to_bf16((float)v); break;
        case TL_I32: ((int*)p)[i] = (int)sat_i64(v, -2147483648.0, 2147483647.0); break;
        case TL_I64: ((i64*)p)[i] = v != v ? 0 : (v >= 9.2233720368547758e18 ? 0x7fffffffffffffffLL : (v <= -9.2233720368547758e18 ? (i64)0x8000000000000000ULL : (i64)v)); break;
        case TL_U8: ((unsigned char*)p)[i] = (unsigned char)sat_i64(v, 0.0, 255.0); break;
        default: ((unsigned char*)p)[i] = v != 0.0; break;
    }
}

// The sum over a warp's lanes, every lane getting it; a fixed butterfly, so the same inputs
// give the same bits.
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// The norms' scale 1/sqrt(mean + eps), in f64 as the CPU computes it, then rounded to f32.
// rsqrt is within an f64 ulp of the correctly rounded 1.0 / sqrt, so the f32 differs only when
// the f64 lies within that ulp of an f32 rounding boundary, and it is a few f64 instructions
// where 1.0 / sqrt is two iterative sequences (a fused Linear's norm-fed input, H200: decode
// +1.2% Q8_0, with the shuffle sum in linear_input.cuh).
__device__ __forceinline__ float norm_scale(double mean_plus_eps) {
    return (float)rsqrt(mean_plus_eps);
}

// Grid-stride loop over [0, n).
#define TL_GRID_LOOP(i, n) \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (i64)blockDim.x * gridDim.x)

// cp.async (sm_80+): 16 bytes from global to shared memory without passing through registers
// or L1, completed by groups.
__device__ __forceinline__ void copy_async_16(void* shared, const void* global) {
    unsigned int address = (unsigned int)__cvta_generic_to_shared(shared);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(address), "l"(global) : "memory");
}

// The same, or 16 zero bytes when `valid` is false (nothing is read then).
__device__ __forceinline__ void copy_async_16_or_zero(void* shared, const void* global, bool valid) {
    unsigned int address = (unsigned int)__cvta_generic_to_shared(shared);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(address), "l"(global), "r"(valid ? 16 : 0)
                 : "memory");
}

__device__ __forceinline__ void copy_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }

template <int PENDING>
__device__ __forceinline__ void copy_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(PENDING) : "memory");
}
