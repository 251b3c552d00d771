// The input of a fused `Linear` (one activation row: a decode step), computed by every block
// of the product for itself: x, rms_norm(x)·g or rms_norm(x + residual)·g, rounded to the
// dtype as the op defines. Redoing the norm in each block (a few KB read from L2) costs less
// than a kernel of its own, which the product would wait for. Prepended to matvec.cu and
// quant.cu.
//
// A thread takes chunks of 8 consecutive elements (one 16-byte vector of f16/bf16, two of
// f32). The host checks that k is a multiple of 8 and that `x`, `residual`, `norm_weight`
// and `sum` (dense rows of k elements of dtype `dt`) are 16-byte aligned, and sizes the
// kernel's dynamic shared memory for linear_input's scratch.

#define LI_NONE 0
#define LI_RMS 1
#define LI_ADD_RMS 2
#define LI_CHUNK 8

// Mirrors `LinearInputArg` in src/ops/linear.rs.
struct LinearInput {
    const void* x;
    const void* residual;
    const void* norm_weight;
    void* sum;
    i64 k;
    double eps;
    int norm;
    int dt;
    // 1 when no kernel that may still run writes the residual or the norm weight: they are
    // requested before the wait (linear_input_early).
    int early;
};

__device__ __forceinline__ void li_unpack_halves(unsigned int word, int dt, float* f) {
    unsigned short lo = (unsigned short)(word & 0xffffu), hi = (unsigned short)(word >> 16);
    f[0] = dt == TL_F16 ? f16_to_f32(lo) : bf16_to_f32(lo);
    f[1] = dt == TL_F16 ? f16_to_f32(hi) : bf16_to_f32(hi);
}

// Chunk c of a dense row as stored: one 16-byte vector of f16/bf16 (`b` unused), two of f32.
struct LiRaw {
    uint4 a, b;
};

__device__ __forceinline__ LiRaw li_load_raw(const void* row, int dt, i64 c) {
    if (dt == TL_F32) {
        const uint4* p = (const uint4*)row + 2 * c;
        return LiRaw{p[0], p[1]};
    }
    return LiRaw{((const uint4*)row)[c], make_uint4(0u, 0u, 0u, 0u)};
}

// A raw chunk widened to f32.
__device__ __forceinline__ void li_unpack(const LiRaw& raw, int dt, float* f) {
    if (dt == TL_F32) {
        unsigned int w[8] = {raw.a.x, raw.a.y, raw.a.z, raw.a.w, raw.b.x, raw.b.y, raw.b.z, raw.b.w};
#pragma unroll
        for (int e = 0; e < 8; ++e) f[e] = __uint_as_float(w[e]);
    } else {
        unsigned int w[4] = {raw.a.x, raw.a.y, raw.a.z, raw.a.w};
#pragma unroll
        for (int h = 0; h < 4; ++h) li_unpack_halves(w[h], dt, f + 2 * h);
    }
}

// Chunk c of a dense row, widened to f32.
__device__ __forceinline__ void li_load_chunk(const void* row, int dt, i64 c, float* f) {
    li_unpack(li_load_raw(row, dt, c), dt, f);
}

__device__ __forceinline__ unsigned int li_pack_halves(int dt, float a, float b) {
    unsigned int lo = dt == TL_F16 ? f32_to_f16(a) : f32_to_bf16(a);
    unsigned int hi = dt == TL_F16 ? f32_to_f16(b) : f32_to_bf16(b);
    return lo | (hi << 16);
}

// Stores 8 values (already representable in the dtype) as chunk c of a dense row.
__device__ __forceinline__ void li_store_chunk(void* row, int dt, i64 c, const float* f) {
    if (dt == TL_F32) {
        uint4* p = (uint4*)row + 2 * c;
        p[0] = make_uint4(__float_as_uint(f[0]), __float_as_uint(f[1]), __float_as_uint(f[2]), __float_as_uint(f[3]));
        p[1] = make_uint4(__float_as_uint(f[4]), __float_as_uint(f[5]), __float_as_uint(f[6]), __float_as_uint(f[7]));
    } else {
        ((uint4*)row)[c] = make_uint4(li_pack_halves(dt, f[0], f[1]), li_pack_halves(dt, f[2], f[3]),
                                      li_pack_halves(dt, f[4], f[5]), li_pack_halves(dt, f[6], f[7]));
    }
}

// The block copies `bytes` (a multiple of 16) from 16-byte aligned global memory into shared
// memory, as one cp.async group.
__device__ __forceinline__ void li_copy_row(unsigned char* shared, const void* global, i64 bytes) {
    for (i64 at = 16 * (i64)threadIdx.x; at < bytes; at += 16 * (i64)blockDim.x) {
        copy_async_16(shared + at, (const unsigned char*)global + at);
    }
}

// Where linear_input copies each row into `scratch`: x, then the residual, then the weight.
struct LiRows {
    unsigned char *x, *residual, *weight;
    i64 bytes;
    bool norm, add;
};

__device__ __forceinline__ LiRows li_rows(const LinearInput& in, int dt, unsigned char* scratch) {
    const i64 bytes = in.k * (dt == TL_F32 ? 4 : 2);
    const bool norm = in.norm != LI_NONE, add = in.norm == LI_ADD_RMS;
    return LiRows{scratch, scratch + bytes, scratch + (add ? 2 : 1) * bytes, bytes, norm, add};
}

