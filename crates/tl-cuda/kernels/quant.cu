// Quantized kernels over GGUF blocks (Q4_0, Q4_1, Q8_0, Q4_K, Q6_K; layouts as ggml-common.h,
// little-endian, no padding). A quantized tensor is addressed by rows: `rows` (a Strided view
// over all axes but the last, offset and strides counted in BLOCKS) gives each row's first
// block; the blocks of a row are dense. The host checks that the buffer is 16-byte aligned,
// so every block field is at least as aligned as its loads below need.
//
// tl_dequantize: 2-D grid-stride launch, x over the weights of a row (256 threads a block),
//   y over rows; one thread per output element, so the output writes are coalesced. Values
//   are computed in f32 in ggml's dequantize_row_* order (no fused multiply-adds), so they
//   match the CPU backend bit for bit before the final rounding to the output dtype.
// tl_quantize_blocks: one warp per 32-value block (grid-stride); lane j holds value j.
//   ggml's quantize_row_*_ref in f32: the serial "first strictly larger" searches become
//   warp reductions over (key, index) pairs, which pick the same element.
// tl_quantize_activation: one warp per 32 activations of a QMatMul input row (any strides):
//   int8 quants (scale amax/127, ties to even) into `qs` [rows * k], and per block a float4
//   {d, Σq (int bits), exact f32 sum, 0} into `ds` [rows * k/32] (d and Σq, which most
//   formats need, share one 8-byte load).
// tl_qmv_<format>_r<NR> (m <= 8, or <= 16 for few weight rows): the matrix-vector product over those activation blocks.
//   Blocks of 128 threads (4 warps); blockIdx.y walks tiles of NR (1, 2, 4, 8) activation
//   rows, which all reuse each weight block a lane reads. A warp walks a weight row in
//   chunks of 1-2 KB that reach shared memory by 16-byte cp.async copies (each weight byte
//   requested from memory once, at full width), three stages deep so that the next chunks
//   are in flight while one is used. Many rows (split = 1): a persistent grid sized by the
//   occupancy query, warp g of G taking rows g, g + G, … with a pipeline that runs on across
//   rows. Few rows: `split` warps (2 or 4) of a block share a row, taking its chunks in turn.
//   Within a warp, L consecutive lanes share one staged block (L = 2 for Q4_0/Q4_1, 4 for
//   Q8_0, 16 for Q4_K/Q6_K), each taking 4 or 8 bytes of its quants. Integer dot products
//   use __dp4a; block scales apply in f32 per lane; lanes and then warps are summed in a
//   fixed order (xor-shuffle butterfly, then shared memory by warp index): no atomics, so
//   results are bitwise reproducible for a given shape and device.
//   tl_qmv_<format>_r1_gated: one row of `Linear`'s gated form, a warp's row being the gate
//   row then the up row (see QmvWeights). With `prefetch`, launches of one tile request each
//   warp's first chunks before waiting for the activations.
// tl_linear_input_quantize: one block; `Linear`'s input (linear_input.cuh) quantized as
//   tl_quantize_activation does.
// tl_qmv_pairs_<q8_0|q4_0|q4_1|q4_k|q6_k>[_gated] (one activation row, k a multiple of 64): in place of both
//   kernels above, one block of QP_WARPS warps a multiprocessor computes and quantizes the
//   input itself into shared memory, then a lane takes a pair of weight blocks at a time
//   (see the section below).
// tl_qmm_<format> (more rows): 64 x 64 output tiles from int8 tiles in shared memory (see below).

#define QF_Q4_0 0
#define QF_Q4_1 1
#define QF_Q8_0 2
#define QF_Q4_K 3
#define QF_Q6_K 4

#define QMV_THREADS 128
#define QMV_WARPS 4

__device__ __forceinline__ int qf_block_size(int format) {
    return format >= QF_Q4_K ? 256 : 32;
}

__device__ __forceinline__ int qf_block_bytes(int format) {
    switch (format) {
        case QF_Q4_0: return 18;
        case QF_Q4_1: return 20;
        case QF_Q8_0: return 34;
        case QF_Q4_K: return 144;
        default: return 210;
    }
}

// The f16 at a 2-byte aligned address, widened.
__device__ __forceinline__ float half_at(const unsigned char* p) {
    return f16_to_f32(*(const tl_f16*)p);
}

// Four bytes at a 2-byte aligned address, little-endian.
__device__ __forceinline__ int load_i32_align2(const unsigned char* p) {
    const unsigned short* h = (const unsigned short*)p;
    return (int)((unsigned int)h[0] | ((unsigned int)h[1] << 16));
}

// Q4_K's 6-bit scale and min of sub-block j (ggml's get_scale_min_k4) from its 12 packed
// bytes read as three words: bytes 0..3 (s0), 4..7 (s1), 8..11 (s2).
__device__ __forceinline__ void q4k_scale_min(unsigned int s0, unsigned int s1, unsigned int s2, int j,
                                              int* scale, int* min) {
    if (j < 4) {
        *scale = (s0 >> (8 * j)) & 63;
        *min = (s1 >> (8 * j)) & 63;
    } else {
        int b = 8 * (j - 4);
        *scale = ((s2 >> b) & 15) | (((s0 >> (b + 6)) & 3) << 4);
        *min = ((s2 >> (b + 4)) & 15) | (((s1 >> (b + 6)) & 3) << 4);
    }
}

// Weight j of one block, in f32 exactly as ggml's dequantize_row_* computes it.
__device__ __forceinline__ float dequantize_weight(int format, const unsigned char* blk, int j) {
    switch (format) {
        case QF_Q4_0: {
            int q = j < 16 ? (blk[2 + j] & 15) : (blk[2 + j - 16] >> 4);
            return __fmul_rn((float)(q - 8), half_at(blk));
        }
        case QF_Q4_1: {
            int q = j < 16 ? (blk[4 + j] & 15) : (blk[4 + j - 16] >> 4);
            return __fadd_rn(__fmul_rn((float)q, half_at(blk)), half_at(blk + 2));
        }
        case QF_Q8_0:
            return __fmul_rn((float)(signed char)blk[2 + j], half_at(blk));
        case QF_Q4_K: {
            // Sub-block s takes the low nibbles of qs[32(s/2)..] when s is even, high when odd.
            int sub = j >> 5;
            int byte = blk[16 + 32 * (sub >> 1) + (j & 31)];
            int q = (sub & 1) ? (byte >> 4) : (byte & 15);
            const unsigned int* packed = (const unsigned int*)(blk + 4);
            int scale, min;
            q4k_scale_min(packed[0], packed[1], packed[2], sub, &scale, &min);
            float d_scale = __fmul_rn(half_at(blk), (float)scale);
            float d_min = __fmul_rn(half_at(blk + 2), (float)min);
            return __fsub_rn(__fmul_rn(d_scale, (float)q), d_min);
        }
        default: {
            // Q6_K: half h of 128 weights uses ql[64h..64h+64] and qh[32h..32h+32]; group g of
            // 32 takes the low (g < 2) or high nibble of ql[64h + 32(g%2) + l] and bits 2g, 2g+1
            // of qh[32h + l]; the scale is per 16 weights, d is stored last.
            int half = j >> 7, group = (j >> 5) & 3, l = j & 31;
            int low = (blk[64 * half + 32 * (group & 1) + l] >> (4 * (group >> 1))) & 15;
            int high = (blk[128 + 32 * half + l] >> (2 * group)) & 3;
            int q = (low | (high << 4)) - 32;
            float scale = __fmul_rn(half_at(blk + 208), (float)(signed char)blk[192 + (j >> 4)]);
            return __fmul_rn(scale, (float)q);
        }
    }
}

extern "C" __global__ void tl_dequantize(int format, Strided rows, const unsigned char* w, i64 n_rows,
                                         i64 k, void* y, int dt) {
    tl_wait_then_allow_successor();
    int shift = qf_block_size(format) == 256 ? 8 : 5, block_bytes = qf_block_bytes(format);
    int mask = (1 << shift) - 1;
    for (i64 row = blockIdx.y; row < n_rows; row += gridDim.y) {
        const unsigned char* first = w + strided_offset(rows, row) * block_bytes;
        for (i64 c = (i64)blockIdx.x * blockDim.x + threadIdx.x; c < k; c += (i64)gridDim.x * blockDim.x) {
            const unsigned char* blk = first + (c >> shift) * block_bytes;
            store_f(y, dt, row * k + c, dequantize_weight(format, blk, (int)(c & mask)));
        }
    }
}

// Rust's saturating `f32 as i32` (NaN -> 0), which the reference quantizers use.
__device__ __forceinline__ int rust_f32_to_i32(float v) {
    if (v != v) return 0;
    if (v >= 2147483647.0f) return 2147483647;
    if (v <= -2147483648.0f) return (int)0x80000000;
    return (int)v;
}

// Across the warp: the lane whose `key` is largest, the lowest lane among equals (keys are
// never NaN). Every lane gets the same answer.
__device__ __forceinline__ int warp_arg_max(float key) {
    int lane = threadIdx.x & 31;
    float best = key;
    int best_lane = lane;
    for (int width = 16; width > 0; width >>= 1) {
        float other = __shfl_xor_sync(0xffffffffu, best, width);
        int other_lane = __shfl_xor_sync(0xffffffffu, best_lane, width);
        if (other > best || (other == best && other_lane < best_lane)) {
            best = other;
            best_lane = other_lane;
        }
    }
    return best_lane;
}

// ggml's nibble quantizers end with `MIN(15, (int8_t)(x + 8.5f))`; the reference spells
// that as a saturating truncation to i32, a min with 15 and a wrapping cast to u8.
__device__ __forceinline__ unsigned int nibble_code(float shifted) {
    int q = rust_f32_to_i32(truncf(shifted));
    return (unsigned int)(q < 15 ? q : 15) & 0xffu;
}

