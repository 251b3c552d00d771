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
//   {d, exact f32 sum, Σq (int bits), 0} into `ds` [rows * k/32].
// tl_qmv_<format>_r<NR>: the matrix-vector product over those activation blocks. Blocks
//   of 128 threads (4 warps); `split` warps (1, 2 or 4) share one weight row, so a block
//   covers 4/split rows; blockIdx.y walks tiles of NR activation rows, which all reuse the
//   weight quants a lane has loaded. Within a warp, L consecutive lanes share one weight
//   block (L = 2 for Q4_0/Q4_1, 4 for Q8_0, 16 for Q4_K/Q6_K), each taking 4 or 8 bytes of
//   quants, so one warp-wide load covers 256-288 contiguous bytes of the row. Integer dot
//   products use __dp4a; block scales apply in f32 per lane; lanes and then warps are summed
//   in a fixed order (shuffle butterfly, then shared memory by warp index): no atomics, so
//   results are bitwise reproducible for a given shape and device.

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

extern "C" __global__ void tl_quantize_activation(Strided src, const void* x, int dt, signed char* qs,
                                                  float4* ds, i64 n_blocks) {
    int lane = threadIdx.x & 31;
    i64 warp = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    i64 n_warps = ((i64)gridDim.x * blockDim.x) >> 5;
    for (i64 b = warp; b < n_blocks; b += n_warps) {
        float v = load_f(x, dt, strided_offset(src, b * 32 + lane));
        // The largest magnitude as bits: an integer max that, unlike fmaxf, keeps NaN.
        unsigned int amax_bits = __reduce_max_sync(0xffffffffu, __float_as_uint(v) & 0x7fffffffu);
        float sum = v;
        for (int width = 16; width > 0; width >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, width);
        int q = 0;
        float d;
        if (amax_bits >= 0x7f800000u) {
            // Infinity or NaN: a NaN scale poisons every dot product with this block.
            d = __int_as_float(0x7fc00000);
            sum = d;
        } else {
            d = __uint_as_float(amax_bits) / 127.0f;
            float id = d == 0.0f ? 0.0f : 1.0f / d;
            q = __float2int_rn(__fmul_rn(v, id));  // |q| <= 127
        }
        int qsum = __reduce_add_sync(0xffffffffu, q);
        qs[b * 32 + lane] = (signed char)q;
        if (lane == 0) ds[b] = make_float4(d, sum, __int_as_float(qsum), 0.0f);
    }
}

// ---- matrix-vector products ----
// Each `qmv_block_*` adds one lane's share of one weight block times NR activation rows to
// acc[]. `part` is the lane's index among the L lanes of its block; `xq[i]`/`xd[i]` are the
// quants and scales of activation row i; `b` is the block's index in the row.

template <int NR>
__device__ __forceinline__ void qmv_block_q4_0(const unsigned char* blk, int part, i64 b,
                                               const signed char* const* xq, const float4* const* xd,
                                               float* acc) {
    // f16 d; u8 qs[16]: this lane takes qs[8·part..+8], weights 8·part.. (low nibbles) and
    // 16 + 8·part.. (high nibbles).
    float d = half_at(blk);
    unsigned int w0 = load_i32_align2(blk + 2 + 8 * part), w1 = load_i32_align2(blk + 6 + 8 * part);
    int lo0 = w0 & 0x0f0f0f0f, lo1 = w1 & 0x0f0f0f0f;
    int hi0 = (w0 >> 4) & 0x0f0f0f0f, hi1 = (w1 >> 4) & 0x0f0f0f0f;
#pragma unroll
    for (int i = 0; i < NR; ++i) {
        const signed char* x = xq[i] + b * 32 + 8 * part;
        int2 xl = *(const int2*)x, xh = *(const int2*)(x + 16);
        float4 s = xd[i][b];
        int dot = __dp4a(lo0, xl.x, __dp4a(lo1, xl.y, __dp4a(hi0, xh.x, __dp4a(hi1, xh.y, 0))));
        // Σ (q − 8)·x: one lane of the block subtracts the offset for all 32.
        if (part == 0) dot -= 8 * __float_as_int(s.z);
        acc[i] += d * s.x * (float)dot;
    }
}

