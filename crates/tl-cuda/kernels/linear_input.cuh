// The input of a fused `Linear` (one activation row: a decode step), computed by every block
// of the product for itself: x, rms_norm(x)·g or rms_norm(x + residual)·g, rounded to the
// dtype as the op defines. Redoing the norm in each block (a few KB read from L2) costs less
// than a kernel of its own, which the product would wait for. Prepended to matvec.cu and
// quant.cu.
//
// Every thread of the block must call linear_input_scale (it reduces across the block);
// `x`, `residual`, `norm_weight` and `sum` are dense rows of k elements of dtype `dt`.

#define LI_NONE 0
#define LI_RMS 1
#define LI_ADD_RMS 2

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
};

// Element i before the norm's scale: x_i, or the sum x_i + residual_i as stored.
__device__ __forceinline__ float linear_input_raw(const LinearInput& in, i64 i) {
    float v = load_f(in.x, in.dt, i);
    if (in.norm == LI_ADD_RMS) v = round_to(in.dt, v + load_f(in.residual, in.dt, i));
    return v;
}

// The norm's 1/sqrt(mean(v²) + eps) (1 without a norm), in every thread; the first block
// stores the sum.
__device__ float linear_input_scale(const LinearInput& in) {
    if (in.norm == LI_NONE) return 1.0f;
    __shared__ float warp_sums[32];
    const bool store_sum = in.norm == LI_ADD_RMS && blockIdx.x == 0 && blockIdx.y == 0;
    float ss = 0.0f;
    for (i64 i = threadIdx.x; i < in.k; i += blockDim.x) {
        float v = linear_input_raw(in, i);
        if (store_sum) store_f(in.sum, in.dt, i, v);
        ss += v * v;
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
    if ((threadIdx.x & 31) == 0) warp_sums[threadIdx.x >> 5] = ss;
    __syncthreads();
    float total = 0.0f;
    for (int w = 0; w < (int)(blockDim.x >> 5); ++w) total += warp_sums[w];
    return (float)(1.0 / sqrt((double)total / (double)in.k + in.eps));
}

// Element i of the input, rounded to the dtype.
__device__ __forceinline__ float linear_input_value(const LinearInput& in, i64 i, float scale) {
    float v = linear_input_raw(in, i);
    if (in.norm == LI_NONE) return v;
    return round_to(in.dt, v * scale * load_f(in.norm_weight, in.dt, i));
}

// silu(gate) · up of the two products, each rounded to the dtype first as the composed ops
// store them.
__device__ __forceinline__ float linear_gate(int dt, float gate, float up) {
    gate = round_to(dt, gate);
    return gate / (1.0f + expf(-gate)) * round_to(dt, up);
}