extern "C" __global__ void tl_quantize_blocks(int format, Strided src, const void* x, int dt,
                                              unsigned char* y, i64 n_blocks) {
    tl_wait_then_allow_successor();
    int lane = threadIdx.x & 31;
    i64 warp = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    i64 n_warps = ((i64)gridDim.x * blockDim.x) >> 5;
    int block_bytes = qf_block_bytes(format);
    for (i64 b = warp; b < n_blocks; b += n_warps) {
        float v = load_f(x, dt, strided_offset(src, b * 32 + lane));
        unsigned char* out = y + b * block_bytes;
        if (format == QF_Q8_0) {
            // amax: the largest |v| (NaN never wins, as `v.abs() > amax` never holds for it).
            float a = fabsf(v);
            float amax = a > 0.0f ? a : 0.0f;
            for (int width = 16; width > 0; width >>= 1) {
                amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, width));
            }
            float d = amax / 127.0f;
            float id = d == 0.0f ? 0.0f : 1.0f / d;
            float r = roundf(__fmul_rn(v, id));  // halves away from zero, as C's roundf
            int q = r != r ? 0 : (r >= 127.0f ? 127 : (r <= -128.0f ? -128 : (int)r));
            out[2 + lane] = (unsigned char)(signed char)q;
            if (lane == 0) *(tl_f16*)out = f32_to_f16(d);
        } else if (format == QF_Q4_0) {
            // The signed value of largest magnitude, the first on ties; |v| = 0 and NaN never
            // replace the initial 0.
            float a = fabsf(v);
            float key = a > 0.0f ? a : -1.0f;
            int at = warp_arg_max(key);
            float at_value = __shfl_sync(0xffffffffu, v, at);
            float max = __shfl_sync(0xffffffffu, key, at) > 0.0f ? at_value : 0.0f;
            float d = max / -8.0f;
            float id = d == 0.0f ? 0.0f : 1.0f / d;
            unsigned int q = nibble_code(__fadd_rn(__fmul_rn(v, id), 8.5f));
            unsigned int q_high = __shfl_down_sync(0xffffffffu, q, 16);
            if (lane < 16) out[2 + lane] = (unsigned char)((q | (q_high << 4)) & 0xffu);
            if (lane == 0) *(tl_f16*)out = f32_to_f16(d);
        } else {
            // Q4_1: `if v < min { min = v }` from min = FLT_MAX (and the same for max): NaN and
            // values beyond ±FLT_MAX never replace the start, and the first of equal values
            // wins (so the sign of a zero is the first one's).
            const float big = 3.40282347e38f;
            float low = v < big ? v : big, high = v > -big ? v : -big;
            float min = __shfl_sync(0xffffffffu, low, warp_arg_max(-low));
            float max = __shfl_sync(0xffffffffu, high, warp_arg_max(high));
            float d = __fsub_rn(max, min) / 15.0f;
            float id = d == 0.0f ? 0.0f : 1.0f / d;
            unsigned int q = nibble_code(__fadd_rn(__fmul_rn(__fsub_rn(v, min), id), 0.5f));
            unsigned int q_high = __shfl_down_sync(0xffffffffu, q, 16);
            if (lane < 16) out[4 + lane] = (unsigned char)((q | (q_high << 4)) & 0xffu);
            if (lane == 0) {
                ((tl_f16*)out)[0] = f32_to_f16(d);
                ((tl_f16*)out)[1] = f32_to_f16(min);
            }
        }
    }
}

// The scale d = amax/127 of a 32-value block from its largest magnitude as bits, and 1/d
// (0 for d = 0). Infinity or NaN gives a NaN scale, which poisons every dot product with the
// block, and a NaN sum; `inverse` is then 0, so the quants are 0.
__device__ __forceinline__ float block_scale(unsigned int amax_bits, float* sum, float* inverse) {
    if (amax_bits >= 0x7f800000u) {
        *sum = __int_as_float(0x7fc00000);
        *inverse = 0.0f;
        return *sum;
    }
    float d = __uint_as_float(amax_bits) / 127.0f;
    *inverse = d == 0.0f ? 0.0f : 1.0f / d;
    return d;
}

// One 32-value block of activations, value `v` in lane j, quantized as tl_quantize_activation
// describes: quant j into qs[j], the block's float4 into *d (lane 0).
__device__ __forceinline__ void quantize_32(float v, int lane, signed char* qs, float4* d_out) {
    // The largest magnitude as bits: an integer max that, unlike fmaxf, keeps NaN.
    unsigned int amax_bits = __reduce_max_sync(0xffffffffu, __float_as_uint(v) & 0x7fffffffu);
    float sum = v;
    for (int width = 16; width > 0; width >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, width);
    float id;
    const float d = block_scale(amax_bits, &sum, &id);
    const int q = __float2int_rn(__fmul_rn(v, id));  // |q| <= 127
    int qsum = __reduce_add_sync(0xffffffffu, q);
    qs[lane] = (signed char)q;
    if (lane == 0) *d_out = make_float4(d, __int_as_float(qsum), sum, 0.0f);
}

// Chunk c (8 values, linear_input.cuh) of an activation row quantized as quantize_32 does,
// the 4 lanes of one 32-value block (consecutive lanes, all calling) exchanging its maximum,
// sums and quant sum: the chunk's quants packed little-endian into two words, and the
// block's d, Σq and exact sum.
struct ChunkQuants {
    unsigned int lo, hi;
    float d, sum;
    int qsum;
};

__device__ __forceinline__ ChunkQuants quantize_chunk_values(const float* f) {
    unsigned int amax_bits = 0;
    float sum = 0.0f;
#pragma unroll
    for (int e = 0; e < LI_CHUNK; ++e) {
        amax_bits = max(amax_bits, __float_as_uint(f[e]) & 0x7fffffffu);
        sum += f[e];
    }
#pragma unroll
    for (int o = 1; o < 4; o <<= 1) {
        amax_bits = max(amax_bits, __shfl_xor_sync(0xffffffffu, amax_bits, o));
        sum += __shfl_xor_sync(0xffffffffu, sum, o);
    }
    float id;
    const float d = block_scale(amax_bits, &sum, &id);
    int q[LI_CHUNK];
#pragma unroll
    for (int e = 0; e < LI_CHUNK; ++e) q[e] = __float2int_rn(__fmul_rn(f[e], id));
    int qsum = 0;
#pragma unroll
    for (int e = 0; e < LI_CHUNK; ++e) qsum += q[e];
#pragma unroll
    for (int o = 1; o < 4; o <<= 1) qsum += __shfl_xor_sync(0xffffffffu, qsum, o);
    unsigned int lo = 0, hi = 0;
#pragma unroll
    for (int e = 0; e < 4; ++e) {
        lo |= ((unsigned int)q[e] & 0xffu) << (8 * e);
        hi |= ((unsigned int)q[4 + e] & 0xffu) << (8 * e);
    }
    return ChunkQuants{lo, hi, d, sum, qsum};
}

// quantize_chunk_values stored as tl_quantize_activation lays them out: quants into
// qs[8c..8c+8], the block's float4 into ds[c/4].
__device__ __forceinline__ void quantize_chunk(i64 c, const float* f, bool valid, int lane, signed char* qs,
                                               float4* ds) {
    const ChunkQuants v = quantize_chunk_values(f);
    if (!valid) return;
    ((uint2*)qs)[c] = make_uint2(v.lo, v.hi);
    if ((lane & 3) == 0) ds[c / 4] = make_float4(v.d, __int_as_float(v.qsum), v.sum, 0.0f);
}

extern "C" __global__ void tl_quantize_activation(Strided src, const void* x, int dt, signed char* qs,
                                                  float4* ds, i64 n_blocks) {
    // Short: the mat-vec after it may start (and prefetch its weights) at once.
    tl_allow_successor();
    tl_wait_for_predecessor();
    int lane = threadIdx.x & 31;
    i64 warp = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    i64 n_warps = ((i64)gridDim.x * blockDim.x) >> 5;
    for (i64 b = warp; b < n_blocks; b += n_warps) {
        quantize_32(load_f(x, dt, strided_offset(src, b * 32 + lane)), lane, qs + b * 32, ds + b);
    }
}

// tl_linear_input_quantize: `Linear`'s input of one activation row (linear_input.cuh: x, or
// its norm) quantized as tl_quantize_activation does, for the mat-vec after it. One block;
// dynamic shared memory holds the rows linear_input copies in.
extern "C" __global__ void tl_linear_input_quantize(LinearInput in, signed char* qs, float4* ds) {
    extern __shared__ __align__(16) unsigned char scratch[];
    // Short: the mat-vec after it may start (and request its weights) at once.
    tl_allow_successor();
    linear_input_early<-1>(in, scratch);
    tl_wait_for_predecessor();
    const int lane = threadIdx.x & 31;
    linear_input<-1>(in, scratch, [&](i64 c, const float* f, bool valid) { quantize_chunk(c, f, valid, lane, qs, ds); });
}

// ---- matrix-vector products (tl_qmv_*) ----
// Each format's traits: LANES lanes share one weight block, each taking 4 or 8 bytes of its
// quants; CHUNK blocks (4 warp passes) are staged in shared memory at a time; `load` reads
// one lane's raw share of a staged block, `dot` adds that share times NR activation rows to
// acc[] (nothing when `ok` is false: the block index was clamped to stay in bounds). `xq[i]`
// and `xd[i]` are the quants and the per-32 float4s of activation row i; `b` is the block's
// index in its row. Staged blocks keep their alignment modulo 16 (16-byte pieces are copied),
// so the field loads below are as aligned as in global memory.

template <int FORMAT> struct Qmv;

template <> struct Qmv<QF_Q4_0> {
    // f16 d; u8 qs[16]: lane part p takes qs[8p..8p+8], i.e. weights 8p.. (low nibbles)
    // and 16 + 8p.. (high nibbles).
    static constexpr int LANES = 2, BYTES = 18, WEIGHTS = 32, CHUNK = 64;
    struct Raw { unsigned int d, w0, w1; };
    static __device__ __forceinline__ Raw load(const unsigned char* blk, int part) {
        return Raw{*(const unsigned short*)blk, (unsigned int)load_i32_align2(blk + 2 + 8 * part),
                   (unsigned int)load_i32_align2(blk + 6 + 8 * part)};
    }
    template <int NR>
    static __device__ __forceinline__ void dot(const Raw& r, int part, int b, bool ok, const signed char* const* xq,
                                               const float4* const* xd, float* acc) {
        float d = f16_to_f32((tl_f16)r.d);
        int lo0 = r.w0 & 0x0f0f0f0f, lo1 = r.w1 & 0x0f0f0f0f;
        int hi0 = (r.w0 >> 4) & 0x0f0f0f0f, hi1 = (r.w1 >> 4) & 0x0f0f0f0f;
#pragma unroll
        for (int i = 0; i < NR; ++i) {
            const signed char* x = xq[i] + (unsigned int)(b * 32 + 8 * part);
            int2 xl = *(const int2*)x, xh = *(const int2*)(x + 16);
            float4 s = xd[i][(unsigned int)b];
            int dot = __dp4a(lo0, xl.x, __dp4a(lo1, xl.y, __dp4a(hi0, xh.x, __dp4a(hi1, xh.y, 0))));
            // Σ (q − 8)·x: one lane of the block subtracts the offset for all 32.
            if (part == 0) dot -= 8 * __float_as_int(s.y);
            float v = d * s.x * (float)dot;
            acc[i] += ok ? v : 0.0f;
        }
    }
};