template <int NR>
__device__ __forceinline__ void qmv_block_q4_1(const unsigned char* blk, int part, i64 b,
                                               const signed char* const* xq, const float4* const* xd,
                                               float* acc) {
    // f16 d; f16 m; u8 qs[16] (20 bytes: every field 4-byte aligned). Σ (d·q + m)·x is
    // d·Σ (q − 8)·x + (m + 8d)·Σx: centred quants keep the activation rounding error small
    // and the offset meets the exact activation sum.
    unsigned int dm = *(const unsigned int*)blk;
    float d = f16_to_f32((tl_f16)(dm & 0xffffu)), m = f16_to_f32((tl_f16)(dm >> 16));
    unsigned int w0 = *(const unsigned int*)(blk + 4 + 8 * part);
    unsigned int w1 = *(const unsigned int*)(blk + 8 + 8 * part);
    int lo0 = w0 & 0x0f0f0f0f, lo1 = w1 & 0x0f0f0f0f;
    int hi0 = (w0 >> 4) & 0x0f0f0f0f, hi1 = (w1 >> 4) & 0x0f0f0f0f;
    float offset = m + 8.0f * d;
#pragma unroll
    for (int i = 0; i < NR; ++i) {
        const signed char* x = xq[i] + b * 32 + 8 * part;
        int2 xl = *(const int2*)x, xh = *(const int2*)(x + 16);
        float4 s = xd[i][b];
        int dot = __dp4a(lo0, xl.x, __dp4a(lo1, xl.y, __dp4a(hi0, xh.x, __dp4a(hi1, xh.y, 0))));
        float v;
        if (part == 0) {
            v = d * s.x * (float)(dot - 8 * __float_as_int(s.z)) + offset * s.y;
        } else {
            v = d * s.x * (float)dot;
        }
        acc[i] += v;
    }
}

template <int NR>
__device__ __forceinline__ void qmv_block_q8_0(const unsigned char* blk, int part, i64 b,
                                               const signed char* const* xq, const float4* const* xd,
                                               float* acc) {
    // f16 d; i8 qs[32]: this lane takes qs[8·part..+8].
    float d = half_at(blk);
    int w0 = load_i32_align2(blk + 2 + 8 * part), w1 = load_i32_align2(blk + 6 + 8 * part);
#pragma unroll
    for (int i = 0; i < NR; ++i) {
        int2 x = *(const int2*)(xq[i] + b * 32 + 8 * part);
        int dot = __dp4a(w0, x.x, __dp4a(w1, x.y, 0));
        acc[i] += d * xd[i][b].x * (float)dot;
    }
}

template <int NR>
__device__ __forceinline__ void qmv_block_q4_k(const unsigned char* blk, int part, i64 b,
                                               const signed char* const* xq, const float4* const* xd,
                                               float* acc) {
    // f16 d; f16 dmin; u8 scales[12]; u8 qs[128] (144 bytes: blocks stay 16-byte aligned).
    // Lane part = 4·pair + seg takes qs[32·pair + 8·seg..+8]: low nibbles belong to sub-block
    // 2·pair, high nibbles to 2·pair + 1, both at positions 8·seg..+8 of their 32.
    int pair = part >> 2, seg = part & 3;
    unsigned int dd = *(const unsigned int*)blk;
    float d = f16_to_f32((tl_f16)(dd & 0xffffu)), dmin = f16_to_f32((tl_f16)(dd >> 16));
    const unsigned int* packed = (const unsigned int*)(blk + 4);
    unsigned int s0 = packed[0], s1 = packed[1], s2 = packed[2];
    int sc_lo, m_lo, sc_hi, m_hi;
    q4k_scale_min(s0, s1, s2, 2 * pair, &sc_lo, &m_lo);
    q4k_scale_min(s0, s1, s2, 2 * pair + 1, &sc_hi, &m_hi);
    int2 w = *(const int2*)(blk + 16 + 32 * pair + 8 * seg);
    int lo0 = w.x & 0x0f0f0f0f, lo1 = w.y & 0x0f0f0f0f;
    int hi0 = ((unsigned int)w.x >> 4) & 0x0f0f0f0f, hi1 = ((unsigned int)w.y >> 4) & 0x0f0f0f0f;
    // Σ (d·sc·q − dmin·m)·x = d·sc·Σ (q − 8)·x + (8·d·sc − dmin·m)·Σx, per sub-block.
    float offset_lo = 8.0f * d * (float)sc_lo - dmin * (float)m_lo;
    float offset_hi = 8.0f * d * (float)sc_hi - dmin * (float)m_hi;
    i64 a_lo = 8 * b + 2 * pair, a_hi = a_lo + 1;
#pragma unroll
    for (int i = 0; i < NR; ++i) {
        int2 xl = *(const int2*)(xq[i] + a_lo * 32 + 8 * seg);
        int2 xh = *(const int2*)(xq[i] + a_hi * 32 + 8 * seg);
        float4 sl = xd[i][a_lo], sh = xd[i][a_hi];
        int dot_lo = __dp4a(lo0, xl.x, __dp4a(lo1, xl.y, 0));
        int dot_hi = __dp4a(hi0, xh.x, __dp4a(hi1, xh.y, 0));
        if (seg == 0) {
            dot_lo -= 8 * __float_as_int(sl.z);
            dot_hi -= 8 * __float_as_int(sh.z);
        }
        float v = d * (sl.x * (float)(sc_lo * dot_lo) + sh.x * (float)(sc_hi * dot_hi));
        if (seg == 0) v += offset_lo * sl.y + offset_hi * sh.y;
        acc[i] += v;
    }
}