// Before the kernel waits for its predecessor: with `in.early`, requests the rows no running
// kernel writes (the residual and the norm weight), so that after the wait only x, just
// written and in L2, is still to come. Every thread of the block calls it.
template <int DT>
__device__ __forceinline__ void linear_input_early(const LinearInput& in, unsigned char* scratch) {
    if (!in.early) return;
    const LiRows rows = li_rows(in, DT >= 0 ? DT : in.dt, scratch);
    if (rows.add) li_copy_row(rows.residual, in.residual, rows.bytes);
    if (rows.norm) li_copy_row(rows.weight, in.norm_weight, rows.bytes);
    copy_async_commit();
}

// Computes the block's input and hands it over chunk by chunk: use(c, f, valid) with the 8
// values of chunk c rounded to the dtype. Every thread of the block calls it and every lane
// of a warp calls `use` the same number of times (`valid` false past the row), so that `use`
// may exchange values between lanes; `use` may overwrite chunk c of the row in `scratch`.
// The rows it reads (x, and for the norms the residual and the weight) first reach
// `scratch` (shared memory: k elements of the dtype each, one after the other, 16-byte
// aligned) by cp.async, all requested at once (with `in.early`, the residual and the weight
// already by linear_input_early), so the block waits for one latency and holds nothing in
// registers meanwhile; this waits for every cp.async group of the thread. DT is
// the dtype when the kernel knows it, -1 to read `in.dt`.
// PENDING >= 0: the caller's PENDING newest cp.async groups (weights it staged after
// linear_input_early's group) stay in flight. x then comes by plain loads, two chunks a
// thread in flight, since a copy group of its own would be the newest and waiting for it
// would wait for the weights too; the residual and the weight still come by cp.async, from
// linear_input_early's group when `in.early` (else this waits for every group as above).
template <int DT, int PENDING = -1, class Use>
__device__ __forceinline__ void linear_input(const LinearInput& in, unsigned char* scratch, Use use) {
    const int dt = DT >= 0 ? DT : in.dt;
    const i64 chunks = in.k / LI_CHUNK;
    const LiRows rows = li_rows(in, dt, scratch);
    const bool norm = rows.norm, add = rows.add;
    unsigned char* x = rows.x;
    unsigned char* residual = rows.residual;
    unsigned char* weight = rows.weight;
    const bool direct = PENDING >= 0;
    LiRaw next = {make_uint4(0u, 0u, 0u, 0u), make_uint4(0u, 0u, 0u, 0u)};
    if (direct && threadIdx.x < chunks) next = li_load_raw(in.x, dt, threadIdx.x);
    if (!direct) li_copy_row(x, in.x, rows.bytes);
    if (add && !in.early) li_copy_row(residual, in.residual, rows.bytes);
    if (norm && !in.early) li_copy_row(weight, in.norm_weight, rows.bytes);
    copy_async_commit();
    if (direct && (in.early || !norm)) {
        copy_async_wait<(PENDING > 0 ? PENDING : 0) + 1>();
    } else {
        copy_async_wait<0>();
    }
    __syncthreads();
    // Normalised is the sum as stored, rounded to the dtype; the first block stores it.
    const bool store_sum = add && blockIdx.x == 0 && blockIdx.y == 0;
    float ss = 0.0f;
    for (i64 base = 0; base < chunks; base += blockDim.x) {
        const i64 c = base + threadIdx.x;
        const bool valid = c < chunks;
        const LiRaw here = next;
        if (direct && c + blockDim.x < chunks) next = li_load_raw(in.x, dt, c + blockDim.x);
        float f[LI_CHUNK] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
        if (valid) {
            li_unpack(direct ? here : li_load_raw(x, dt, c), dt, f);
            if (add) {
                float r[LI_CHUNK];
                li_load_chunk(residual, dt, c, r);
#pragma unroll
                for (int e = 0; e < LI_CHUNK; ++e) f[e] = round_to(dt, f[e] + r[e]);
                if (store_sum) li_store_chunk(in.sum, dt, c, f);
            }
            // The norm's second pass reads x (or the sum) from here.
            if (add || (direct && norm)) li_store_chunk(x, dt, c, f);
#pragma unroll
            for (int e = 0; e < LI_CHUNK; ++e) ss += f[e] * f[e];
        }
        if (!norm) use(c, f, valid);
    }
    if (!norm) return;
    __shared__ float warp_sums[32];
    ss = warp_sum(ss);
    if ((threadIdx.x & 31) == 0) warp_sums[threadIdx.x >> 5] = ss;
    __syncthreads();
    // Every warp adds the warps' sums up itself, by shuffles rather than a serial chain of
    // shared loads; the lanes' order is the same in each, so is the total.
    const int lane = threadIdx.x & 31;
    const float total = warp_sum(lane < (int)(blockDim.x >> 5) ? warp_sums[lane] : 0.0f);
    const float scale = norm_scale((double)total / (double)in.k + in.eps);
    for (i64 base = 0; base < chunks; base += blockDim.x) {
        const i64 c = base + threadIdx.x;
        const bool valid = c < chunks;
        float f[LI_CHUNK] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
        if (valid) {
            float g[LI_CHUNK];
            li_load_chunk(x, dt, c, f);
            li_load_chunk(weight, dt, c, g);
#pragma unroll
            for (int e = 0; e < LI_CHUNK; ++e) f[e] = round_to(dt, f[e] * scale * g[e]);
        }
        use(c, f, valid);
    }
}

// silu(gate) · up of the two products, each rounded to the dtype first as the composed ops
// store them.
__device__ __forceinline__ float linear_gate(int dt, float gate, float up) {
    gate = round_to(dt, gate);
    return gate / (1.0f + expf(-gate)) * round_to(dt, up);
}