template <> struct Qmv<QF_Q4_1> {
    // f16 d; f16 m; u8 qs[16] (20 bytes: every field 4-byte aligned). Σ (d·q + m)·x is
    // d·Σ (q − 8)·x + (m + 8d)·Σx: centred quants keep the activation rounding error small
    // and the offset meets the exact activation sum.
    static constexpr int LANES = 2, BYTES = 20, WEIGHTS = 32, CHUNK = 64;
    struct Raw { unsigned int dm, w0, w1; };
    static __device__ __forceinline__ Raw load(const unsigned char* blk, int part) {
        return Raw{*(const unsigned int*)blk, *(const unsigned int*)(blk + 4 + 8 * part),
                   *(const unsigned int*)(blk + 8 + 8 * part)};
    }
    template <int NR>
    static __device__ __forceinline__ void dot(const Raw& r, int part, int b, bool ok, const signed char* const* xq,
                                               const float4* const* xd, float* acc) {
        float d = f16_to_f32((tl_f16)(r.dm & 0xffffu)), m = f16_to_f32((tl_f16)(r.dm >> 16));
        int lo0 = r.w0 & 0x0f0f0f0f, lo1 = r.w1 & 0x0f0f0f0f;
        int hi0 = (r.w0 >> 4) & 0x0f0f0f0f, hi1 = (r.w1 >> 4) & 0x0f0f0f0f;
        float offset = m + 8.0f * d;
#pragma unroll
        for (int i = 0; i < NR; ++i) {
            const signed char* x = xq[i] + (unsigned int)(b * 32 + 8 * part);
            int2 xl = *(const int2*)x, xh = *(const int2*)(x + 16);
            float4 s = xd[i][(unsigned int)b];
            int dot = __dp4a(lo0, xl.x, __dp4a(lo1, xl.y, __dp4a(hi0, xh.x, __dp4a(hi1, xh.y, 0))));
            float v;
            if (part == 0) {
                v = d * s.x * (float)(dot - 8 * __float_as_int(s.y)) + offset * s.z;
            } else {
                v = d * s.x * (float)dot;
            }
            acc[i] += ok ? v : 0.0f;
        }
    }
};

template <> struct Qmv<QF_Q8_0> {
    // f16 d; i8 qs[32]: lane part p takes qs[8p..8p+8].
    static constexpr int LANES = 4, BYTES = 34, WEIGHTS = 32, CHUNK = 32;
    struct Raw { unsigned int d; int w0, w1; };
    static __device__ __forceinline__ Raw load(const unsigned char* blk, int part) {
        return Raw{*(const unsigned short*)blk, load_i32_align2(blk + 2 + 8 * part),
                   load_i32_align2(blk + 6 + 8 * part)};
    }
    template <int NR>
    static __device__ __forceinline__ void dot(const Raw& r, int part, int b, bool ok, const signed char* const* xq,
                                               const float4* const* xd, float* acc) {
        float d = f16_to_f32((tl_f16)r.d);
#pragma unroll
        for (int i = 0; i < NR; ++i) {
            int2 x = *(const int2*)(xq[i] + (unsigned int)(b * 32 + 8 * part));
            int dot = __dp4a(r.w0, x.x, __dp4a(r.w1, x.y, 0));
            float v = d * xd[i][(unsigned int)b].x * (float)dot;
            acc[i] += ok ? v : 0.0f;
        }
    }
};

template <> struct Qmv<QF_Q4_K> {
    // f16 d; f16 dmin; u8 scales[12]; u8 qs[128] (144 bytes: blocks stay 16-byte aligned).
    // Lane part = 4·pair + seg takes qs[32·pair + 8·seg..+8]: low nibbles belong to sub-block
    // 2·pair, high nibbles to 2·pair + 1, both at positions 8·seg..+8 of their 32.
    static constexpr int LANES = 16, BYTES = 144, WEIGHTS = 256, CHUNK = 8;
    struct Raw { unsigned int dd, s0, s1, s2; int2 w; };
    static __device__ __forceinline__ Raw load(const unsigned char* blk, int part) {
        uint4 head = *(const uint4*)blk;
        return Raw{head.x, head.y, head.z, head.w, *(const int2*)(blk + 16 + 32 * (part >> 2) + 8 * (part & 3))};
    }
    template <int NR>
    static __device__ __forceinline__ void dot(const Raw& r, int part, int b, bool ok, const signed char* const* xq,
                                               const float4* const* xd, float* acc) {
        int pair = part >> 2, seg = part & 3;
        float d = f16_to_f32((tl_f16)(r.dd & 0xffffu)), dmin = f16_to_f32((tl_f16)(r.dd >> 16));
        int sc_lo, m_lo, sc_hi, m_hi;
        q4k_scale_min(r.s0, r.s1, r.s2, 2 * pair, &sc_lo, &m_lo);
        q4k_scale_min(r.s0, r.s1, r.s2, 2 * pair + 1, &sc_hi, &m_hi);
        int lo0 = r.w.x & 0x0f0f0f0f, lo1 = r.w.y & 0x0f0f0f0f;
        int hi0 = ((unsigned int)r.w.x >> 4) & 0x0f0f0f0f, hi1 = ((unsigned int)r.w.y >> 4) & 0x0f0f0f0f;
        // Σ (d·sc·q − dmin·m)·x = d·sc·Σ (q − 8)·x + (8·d·sc − dmin·m)·Σx, per sub-block.
        float offset_lo = 8.0f * d * (float)sc_lo - dmin * (float)m_lo;
        float offset_hi = 8.0f * d * (float)sc_hi - dmin * (float)m_hi;
        int a_lo = 8 * b + 2 * pair, a_hi = a_lo + 1;
#pragma unroll
        for (int i = 0; i < NR; ++i) {
            int2 xl = *(const int2*)(xq[i] + (unsigned int)(a_lo * 32 + 8 * seg));
            int2 xh = *(const int2*)(xq[i] + (unsigned int)(a_hi * 32 + 8 * seg));
            float4 sl = xd[i][(unsigned int)a_lo], sh = xd[i][(unsigned int)a_hi];
            int dot_lo = __dp4a(lo0, xl.x, __dp4a(lo1, xl.y, 0));
            int dot_hi = __dp4a(hi0, xh.x, __dp4a(hi1, xh.y, 0));
            if (seg == 0) {
                dot_lo -= 8 * __float_as_int(sl.y);
                dot_hi -= 8 * __float_as_int(sh.y);
            }
            float v = d * (sl.x * (float)(sc_lo * dot_lo) + sh.x * (float)(sc_hi * dot_hi));
            if (seg == 0) v += offset_lo * sl.z + offset_hi * sh.z;
            acc[i] += ok ? v : 0.0f;
        }
    }
};

template <> struct Qmv<QF_Q6_K> {
    // u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d (210 bytes, 2-byte aligned). Lane part =
    // 8·half + pos takes positions l = 4·pos..+4 of its half: ql[64·half + l] (groups 0 and
    // 2: low and high nibble), ql[64·half + 32 + l] (groups 1 and 3) and qh[32·half + l]
    // (bit pairs 0-1, 2-3, 4-5, 6-7 for groups 0..3), i.e. 4 weights of each group of 32.
    // Weights 128·half + 32·g + l use scale 8·half + 2·g + pos/4: the low or high byte of
    // the 16-bit word at scales + 8·half + 2·g.
    static constexpr int LANES = 16, BYTES = 210, WEIGHTS = 256, CHUNK = 8;
    struct Raw { unsigned int d, ql_a, ql_b, qh, sc01, sc23; };
    static __device__ __forceinline__ Raw load(const unsigned char* blk, int part) {
        int half = part >> 3, pos = part & 7;
        const unsigned short* sc = (const unsigned short*)(blk + 192 + 8 * half);
        return Raw{*(const unsigned short*)(blk + 208), (unsigned int)load_i32_align2(blk + 64 * half + 4 * pos),
                   (unsigned int)load_i32_align2(blk + 64 * half + 32 + 4 * pos),
                   (unsigned int)load_i32_align2(blk + 128 + 32 * half + 4 * pos),
                   (unsigned int)sc[0] | ((unsigned int)sc[1] << 16), (unsigned int)sc[2] | ((unsigned int)sc[3] << 16)};
    }
    template <int NR>
    static __device__ __forceinline__ void dot(const Raw& r, int part, int b, bool ok, const signed char* const* xq,
                                               const float4* const* xd, float* acc) {
        int half = part >> 3, pos = part & 7;
        float d = f16_to_f32((tl_f16)r.d);
        int q[4], sc[4];
        q[0] = (r.ql_a & 0x0f0f0f0f) | ((r.qh & 0x03030303) << 4);
        q[1] = (r.ql_b & 0x0f0f0f0f) | (((r.qh >> 2) & 0x03030303) << 4);
        q[2] = ((r.ql_a >> 4) & 0x0f0f0f0f) | (((r.qh >> 4) & 0x03030303) << 4);
        q[3] = ((r.ql_b >> 4) & 0x0f0f0f0f) | (((r.qh >> 6) & 0x03030303) << 4);
        int byte = 8 * (pos >> 2);
        sc[0] = (signed char)(r.sc01 >> byte);
        sc[1] = (signed char)(r.sc01 >> (16 + byte));
        sc[2] = (signed char)(r.sc23 >> byte);
        sc[3] = (signed char)(r.sc23 >> (16 + byte));
        int a0 = 8 * b + 4 * half;
#pragma unroll
        for (int i = 0; i < NR; ++i) {
            float sum = 0.0f;
#pragma unroll
            for (int g = 0; g < 4; ++g) {
                int x = *(const int*)(xq[i] + (unsigned int)((a0 + g) * 32 + 4 * pos));
                // Σ (q − 32)·x for 6-bit q stored without sign.
                int dot = __dp4a(q[g], x, 0) - __dp4a(0x20202020, x, 0);
                sum += xd[i][(unsigned int)(a0 + g)].x * (float)(sc[g] * dot);
            }
            float v = d * sum;
            acc[i] += ok ? v : 0.0f;
        }
    }
};