template <int NR>
__device__ __forceinline__ void qmv_block_q6_k(const unsigned char* blk, int part, i64 b,
                                               const signed char* const* xq, const float4* const* xd,
                                               float* acc) {
    // u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d (210 bytes, 2-byte aligned). Lane part =
    // 8·half + pos takes positions l = 4·pos..+4 of its half: ql[64·half + l] (groups 0 and
    // 2: low and high nibble), ql[64·half + 32 + l] (groups 1 and 3) and qh[32·half + l]
    // (bit pairs 0-1, 2-3, 4-5, 6-7 for groups 0..3), i.e. 4 weights of each group of 32.
    int half = part >> 3, pos = part & 7;
    float d = half_at(blk + 208);
    unsigned int ql_a = load_i32_align2(blk + 64 * half + 4 * pos);
    unsigned int ql_b = load_i32_align2(blk + 64 * half + 32 + 4 * pos);
    unsigned int qh = load_i32_align2(blk + 128 + 32 * half + 4 * pos);
    int q[4];
    q[0] = (ql_a & 0x0f0f0f0f) | ((qh & 0x03030303) << 4);
    q[1] = (ql_b & 0x0f0f0f0f) | (((qh >> 2) & 0x03030303) << 4);
    q[2] = ((ql_a >> 4) & 0x0f0f0f0f) | (((qh >> 4) & 0x03030303) << 4);
    q[3] = ((ql_b >> 4) & 0x0f0f0f0f) | (((qh >> 6) & 0x03030303) << 4);
    // Weights 128·half + 32·g + l use scale (128·half + 32·g + l) / 16 = 8·half + 2·g + pos/4.
    const signed char* scales = (const signed char*)(blk + 192 + 8 * half + (pos >> 2));
    int sc[4];
#pragma unroll
    for (int g = 0; g < 4; ++g) sc[g] = scales[2 * g];
    i64 a0 = 8 * b + 4 * half;
#pragma unroll
    for (int i = 0; i < NR; ++i) {
        float sum = 0.0f;
#pragma unroll
        for (int g = 0; g < 4; ++g) {
            int x = *(const int*)(xq[i] + (a0 + g) * 32 + 4 * pos);
            // Σ (q − 32)·x for 6-bit q stored without sign.
            int dot = __dp4a(q[g], x, 0) - __dp4a(0x20202020, x, 0);
            sum += xd[i][a0 + g].x * (float)(sc[g] * dot);
        }
        acc[i] += d * sum;
    }
}