// The warp copies bytes [begin, end) of global memory into `stage`, as the aligned 16-byte
// pieces that cover them: byte `begin` lands at stage[begin % 16]. Every byte is requested
// once, by a full-width load; a piece that crosses `limit` (the end of the buffer) is
// copied byte by byte up to it instead. The copies join the thread's open cp.async group.
__device__ __forceinline__ void stage_pieces(const unsigned char* begin, const unsigned char* end,
                                             const unsigned char* limit, unsigned char* stage, int lane) {
    const unsigned char* first = (const unsigned char*)((unsigned long long)begin & ~15ull);
    int pieces = (int)((end - first + 15) >> 4);
    if (first + 16 * pieces <= limit) {
        for (int p = lane; p < pieces; p += 32) copy_async_16(stage + 16 * p, first + 16 * p);
    } else {
        for (int p = lane; p < pieces; p += 32) {
            const unsigned char* src = first + 16 * p;
            if (src + 16 <= limit) {
                copy_async_16(stage + 16 * p, src);
            } else {
                for (int i = 0; i < 16; ++i) stage[16 * p + i] = src + i < limit ? src[i] : 0;
            }
        }
    }
}

// stage_pieces as a cp.async group of its own.
__device__ __forceinline__ void stage_bytes(const unsigned char* begin, const unsigned char* end,
                                            const unsigned char* limit, unsigned char* stage, int lane) {
    stage_pieces(begin, end, limit, stage, lane);
    copy_async_commit();
}

#define QMV_STAGES 3

// Copies chunk c of a weight row (blocks c·CHUNK.. of blocks_per_row) into `stage`.
template <int FORMAT>
__device__ __forceinline__ void qmv_stage(const unsigned char* row, int c, int blocks_per_row,
                                          const unsigned char* w_limit, unsigned char* stage, int lane) {
    typedef Qmv<FORMAT> F;
    int end = (c + 1) * F::CHUNK < blocks_per_row ? (c + 1) * F::CHUNK : blocks_per_row;
    stage_bytes(row + c * F::CHUNK * F::BYTES, row + end * F::BYTES, w_limit, stage, lane);
}

// Adds the staged chunk c of a weight row times NR activation rows to this lane's acc[].
template <int FORMAT, int NR>
__device__ __forceinline__ void qmv_chunk(const unsigned char* stage, const unsigned char* row, int c,
                                          int blocks_per_row, int lane, const signed char* const* xq,
                                          const float4* const* xd, float* acc) {
    typedef Qmv<FORMAT> F;
    constexpr int PER_PASS = 32 / F::LANES;
    constexpr int PASSES = F::CHUNK / PER_PASS;
    int part = lane % F::LANES;
    int b0 = c * F::CHUNK;
    int count = blocks_per_row - b0 < F::CHUNK ? blocks_per_row - b0 : F::CHUNK;
    // Block b0 sits at stage[(address of b0) % 16]; activations from the chunk's first block.
    const unsigned char* base = stage + ((unsigned long long)(row + b0 * F::BYTES) & 15);
    const signed char* cq[NR];
    const float4* cd[NR];
#pragma unroll
    for (int i = 0; i < NR; ++i) {
        cq[i] = xq[i] + (i64)b0 * F::WEIGHTS;
        cd[i] = xd[i] + (i64)b0 * (F::WEIGHTS / 32);
    }
    if (count == F::CHUNK) {
#pragma unroll
        for (int pass = 0; pass < PASSES; ++pass) {
            int b = pass * PER_PASS + lane / F::LANES;
            typename F::Raw raw = F::load(base + b * F::BYTES, part);
            F::template dot<NR>(raw, part, b, true, cq, cd, acc);
        }
        return;
    }
#pragma unroll
    for (int pass = 0; pass < PASSES; ++pass) {
        int b = pass * PER_PASS + lane / F::LANES;
        // Past the row's end: a real block stands in, and adds nothing.
        bool ok = b < count;
        int at = ok ? b : count - 1;
        typename F::Raw raw = F::load(base + at * F::BYTES, part);
        F::template dot<NR>(raw, part, at, ok, cq, cd, acc);
    }
}

// The product's weight rows. With `gated` (Linear's SwiGLU), a row j is row j of w followed by
// row j of w_up, `up_delta` bytes further, in a buffer ending at `up_limit`: its chunks past
// the first `chunks` are the up row's, summed apart.
struct QmvWeights {
    const unsigned char* w;
    const unsigned char* w_limit;
    i64 w_offset, w_stride, n, blocks_per_row;
    i64 up_delta;
    const unsigned char* up_limit;
};

// Stages item c of the row at `at` (chunk c, or chunk c − chunks of the up row).
template <int FORMAT, bool GATED>
__device__ __forceinline__ void qmv_stage_item(const QmvWeights& p, const unsigned char* at, int c, int chunks,
                                               unsigned char* stage, int lane) {
    if (GATED && c >= chunks) {
        qmv_stage<FORMAT>(at + p.up_delta, c - chunks, (int)p.blocks_per_row, p.up_limit, stage, lane);
    } else {
        qmv_stage<FORMAT>(at, c, (int)p.blocks_per_row, p.w_limit, stage, lane);
    }
}

// Adds staged item c of the row at `at` to acc (or, for the up row, to acc_up).
template <int FORMAT, int NR, bool GATED>
__device__ __forceinline__ void qmv_chunk_item(const QmvWeights& p, const unsigned char* stage,
                                               const unsigned char* at, int c, int chunks, int lane,
                                               const signed char* const* xq, const float4* const* xd, float* acc,
                                               float* acc_up) {
    if (GATED && c >= chunks) {
        qmv_chunk<FORMAT, NR>(stage, at + p.up_delta, c - chunks, (int)p.blocks_per_row, lane, xq, xd, acc_up);
    } else {
        qmv_chunk<FORMAT, NR>(stage, at, c, (int)p.blocks_per_row, lane, xq, xd, acc);
    }
}

// Lanes i < NR hold the sums of activation rows tile·NR + i: they store output column j
// (silu(gate)·up when gated, NR = 1).
template <int NR, bool GATED>
__device__ __forceinline__ void qmv_store(const float* acc, const float* acc_up, int lane, i64 tile, i64 m, i64 n,
                                          i64 j, void* y, int dt) {
#pragma unroll
    for (int i = 0; i < NR; ++i) {
        if (lane == i && tile * NR + i < m) {
            store_f(y, dt, (tile * NR + i) * n + j, GATED ? linear_gate(dt, acc[i], acc_up[i]) : acc[i]);
        }
    }
}

template <int NR>
__device__ __forceinline__ void qmv_warp_sums(float* acc) {
#pragma unroll
    for (int i = 0; i < NR; ++i) acc[i] = warp_sum(acc[i]);
}

// One launch over the weight rows of `p` (`w_offset + j·w_stride` in blocks, of
// `blocks_per_row` blocks, inside a buffer ending at `w_limit`); activation rows of `k`
// quants and k/32 float4s; output y [m, n] dense. Warps walk rows in chunks of F::CHUNK
// blocks (1-2 KB), each staged in shared memory by 16-byte copies and then read from there
// block by block: reading blocks straight from global memory would make each narrow load of
// a lane request its sectors from L2 again, while staging moves every weight byte once, at
// full width.
//
// split == 1 (many rows): warps are persistent; warp g of G takes rows g, g + G, … and its
// (row, chunk) items run through a QMV_STAGES-deep pipeline that crosses row boundaries, so
// loads stay in flight while earlier chunks are used. split > 1 (few rows): `split` warps of
// a block share one row, taking its chunks in turn, and are summed through shared memory.
//
// GATED (`Linear`'s SwiGLU, one activation row): see QmvWeights. Unless `prefetch` is 0 (a
// kernel that may still run writes the weights), a launch of one tile requests each warp's
// first weight chunks before waiting for the kernel before (the activations' quantization),
// so the weights stream in meanwhile.
template <int FORMAT, int NR, bool GATED>
__device__ __forceinline__ void qmv(const QmvWeights& p, const signed char* qs, const float4* ds, i64 m, i64 k,
                                    void* y, int dt, int split, int prefetch) {
    typedef Qmv<FORMAT> F;
    // A chunk's bytes plus up to 15 on each side to reach 16-byte boundaries.
    constexpr int STAGE = F::CHUNK * F::BYTES + 32;
    __shared__ __align__(16) unsigned char stages[QMV_WARPS][QMV_STAGES][STAGE];
    __shared__ float partial[QMV_WARPS][2 * NR];

    const unsigned char* w = p.w;
    const i64 n = p.n;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    i64 act_blocks = k / 32;
    int nb = (int)p.blocks_per_row;
    int chunks = (nb + F::CHUNK - 1) / F::CHUNK;
    int items = GATED ? 2 * chunks : chunks;

    // Waits for the kernel before. With `early` (one tile, and no kernel still running
    // writes the weights) each warp has requested its first weight chunks before, so they
    // arrive meanwhile; it is called once, by every thread.
    const bool early = prefetch && gridDim.y == 1 && m <= NR;
    auto ready = [&]() {
        tl_wait_for_predecessor();
        tl_allow_successor();
    };
    if (!early) {
        // This warp's first weight row is pulled into L2 while the kernel before this one
        // finishes. A prefetch only warms the coherent L2, so it is safe whoever writes the
        // weights.
        i64 first = split == 1 ? (i64)blockIdx.x * QMV_WARPS + warp
                               : (i64)blockIdx.x * (QMV_WARPS / split) + warp / split;
        if (first < n) {
            const unsigned char* row = w + (p.w_offset + first * p.w_stride) * F::BYTES;
            for (i64 at = (i64)lane * 128; at < (i64)nb * F::BYTES; at += 32 * 128) {
                if (row + at < p.w_limit) asm volatile("prefetch.global.L2 [%0];" ::"l"(row + at));
            }
        }
        ready();
    }

    for (i64 tile = blockIdx.y; tile * NR < m; tile += gridDim.y) {
        const signed char* xq[NR];
        const float4* xd[NR];
#pragma unroll
        for (int i = 0; i < NR; ++i) {
            // Rows past m repeat the last row; their results are never stored.
            i64 r = tile * NR + i < m ? tile * NR + i : m - 1;
            xq[i] = qs + r * k;
            xd[i] = ds + r * act_blocks;
        }
        float acc[NR], acc_up[NR];
#pragma unroll
        for (int i = 0; i < NR; ++i) acc[i] = acc_up[i] = 0.0f;

        if (split == 1) {
            // The (row, item) being used and the one being staged, advanced in step.
            i64 groups = (i64)gridDim.x * QMV_WARPS;
            i64 row_now = (i64)blockIdx.x * QMV_WARPS + warp, row_ahead = row_now;
            int c_now = 0, c_ahead = 0, slot_now = 0, slot_ahead = 0;
            // Row addresses, advanced by `step` bytes from one of this warp's rows to the next.
            const unsigned char* at_now = w + (p.w_offset + row_now * p.w_stride) * F::BYTES;
            const unsigned char* at_ahead = at_now;
            i64 step = groups * p.w_stride * F::BYTES;
#pragma unroll
            for (int t = 0; t < QMV_STAGES - 1; ++t) {
                if (row_ahead < n) {
                    qmv_stage_item<FORMAT, GATED>(p, at_ahead, c_ahead, chunks, stages[warp][slot_ahead], lane);
                    if (++c_ahead == items) c_ahead = 0, row_ahead += groups, at_ahead += step;
                } else {
                    copy_async_commit();
                }
                ++slot_ahead;
            }
            if (early) ready();
            while (row_now < n) {
                if (row_ahead < n) {
                    qmv_stage_item<FORMAT, GATED>(p, at_ahead, c_ahead, chunks, stages[warp][slot_ahead], lane);
                    if (++c_ahead == items) c_ahead = 0, row_ahead += groups, at_ahead += step;
                } else {
                    copy_async_commit();
                }
                slot_ahead = slot_ahead == QMV_STAGES - 1 ? 0 : slot_ahead + 1;
                copy_async_wait<QMV_STAGES - 1>();
                __syncwarp();
                qmv_chunk_item<FORMAT, NR, GATED>(p, stages[warp][slot_now], at_now, c_now, chunks, lane, xq, xd, acc,
                                                  acc_up);
                // Every lane is done with this stage before it is refilled.
                __syncwarp();
                slot_now = slot_now == QMV_STAGES - 1 ? 0 : slot_now + 1;
                if (++c_now == items) {
                    qmv_warp_sums<NR>(acc);
                    if (GATED) qmv_warp_sums<NR>(acc_up);
                    qmv_store<NR, GATED>(acc, acc_up, lane, tile, m, n, row_now, y, dt);
#pragma unroll
                    for (int i = 0; i < NR; ++i) acc[i] = acc_up[i] = 0.0f;
                    c_now = 0;
                    row_now += groups;
                    at_now += step;
                }
            }
            continue;
        }

        i64 j = (i64)blockIdx.x * (QMV_WARPS / split) + warp / split;
        int share = warp % split;
        bool valid = j < n;
        const unsigned char* row = w + (p.w_offset + (valid ? j : 0) * p.w_stride) * F::BYTES;
        const bool works = valid && share < items;
        // This warp's items: share, share + split, …, two stages deep.
        if (works) qmv_stage_item<FORMAT, GATED>(p, row, share, chunks, stages[warp][0], lane);
        if (early) ready();
        if (works) {
            int slot = 0;
            for (int c = share; c < items; c += split) {
                int next = c + split;
                if (next < items) {
                    qmv_stage_item<FORMAT, GATED>(p, row, next, chunks, stages[warp][slot ^ 1], lane);
                    copy_async_wait<1>();
                } else {
                    copy_async_wait<0>();
                }
                __syncwarp();
                qmv_chunk_item<FORMAT, NR, GATED>(p, stages[warp][slot], row, c, chunks, lane, xq, xd, acc, acc_up);
                __syncwarp();
                slot ^= 1;
            }
        }
        qmv_warp_sums<NR>(acc);
        if (GATED) qmv_warp_sums<NR>(acc_up);
        if (lane == 0) {
#pragma unroll
            for (int i = 0; i < NR; ++i) partial[warp][i] = acc[i], partial[warp][NR + i] = acc_up[i];
        }
        __syncthreads();
        if (share == 0) {
            for (int s = 1; s < split; ++s) {
#pragma unroll
                for (int i = 0; i < NR; ++i) acc[i] += partial[warp + s][i], acc_up[i] += partial[warp + s][NR + i];
            }
        }
        __syncthreads();
        // Lanes i < NR of the row's first warp store row tile·NR + i.
        if (valid && share == 0) qmv_store<NR, GATED>(acc, acc_up, lane, tile, m, n, j, y, dt);
    }
}

// One or two activation rows (decode): at most 64 registers, so that 8 blocks (32 warps) fit
// on a multiprocessor and the persistent grid covers the GPU in one wave.
#define TL_QMV(NAME, FORMAT, NR, MIN_BLOCKS, GATED)                                                     \
    extern "C" __global__ void __launch_bounds__(QMV_THREADS, MIN_BLOCKS)                               \
        NAME(QmvWeights p, const signed char* qs, const float4* ds, i64 m, i64 k, void* y, int dt,      \
             int split, int prefetch) {                                                                 \
        qmv<FORMAT, NR, GATED>(p, qs, ds, m, k, y, dt, split, prefetch);                                \
    }

#define TL_QMV_FORMAT(PREFIX, FORMAT)                \
    TL_QMV(PREFIX##_r1, FORMAT, 1, 8, false)         \
    TL_QMV(PREFIX##_r2, FORMAT, 2, 8, false)         \
    TL_QMV(PREFIX##_r4, FORMAT, 4, 1, false)         \
    TL_QMV(PREFIX##_r8, FORMAT, 8, 1, false)         \
    TL_QMV(PREFIX##_r1_gated, FORMAT, 1, 8, true)

TL_QMV_FORMAT(tl_qmv_q4_0, QF_Q4_0)
TL_QMV_FORMAT(tl_qmv_q4_1, QF_Q4_1)
TL_QMV_FORMAT(tl_qmv_q8_0, QF_Q8_0)
TL_QMV_FORMAT(tl_qmv_q4_k, QF_Q4_K)
TL_QMV_FORMAT(tl_qmv_q6_k, QF_Q6_K)

// ---- matrix-vector products over block pairs with the input made per block (tl_qmv_pairs_*) ----
// For Q8_0, Q4_0 and Q4_1, whose 34-, 18- and 20-byte blocks make a lane's share of one block
// cost several narrow loads: lane l of a warp takes the l-th pair of blocks (68, 36 or 40
// bytes, a whole number of words) of a staged chunk of 32 pairs, reading it as 17, 9 or 10
// words (Q8_0's and Q4_0's odd word strides have no bank conflicts, Q4_1's even one two-way
// ones). Q4_K's "pair" is a quarter super-block (64 weights, 36 bytes of the row: a chunk is
// 8 super-blocks), read as the super-block's head and the quarter's 32 quant bytes; Q6_K's
// likewise (a chunk is 8 super-blocks of 210 bytes), read as the 96 bytes of its half's
// quants that hold it, its scales and d. The activations come from shared memory as one 80-byte
// record a pair (the 64 quants, then d and Σq of each block: five 16-byte reads, and the
// record stride spreads 8 lanes over all banks), which each block makes itself from
// `Linear`'s input (linear_input.cuh: x, or its norm) before its dot products: one kernel
// instead of a quantization kernel the product would wait for. At most one block of QP_WARPS
// warps a multiprocessor (the host launches only as many as keep the rows of the busiest
// warp), so the redundant input work stays small; warp g of G takes rows g, g + G,
// … through a pipeline of QP_STAGES chunks that crosses rows (as tl_qmv_*'s persistent
// grid). Gated: a stage holds chunk c of the gate row and of the up row, which share the
// lane's record. The per-chunk bookkeeping, not the bytes, bounds these kernels (an H200
// profile: dp4a ~4% of the instructions), so a chunk carries as many pairs as it can.
// Assumptions (checked by the host): one activation row, k a multiple of 64, every row's
// first byte 4-byte aligned, dynamic shared memory for the stages, the records and
// linear_input's scratch.

#define QP_WARPS 16
#define QP_RECORD 80
#define QP_CHUNK 32
#define QP_STAGES 2

// One pair's activation record: the 64 quants (x[0..1] the first block's, x[2..3] the
// second's) and {d0, Σq0, d1, Σq1}; for formats with a block minimum (QmvPair::SUMS) also
// the blocks' exact sums {Σx0, Σx1}, kept in an array of their own after the records (8
// bytes a pair: a lane's read stays free of bank conflicts, as the 80-byte stride does).
struct PairRecord {
    uint4 x[4];
    uint4 sc;
    float2 sum;
};

template <bool SUMS>
__device__ __forceinline__ PairRecord load_record(const unsigned char* records, const float2* sums, i64 pair) {
    const uint4* r = (const uint4*)(records + pair * QP_RECORD);
    return PairRecord{{r[0], r[1], r[2], r[3]}, r[4], SUMS ? sums[pair] : make_float2(0.0f, 0.0f)};
}

template <int FORMAT> struct QmvPair;

// A lane's words of pair `lane` of a staged chunk, for formats whose pairs are two whole
// blocks side by side.
template <int WORDS>
__device__ __forceinline__ void load_pair_words(const unsigned int* chunk, int lane, unsigned int* words) {
    const unsigned int* src = chunk + lane * WORDS;
#pragma unroll
    for (int t = 0; t < WORDS; ++t) words[t] = src[t];
}

// Per format: WORDS a lane loads for its pair (`load`), the format's block (BLOCK_BYTES for
// BLOCK_WEIGHTS weights: a pair of 64 weights is two blocks, or a quarter of a 256-weight
// super-block), and SUMS (see PairRecord).
template <> struct QmvPair<QF_Q8_0> {
    static constexpr int WORDS = 17, BLOCK_BYTES = 34, BLOCK_WEIGHTS = 32;
    static constexpr bool SUMS = false;
    static __device__ __forceinline__ void load(const unsigned int* chunk, int lane, unsigned int* words) {
        load_pair_words<WORDS>(chunk, lane, words);
    }
    // Words: d0 | q0[0..1], q0[2..29] (7 words), q0[30..31] | d1, q1 (8 words).
    static __device__ __forceinline__ float dot(const unsigned int* w, int, const PairRecord& record) {
        const uint4 x0 = record.x[0], x1 = record.x[1], x2 = record.x[2], x3 = record.x[3], sc = record.sc;
        int q[8];
#pragma unroll
        for (int t = 0; t < 8; ++t) q[t] = (int)__byte_perm(w[t], w[t + 1], 0x5432);
        int s0 = __dp4a(q[0], (int)x0.x, __dp4a(q[1], (int)x0.y, __dp4a(q[2], (int)x0.z, __dp4a(q[3], (int)x0.w, 0))));
        s0 = __dp4a(q[4], (int)x1.x, __dp4a(q[5], (int)x1.y, __dp4a(q[6], (int)x1.z, __dp4a(q[7], (int)x1.w, s0))));
        int s1 = __dp4a((int)w[9], (int)x2.x, __dp4a((int)w[10], (int)x2.y, __dp4a((int)w[11], (int)x2.z, __dp4a((int)w[12], (int)x2.w, 0))));
        s1 = __dp4a((int)w[13], (int)x3.x, __dp4a((int)w[14], (int)x3.y, __dp4a((int)w[15], (int)x3.z, __dp4a((int)w[16], (int)x3.w, s1))));
        const float d0 = f16_to_f32((tl_f16)(w[0] & 0xffffu)), d1 = f16_to_f32((tl_f16)(w[8] >> 16));
        return d0 * __uint_as_float(sc.x) * (float)s0 + d1 * __uint_as_float(sc.z) * (float)s1;
    }
};

// Σ (q − 8)·x_q over one 32-weight block of 4-bit quants in four words (low nibbles weights
// 0..15, high nibbles 16..31, as Q4_0 and Q4_1 store them), against the record's halves of
// the block's activation quants (`lo` 0..15, `hi` 16..31) whose sum is `qsum`.
__device__ __forceinline__ int centred_nibble_dot(const unsigned int* q, uint4 lo, uint4 hi, unsigned int qsum) {
    const unsigned int m = 0x0f0f0f0fu;
    int s = __dp4a((int)(q[0] & m), (int)lo.x, __dp4a((int)(q[1] & m), (int)lo.y, __dp4a((int)(q[2] & m), (int)lo.z, __dp4a((int)(q[3] & m), (int)lo.w, 0))));
    s = __dp4a((int)((q[0] >> 4) & m), (int)hi.x, __dp4a((int)((q[1] >> 4) & m), (int)hi.y, __dp4a((int)((q[2] >> 4) & m), (int)hi.z, __dp4a((int)((q[3] >> 4) & m), (int)hi.w, s))));
    return s - 8 * (int)qsum;
}

template <> struct QmvPair<QF_Q4_0> {
    static constexpr int WORDS = 9, BLOCK_BYTES = 18, BLOCK_WEIGHTS = 32;
    static constexpr bool SUMS = false;
    static __device__ __forceinline__ void load(const unsigned int* chunk, int lane, unsigned int* words) {
        load_pair_words<WORDS>(chunk, lane, words);
    }
    // Words: d0 | qs0[0..1], qs0[2..13] (3 words), qs0[14..15] | d1, qs1 (4 words). Low
    // nibbles are a block's weights 0..15, high nibbles 16..31; Σ (q − 8)·x as in Qmv<Q4_0>.
    static __device__ __forceinline__ float dot(const unsigned int* w, int, const PairRecord& record) {
        const uint4 sc = record.sc;
        unsigned int a[4];
#pragma unroll
        for (int t = 0; t < 4; ++t) a[t] = __byte_perm(w[t], w[t + 1], 0x5432);
        const int s0 = centred_nibble_dot(a, record.x[0], record.x[1], sc.y);
        const int s1 = centred_nibble_dot(w + 5, record.x[2], record.x[3], sc.w);
        const float d0 = f16_to_f32((tl_f16)(w[0] & 0xffffu)), d1 = f16_to_f32((tl_f16)(w[4] >> 16));
        return d0 * __uint_as_float(sc.x) * (float)s0 + d1 * __uint_as_float(sc.z) * (float)s1;
    }
};

template <> struct QmvPair<QF_Q4_1> {
    static constexpr int WORDS = 10, BLOCK_BYTES = 20, BLOCK_WEIGHTS = 32;
    static constexpr bool SUMS = true;
    static __device__ __forceinline__ void load(const unsigned int* chunk, int lane, unsigned int* words) {
        load_pair_words<WORDS>(chunk, lane, words);
    }
    // Words: d0 m0 | qs0 (4 words) | d1 m1 | qs1 (4 words), nibbles as Q4_0's. As Qmv<Q4_1>:
    // Σ (d·q + m)·x = d·Σ (q − 8)·x + (m + 8d)·Σx, the offset against the exact sum.
    static __device__ __forceinline__ float dot(const unsigned int* w, int, const PairRecord& record) {
        const uint4 sc = record.sc;
        const int s0 = centred_nibble_dot(w + 1, record.x[0], record.x[1], sc.y);
        const int s1 = centred_nibble_dot(w + 6, record.x[2], record.x[3], sc.w);
        const float d0 = f16_to_f32((tl_f16)(w[0] & 0xffffu)), m0 = f16_to_f32((tl_f16)(w[0] >> 16));
        const float d1 = f16_to_f32((tl_f16)(w[5] & 0xffffu)), m1 = f16_to_f32((tl_f16)(w[5] >> 16));
        return d0 * __uint_as_float(sc.x) * (float)s0 + (m0 + 8.0f * d0) * record.sum.x +
               d1 * __uint_as_float(sc.z) * (float)s1 + (m1 + 8.0f * d1) * record.sum.y;
    }
};

template <> struct QmvPair<QF_Q4_K> {
    static constexpr int WORDS = 12, BLOCK_BYTES = 144, BLOCK_WEIGHTS = 256;
    static constexpr bool SUMS = true;
    // A pair is quarter `lane & 3` of super-block `lane >> 2` of the chunk: the lane loads the
    // super-block's 16-byte head (d, dmin, the packed scales; shared by four lanes) and the
    // quarter's qs[32·quarter..+32], whose low nibbles are sub-block 2·quarter and high
    // nibbles sub-block 2·quarter + 1 (as in Qmv<Q4_K>).
    // The host passes only rows on 16 bytes (super-blocks are 144 bytes), so these are
    // 16-byte reads: word reads at the 36-word super-block stride would hit 8 banks, four
    // lanes each (H200: 5-7% slower products).
    static __device__ __forceinline__ void load(const unsigned int* chunk, int lane, unsigned int* words) {
        const uint4* block = (const uint4*)chunk + (lane >> 2) * (BLOCK_BYTES / 16);
        const uint4 head = block[0], a = block[1 + 2 * (lane & 3)], b = block[2 + 2 * (lane & 3)];
        const unsigned int all[12] = {head.x, head.y, head.z, head.w, a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
#pragma unroll
        for (int t = 0; t < 12; ++t) words[t] = all[t];
    }
    // Σ (d·sc·q − dmin·m)·x = d·sc·Σ (q − 8)·x + (8·d·sc − dmin·m)·Σx, per sub-block.
    static __device__ __forceinline__ float dot(const unsigned int* w, int lane, const PairRecord& record) {
        const uint4 x0 = record.x[0], x1 = record.x[1], x2 = record.x[2], x3 = record.x[3], sc = record.sc;
        const unsigned int m = 0x0f0f0f0fu;
        const unsigned int* q = w + 4;
        int s0 = __dp4a((int)(q[0] & m), (int)x0.x, __dp4a((int)(q[1] & m), (int)x0.y, __dp4a((int)(q[2] & m), (int)x0.z, __dp4a((int)(q[3] & m), (int)x0.w, 0))));
        s0 = __dp4a((int)(q[4] & m), (int)x1.x, __dp4a((int)(q[5] & m), (int)x1.y, __dp4a((int)(q[6] & m), (int)x1.z, __dp4a((int)(q[7] & m), (int)x1.w, s0))));
        int s1 = __dp4a((int)((q[0] >> 4) & m), (int)x2.x, __dp4a((int)((q[1] >> 4) & m), (int)x2.y, __dp4a((int)((q[2] >> 4) & m), (int)x2.z, __dp4a((int)((q[3] >> 4) & m), (int)x2.w, 0))));
        s1 = __dp4a((int)((q[4] >> 4) & m), (int)x3.x, __dp4a((int)((q[5] >> 4) & m), (int)x3.y, __dp4a((int)((q[6] >> 4) & m), (int)x3.z, __dp4a((int)((q[7] >> 4) & m), (int)x3.w, s1))));
        s0 -= 8 * (int)sc.y;
        s1 -= 8 * (int)sc.w;
        const int quarter = lane & 3;
        int sc_lo, m_lo, sc_hi, m_hi;
        q4k_scale_min(w[1], w[2], w[3], 2 * quarter, &sc_lo, &m_lo);
        q4k_scale_min(w[1], w[2], w[3], 2 * quarter + 1, &sc_hi, &m_hi);
        const float d = f16_to_f32((tl_f16)(w[0] & 0xffffu)), dmin = f16_to_f32((tl_f16)(w[0] >> 16));
        const float offset_lo = 8.0f * d * (float)sc_lo - dmin * (float)m_lo;
        const float offset_hi = 8.0f * d * (float)sc_hi - dmin * (float)m_hi;
        return d * (__uint_as_float(sc.x) * (float)(sc_lo * s0) + __uint_as_float(sc.z) * (float)(sc_hi * s1)) +
               (offset_lo * record.sum.x + offset_hi * record.sum.y);
    }
};

// `N` words from a 2-byte aligned address, as N + 1 aligned loads shifted into place.
template <int N>
__device__ __forceinline__ void load_words_align2(const unsigned char* p, unsigned int* words) {
    const unsigned int* aligned = (const unsigned int*)((unsigned long long)p & ~3ull);
    const unsigned int shift = ((unsigned int)(unsigned long long)p & 3u) * 8u;
    unsigned int raw[N + 1];
#pragma unroll
    for (int t = 0; t <= N; ++t) raw[t] = aligned[t];
#pragma unroll
    for (int t = 0; t < N; ++t) words[t] = __funnelshift_r(raw[t], raw[t + 1], shift);
}

template <> struct QmvPair<QF_Q6_K> {
    static constexpr int WORDS = 26, BLOCK_BYTES = 210, BLOCK_WEIGHTS = 256;
    static constexpr bool SUMS = false;
    // u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d. A pair is quarter 2·half + j of super-block
    // `lane >> 2` (super-blocks sit 2 bytes off a word in every other one): groups 2j and
    // 2j + 1 of its half (see Qmv<Q6_K>), i.e. nibble j of ql[64·half..+64] (words 0..15),
    // bit pairs 4j and 4j + 2 of qh[32·half..+32] (words 16..23), scales[8·half + 4j..+4]
    // (word 24: two 16-weight scales a group) and d (word 25).
    static __device__ __forceinline__ void load(const unsigned int* chunk, int lane, unsigned int* words) {
        const unsigned char* block = (const unsigned char*)chunk + (lane >> 2) * BLOCK_BYTES;
        const int half = (lane >> 1) & 1, j = lane & 1;
        load_words_align2<16>(block + 64 * half, words);
        load_words_align2<8>(block + 128 + 32 * half, words + 16);
        load_words_align2<1>(block + 192 + 8 * half + 4 * j, words + 24);
        words[25] = *(const unsigned short*)(block + 208);
    }
    // d · Σ_group dx · Σ_16 scale · Σ (q − 32)·x_q, the integer sums exact as Qmv<Q6_K>'s.
    static __device__ __forceinline__ float dot(const unsigned int* w, int lane, const PairRecord& record) {
        const unsigned int x[16] = {record.x[0].x, record.x[0].y, record.x[0].z, record.x[0].w,
                                    record.x[1].x, record.x[1].y, record.x[1].z, record.x[1].w,
                                    record.x[2].x, record.x[2].y, record.x[2].z, record.x[2].w,
                                    record.x[3].x, record.x[3].y, record.x[3].z, record.x[3].w};
        const int shift = 4 * (lane & 1);
        int sums[4] = {0, 0, 0, 0};  // weights 0..15 and 16..31 of the first group, then the second's
#pragma unroll
        for (int t = 0; t < 8; ++t) {
            const unsigned int qh = w[16 + t] >> shift;
            const unsigned int a = ((w[t] >> shift) & 0x0f0f0f0fu) | ((qh & 0x03030303u) << 4);
            const unsigned int b = ((w[8 + t] >> shift) & 0x0f0f0f0fu) | (((qh >> 2) & 0x03030303u) << 4);
            sums[t >> 2] = __dp4a((int)__vsub4(a, 0x20202020u), (int)x[t], sums[t >> 2]);
            sums[2 + (t >> 2)] = __dp4a((int)__vsub4(b, 0x20202020u), (int)x[8 + t], sums[2 + (t >> 2)]);
        }
        const unsigned int scales = w[24];
        const int sc0 = (signed char)(scales & 0xffu), sc1 = (signed char)((scales >> 8) & 0xffu);
        const int sc2 = (signed char)((scales >> 16) & 0xffu), sc3 = (signed char)(scales >> 24);
        const float d = f16_to_f32((tl_f16)(w[25] & 0xffffu));
        return d * (__uint_as_float(record.sc.x) * (float)(sc0 * sums[0] + sc1 * sums[1]) +
                    __uint_as_float(record.sc.z) * (float)(sc2 * sums[2] + sc3 * sums[3]));
    }
};

// Chunk c of the input quantized into its pair record: quants at (block % 2)·32 + (c % 4)·8,
// {d, Σq} of the block at 64 + (block % 2)·8.
template <bool SUMS>
__device__ __forceinline__ void quantize_chunk_record(i64 c, const float* f, bool valid, int lane,
                                                      unsigned char* records, float2* sums) {
    const ChunkQuants v = quantize_chunk_values(f);
    if (!valid) return;
    const i64 block = c >> 2;
    unsigned char* record = records + (block >> 1) * QP_RECORD;
    *(uint2*)(record + (block & 1) * 32 + (c & 3) * 8) = make_uint2(v.lo, v.hi);
    if ((lane & 3) == 0) {
        *(float2*)(record + 64 + (block & 1) * 8) = make_float2(v.d, __int_as_float(v.qsum));
        if (SUMS) ((float*)&sums[block >> 1])[block & 1] = v.sum;
    }
}

template <int FORMAT, bool GATED>
__device__ __forceinline__ void qmv_pairs(const QmvWeights& p, const LinearInput& in, void* y, int dt, int prefetch) {
    typedef QmvPair<FORMAT> P;
    // The bytes of `count` pairs of a row (a multiple of 4 for super-block formats).
    auto pair_bytes = [](i64 count) { return count * 64 / P::BLOCK_WEIGHTS * P::BLOCK_BYTES; };
    constexpr int CHUNK_BYTES = QP_CHUNK * 64 / P::BLOCK_WEIGHTS * P::BLOCK_BYTES;
    // A chunk plus up to 15 bytes on each side to reach 16-byte boundaries; gated, the up
    // row's chunk follows the gate row's in the same stage.
    constexpr int CHUNK_STAGE = CHUNK_BYTES + 32;
    constexpr int STAGE = (GATED ? 2 : 1) * CHUNK_STAGE;
    extern __shared__ __align__(16) unsigned char qp_shared[];
    unsigned char(*stages)[QP_STAGES][STAGE] = (unsigned char(*)[QP_STAGES][STAGE])qp_shared;
    unsigned char* records = qp_shared + QP_WARPS * QP_STAGES * STAGE;
    float2* sums = (float2*)(records + (in.k / 64) * QP_RECORD);
    // The sums' array is rounded up to 16 bytes, so the scratch after it stays aligned.
    unsigned char* scratch = (unsigned char*)sums + (P::SUMS ? ((in.k / 64) * 8 + 15) / 16 * 16 : 0);

    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const i64 n = p.n;
    const int pairs = (int)(p.blocks_per_row * P::BLOCK_WEIGHTS / 64);
    const int chunks = (pairs + QP_CHUNK - 1) / QP_CHUNK;
    const i64 groups = (i64)gridDim.x * QP_WARPS;
    // The (row, chunk) being used and the one being staged, as in qmv's persistent grid.
    i64 row_now = (i64)blockIdx.x * QP_WARPS + warp, row_ahead = row_now;
    int c_now = 0, c_ahead = 0, slot_now = 0, slot_ahead = 0;
    const unsigned char* at_now = p.w + (p.w_offset + row_now * p.w_stride) * P::BLOCK_BYTES;
    const unsigned char* at_ahead = at_now;
    const i64 step = groups * p.w_stride * P::BLOCK_BYTES;
    auto stage_ahead = [&]() {
        if (row_ahead < n) {
            const unsigned char* first = at_ahead + (i64)c_ahead * CHUNK_BYTES;
            const int end = (c_ahead + 1) * QP_CHUNK < pairs ? (c_ahead + 1) * QP_CHUNK : pairs;
            const i64 bytes = pair_bytes(end - c_ahead * QP_CHUNK);
            stage_pieces(first, first + bytes, p.w_limit, stages[warp][slot_ahead], lane);
            if (GATED) {
                stage_pieces(first + p.up_delta, first + p.up_delta + bytes, p.up_limit,
                             stages[warp][slot_ahead] + CHUNK_STAGE, lane);
            }
            if (++c_ahead == chunks) c_ahead = 0, row_ahead += groups, at_ahead += step;
        }
        copy_async_commit();
        slot_ahead = slot_ahead == QP_STAGES - 1 ? 0 : slot_ahead + 1;
    };

    // Unless a kernel that may still run writes the weights, the first chunks are requested
    // before the wait, and the input's residual and norm weight with them: those first, so
    // that linear_input can wait for their copy group while the weights' stay in flight.
    KernelTimeline timeline;
    timeline.mark(0);
    linear_input_early<-1>(in, scratch);
    if (prefetch) {
        for (int t = 0; t < QP_STAGES - 1; ++t) stage_ahead();
    }
    tl_wait_for_predecessor();
    tl_allow_successor();
    timeline.mark(1);
    if (!prefetch) {
        for (int t = 0; t < QP_STAGES - 1; ++t) stage_ahead();
    }
    linear_input<-1, QP_STAGES - 1>(
        in, scratch, [&](i64 c, const float* f, bool valid) { quantize_chunk_record<P::SUMS>(c, f, valid, lane, records, sums); });
    __syncthreads();
    timeline.mark(2);

    // A lane's pair is the same in every chunk c of every row: its record is read again
    // only when c changes (never for rows of one chunk).
    PairRecord record;
    int record_chunk = -1;
    float acc = 0.0f, acc_up = 0.0f;
    while (row_now < n) {
        stage_ahead();
        copy_async_wait<QP_STAGES - 1>();
        __syncwarp();
        const int pair = c_now * QP_CHUNK + lane;
        if (pair < pairs) {
            if (c_now != record_chunk) record = load_record<P::SUMS>(records, sums, pair), record_chunk = c_now;
            // The chunk's first byte sits at its address modulo 16 (stage_pieces); the up
            // row's is as far from its own, `up_delta` being a multiple of 4 bytes only.
            const unsigned char* first = at_now + (i64)c_now * CHUNK_BYTES;
            unsigned int words[P::WORDS];
            P::load((const unsigned int*)(stages[warp][slot_now] + ((unsigned long long)first & 15)), lane, words);
            acc += P::dot(words, lane, record);
            if (GATED) {
                P::load((const unsigned int*)(stages[warp][slot_now] + CHUNK_STAGE +
                                              ((unsigned long long)(first + p.up_delta) & 15)),
                        lane, words);
                acc_up += P::dot(words, lane, record);
            }
        }
        // Every lane is done with this stage before it is refilled.
        __syncwarp();
        if (c_now == 0 && row_now < groups) timeline.mark(3);
        slot_now = slot_now == QP_STAGES - 1 ? 0 : slot_now + 1;
        if (++c_now == chunks) {
            acc = warp_sum(acc);
            if (GATED) acc_up = warp_sum(acc_up);
            if (lane == 0) store_f(y, dt, row_now, GATED ? linear_gate(dt, acc, acc_up) : acc);
            acc = acc_up = 0.0f;
            c_now = 0;
            row_now += groups;
            at_now += step;
        }
    }
    timeline.mark(4);
    timeline.finish(GATED ? 2 : 1, prefetch, n, in.k);
}

#define TL_QMV_PAIRS(NAME, FORMAT, GATED)                                                                   \
    extern "C" __global__ void __launch_bounds__(QP_WARPS * 32, 1)                                          \
        NAME(QmvWeights p, LinearInput in, void* y, int dt, int prefetch) {                                 \
        qmv_pairs<FORMAT, GATED>(p, in, y, dt, prefetch);                                                   \
    }

TL_QMV_PAIRS(tl_qmv_pairs_q8_0, QF_Q8_0, false)
TL_QMV_PAIRS(tl_qmv_pairs_q8_0_gated, QF_Q8_0, true)
TL_QMV_PAIRS(tl_qmv_pairs_q4_0, QF_Q4_0, false)
TL_QMV_PAIRS(tl_qmv_pairs_q4_0_gated, QF_Q4_0, true)
TL_QMV_PAIRS(tl_qmv_pairs_q4_1, QF_Q4_1, false)
TL_QMV_PAIRS(tl_qmv_pairs_q4_1_gated, QF_Q4_1, true)
TL_QMV_PAIRS(tl_qmv_pairs_q4_k, QF_Q4_K, false)
TL_QMV_PAIRS(tl_qmv_pairs_q4_k_gated, QF_Q4_K, true)
TL_QMV_PAIRS(tl_qmv_pairs_q6_k, QF_Q6_K, false)
TL_QMV_PAIRS(tl_qmv_pairs_q6_k_gated, QF_Q6_K, true)

// ---- tiled matrix products for many activation rows (tl_qmm_*) ----
// A block of 256 threads computes a 64 × 64 tile of outputs (64 weight rows, 64 activation
// rows), walking k in chunks of 256. Per chunk, every weight group of 32 is decoded once into
// shared memory as int8 (centred: q − 8 for the nibble formats, q − 32 for Q6_K) with a
// float4 {scale of values 0..15, scale of 16..31, offset term, 0}, so that its contribution
// to a dot product is x_d·(a·Σ₀..₁₅ q·x + b·Σ₁₆..₃₁ q·x) + offset·Σx; the activation
// quants and {d, Σx} are copied in beside them. Thread (ty, tx) then owns weight rows
// ty + 16r and activation rows tx + 16c (r, c < 4): 16 outputs from __dp4a on 16-byte
// shared loads. Groups past k, rows past n or m are zero-filled, so they add nothing.

#define QMM_TN 64
#define QMM_TM 64
#define QMM_KC 256
#define QMM_GROUPS (QMM_KC / 32)
#define QMM_THREADS 256
// Row pitch of the int8 tiles: 16 bytes of padding spread the 16-byte reads of 16 rows over
// all banks.
#define QMM_PITCH (QMM_KC + 16)

// Group G (of 32 weights) of a weight row, decoded to 32 centred int8 values and its scales.
template <int FORMAT>
__device__ __forceinline__ void qmm_decode_group(const unsigned char* row, i64 G, int* out, float4* scale) {
    if (FORMAT == QF_Q4_0 || FORMAT == QF_Q4_1) {
        const unsigned char* blk = row + G * (FORMAT == QF_Q4_0 ? 18 : 20);
        int head = FORMAT == QF_Q4_0 ? 2 : 4;
        float d = half_at(blk);
#pragma unroll
        for (int c = 0; c < 4; ++c) {
            unsigned int v = (unsigned int)load_i32_align2(blk + head + 4 * c);
            out[c] = (int)__vsub4(v & 0x0f0f0f0fu, 0x08080808u);
            out[4 + c] = (int)__vsub4((v >> 4) & 0x0f0f0f0fu, 0x08080808u);
        }
        float offset = FORMAT == QF_Q4_1 ? half_at(blk + 2) + 8.0f * d : 0.0f;
        *scale = make_float4(d, d, offset, 0.0f);
    } else if (FORMAT == QF_Q8_0) {
        const unsigned char* blk = row + G * 34;
        float d = half_at(blk);
#pragma unroll
        for (int c = 0; c < 8; ++c) out[c] = load_i32_align2(blk + 2 + 4 * c);
        *scale = make_float4(d, d, 0.0f, 0.0f);
    } else if (FORMAT == QF_Q4_K) {
        const unsigned char* blk = row + (G >> 3) * 144;
        int sub = (int)(G & 7);
        const unsigned int* head = (const unsigned int*)blk;
        float d = f16_to_f32((tl_f16)(head[0] & 0xffffu)), dmin = f16_to_f32((tl_f16)(head[0] >> 16));
        int sc, mn;
        q4k_scale_min(head[1], head[2], head[3], sub, &sc, &mn);
        const uint4* qs = (const uint4*)(blk + 16 + 32 * (sub >> 1));
        int shift = 4 * (sub & 1);
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            uint4 v = qs[h];
            out[4 * h + 0] = (int)__vsub4((v.x >> shift) & 0x0f0f0f0fu, 0x08080808u);
            out[4 * h + 1] = (int)__vsub4((v.y >> shift) & 0x0f0f0f0fu, 0x08080808u);
            out[4 * h + 2] = (int)__vsub4((v.z >> shift) & 0x0f0f0f0fu, 0x08080808u);
            out[4 * h + 3] = (int)__vsub4((v.w >> shift) & 0x0f0f0f0fu, 0x08080808u);
        }
        float ds = d * (float)sc;
        *scale = make_float4(ds, ds, 8.0f * ds - dmin * (float)mn, 0.0f);
    } else {
        const unsigned char* blk = row + (G >> 3) * 210;
        int g32 = (int)(G & 7), half = g32 >> 2, group = g32 & 3;
        const unsigned char* ql = blk + 64 * half + 32 * (group & 1);
        const unsigned char* qh = blk + 128 + 32 * half;
        int nibble = 4 * (group >> 1), bits = 2 * group;
#pragma unroll
        for (int c = 0; c < 8; ++c) {
            unsigned int low = ((unsigned int)load_i32_align2(ql + 4 * c) >> nibble) & 0x0f0f0f0fu;
            unsigned int high = ((unsigned int)load_i32_align2(qh + 4 * c) >> bits) & 0x03030303u;
            out[c] = (int)__vsub4(low | (high << 4), 0x20202020u);
        }
        float d = half_at(blk + 208);
        const signed char* scales = (const signed char*)(blk + 192);
        *scale = make_float4(d * (float)scales[2 * g32], d * (float)scales[2 * g32 + 1], 0.0f, 0.0f);
    }
}

template <int FORMAT>
__device__ __forceinline__ void qmm(const unsigned char* w, i64 w_offset, i64 w_stride, i64 n,
                                    const signed char* qs, const float4* ds, i64 m, i64 k, void* y, int dt) {
    constexpr bool HALVES = FORMAT == QF_Q6_K;  // two scales per group of 32
    constexpr bool OFFSET = FORMAT == QF_Q4_1 || FORMAT == QF_Q4_K;
    constexpr int BYTES = FORMAT == QF_Q4_0 ? 18
                        : FORMAT == QF_Q4_1 ? 20
                        : FORMAT == QF_Q8_0 ? 34
                        : FORMAT == QF_Q4_K ? 144
                                            : 210;
    __shared__ __align__(16) signed char w_tile[QMM_TN][QMM_PITCH];
    __shared__ __align__(16) signed char x_tile[QMM_TM][QMM_PITCH];
    __shared__ float4 w_scale[QMM_TN][QMM_GROUPS];
    __shared__ float2 x_scale[QMM_TM][QMM_GROUPS];

    int tid = threadIdx.x, ty = tid >> 4, tx = tid & 15;
    i64 groups = k / 32;
    i64 n0 = (i64)blockIdx.x * QMM_TN;
    for (i64 m0 = (i64)blockIdx.y * QMM_TM; m0 < m; m0 += (i64)gridDim.y * QMM_TM) {
        float acc[4][4];
#pragma unroll
        for (int r = 0; r < 4; ++r)
#pragma unroll
            for (int c = 0; c < 4; ++c) acc[r][c] = 0.0f;

        for (i64 c0 = 0; c0 < k; c0 += QMM_KC) {
            i64 g0 = c0 / 32;
            // Weights: 64 rows × 8 groups, two per thread; 8 neighbouring threads take one row.
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                int item = tid + h * QMM_THREADS;
                int r = item >> 3, g = item & 7;
                int values[8];
                float4 scale;
                if (n0 + r < n && g0 + g < groups) {
                    qmm_decode_group<FORMAT>(w + (w_offset + (n0 + r) * w_stride) * BYTES, g0 + g, values, &scale);
                } else {
#pragma unroll
                    for (int c = 0; c < 8; ++c) values[c] = 0;
                    scale = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
                }
                int4* dst = (int4*)&w_tile[r][32 * g];
                dst[0] = make_int4(values[0], values[1], values[2], values[3]);
                dst[1] = make_int4(values[4], values[5], values[6], values[7]);
                w_scale[r][g] = scale;
            }
            // Activations: 64 rows × 256 quants as 16-byte pieces, then {d, Σx} per group.
#pragma unroll
            for (int h = 0; h < 4; ++h) {
                int item = tid + h * QMM_THREADS;
                int r = item >> 4, piece = item & 15;
                int4 v = make_int4(0, 0, 0, 0);
                if (m0 + r < m && c0 + 16 * piece < k) v = *(const int4*)(qs + (m0 + r) * k + c0 + 16 * piece);
                *(int4*)&x_tile[r][16 * piece] = v;
            }
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                int item = tid + h * QMM_THREADS;
                int r = item >> 3, g = item & 7;
                float2 s = make_float2(0.0f, 0.0f);
                if (m0 + r < m && g0 + g < groups) {
                    float4 full = ds[(m0 + r) * groups + g0 + g];
                    s = make_float2(full.x, full.z);
                }
                x_scale[r][g] = s;
            }
            __syncthreads();

#pragma unroll 2
            for (int g = 0; g < QMM_GROUPS; ++g) {
                int4 wa[4], wb[4];
                float4 ws[4];
#pragma unroll
                for (int r = 0; r < 4; ++r) {
                    const int4* src = (const int4*)&w_tile[ty + 16 * r][32 * g];
                    wa[r] = src[0];
                    wb[r] = src[1];
                    ws[r] = w_scale[ty + 16 * r][g];
                }
#pragma unroll
                for (int c = 0; c < 4; ++c) {
                    const int4* src = (const int4*)&x_tile[tx + 16 * c][32 * g];
                    int4 xa = src[0], xb = src[1];
                    float2 xs = x_scale[tx + 16 * c][g];
#pragma unroll
                    for (int r = 0; r < 4; ++r) {
                        int lo = __dp4a(wa[r].x, xa.x, __dp4a(wa[r].y, xa.y, __dp4a(wa[r].z, xa.z, __dp4a(wa[r].w, xa.w, 0))));
                        int hi = __dp4a(wb[r].x, xb.x, __dp4a(wb[r].y, xb.y, __dp4a(wb[r].z, xb.z, __dp4a(wb[r].w, xb.w, 0))));
                        float v = HALVES ? ws[r].x * (float)lo + ws[r].y * (float)hi : ws[r].x * (float)(lo + hi);
                        acc[r][c] += xs.x * v;
                        if (OFFSET) acc[r][c] += ws[r].z * xs.y;
                    }
                }
            }
            __syncthreads();
        }
#pragma unroll
        for (int c = 0; c < 4; ++c) {
            i64 row = m0 + tx + 16 * c;
#pragma unroll
            for (int r = 0; r < 4; ++r) {
                i64 col = n0 + ty + 16 * r;
                if (row < m && col < n) store_f(y, dt, row * n + col, acc[r][c]);
            }
        }
    }
}

#define TL_QMM(NAME, FORMAT)                                                                          \
    extern "C" __global__ void __launch_bounds__(QMM_THREADS)                                         \
        NAME(const unsigned char* w, i64 w_offset, i64 w_stride, i64 n, const signed char* qs,        \
             const float4* ds, i64 m, i64 k, void* y, int dt) {                                        \
        tl_wait_then_allow_successor();                                                                \
        qmm<FORMAT>(w, w_offset, w_stride, n, qs, ds, m, k, y, dt);                                    \
    }

TL_QMM(tl_qmm_q4_0, QF_Q4_0)
TL_QMM(tl_qmm_q4_1, QF_Q4_1)
TL_QMM(tl_qmm_q8_0, QF_Q8_0)
TL_QMM(tl_qmm_q4_k, QF_Q4_K)
TL_QMM(tl_qmm_q6_k, QF_Q6_K)