// One launch: weight rows `w_offset + j·w_stride` (in blocks) of `blocks_per_row` blocks;
// activation rows of `k` quants and k/32 scale entries; output y [m, n] dense.
template <int FORMAT, int NR>
__device__ __forceinline__ void qmv(const unsigned char* w, i64 w_offset, i64 w_stride, i64 n,
                                    i64 blocks_per_row, const signed char* qs, const float4* ds, i64 m,
                                    i64 k, void* y, int dt, int split) {
    // L lanes per weight block; blocks per warp pass.
    constexpr int L = (FORMAT == QF_Q4_0 || FORMAT == QF_Q4_1) ? 2 : (FORMAT == QF_Q8_0 ? 4 : 16);
    constexpr int PER_PASS = 32 / L;
    constexpr int BYTES = FORMAT == QF_Q4_0 ? 18
                        : FORMAT == QF_Q4_1 ? 20
                        : FORMAT == QF_Q8_0 ? 34
                        : FORMAT == QF_Q4_K ? 144
                                            : 210;
    // Unrolling puts several passes' loads in flight before their first use (the decode
    // path is bound by memory latency and bandwidth); tiles of rows are bound by arithmetic.
    constexpr int UNROLL = NR == 1 ? 4 : 1;
    __shared__ float partial[QMV_WARPS][NR];

    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int part = lane % L;
    i64 j = (i64)blockIdx.x * (QMV_WARPS / split) + warp / split;
    int share = warp % split;
    bool valid = j < n;
    const unsigned char* row = w + (w_offset + (valid ? j : 0) * w_stride) * BYTES;
    i64 act_blocks = k / 32;

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
        float acc[NR];
#pragma unroll
        for (int i = 0; i < NR; ++i) acc[i] = 0.0f;
        if (valid) {
#pragma unroll UNROLL
            for (i64 b = (i64)share * PER_PASS + lane / L; b < blocks_per_row; b += (i64)PER_PASS * split) {
                const unsigned char* blk = row + b * BYTES;
                if (FORMAT == QF_Q4_0) qmv_block_q4_0<NR>(blk, part, b, xq, xd, acc);
                if (FORMAT == QF_Q4_1) qmv_block_q4_1<NR>(blk, part, b, xq, xd, acc);
                if (FORMAT == QF_Q8_0) qmv_block_q8_0<NR>(blk, part, b, xq, xd, acc);
                if (FORMAT == QF_Q4_K) qmv_block_q4_k<NR>(blk, part, b, xq, xd, acc);
                if (FORMAT == QF_Q6_K) qmv_block_q6_k<NR>(blk, part, b, xq, xd, acc);
            }
        }
#pragma unroll
        for (int i = 0; i < NR; ++i) {
            for (int width = 16; width > 0; width >>= 1) acc[i] += __shfl_xor_sync(0xffffffffu, acc[i], width);
        }
        if (split > 1) {
            if (lane == 0) {
#pragma unroll
                for (int i = 0; i < NR; ++i) partial[warp][i] = acc[i];
            }
            __syncthreads();
            if (share == 0) {
                for (int s = 1; s < split; ++s) {
#pragma unroll
                    for (int i = 0; i < NR; ++i) acc[i] += partial[warp + s][i];
                }
            }
            __syncthreads();
        }
        // Lanes i < NR of the row's first warp store row tile·NR + i.
        if (valid && share == 0) {
#pragma unroll
            for (int i = 0; i < NR; ++i) {
                if (lane == i && tile * NR + i < m) store_f(y, dt, (tile * NR + i) * n + j, acc[i]);
            }
        }
    }
}

#define TL_QMV(NAME, FORMAT, NR)                                                                      \
    extern "C" __global__ void __launch_bounds__(QMV_THREADS)                                         \
        NAME(const unsigned char* w, i64 w_offset, i64 w_stride, i64 n, i64 blocks_per_row,           \
             const signed char* qs, const float4* ds, i64 m, i64 k, void* y, int dt, int split) {     \
        qmv<FORMAT, NR>(w, w_offset, w_stride, n, blocks_per_row, qs, ds, m, k, y, dt, split);         \
    }

#define TL_QMV_FORMAT(PREFIX, FORMAT) \
    TL_QMV(PREFIX##_r1, FORMAT, 1)    \
    TL_QMV(PREFIX##_r2, FORMAT, 2)    \
    TL_QMV(PREFIX##_r4, FORMAT, 4)    \
    TL_QMV(PREFIX##_r8, FORMAT, 8)

TL_QMV_FORMAT(tl_qmv_q4_0, QF_Q4_0)
TL_QMV_FORMAT(tl_qmv_q4_1, QF_Q4_1)
TL_QMV_FORMAT(tl_qmv_q8_0, QF_Q8_0)
TL_QMV_FORMAT(tl_qmv_q4_k, QF_Q4_K)
TL_QMV_FORMAT(tl_qmv_q6_k, QF_Q6_K)
