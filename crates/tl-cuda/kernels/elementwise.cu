// Elementwise kernels: unary, affine, binary, compare, where, with arbitrary strides and
// broadcasting (broadcast axes have stride 0 in the operand's Strided).
// Launch: 1-D grid-stride over the n output elements; the output is dense.
// Op codes are in step with src/ops/elementwise.rs.

#define U_NEG 0
#define U_ABS 1
#define U_EXP 2
#define U_LOG 3
#define U_SQRT 4
#define U_RSQRT 5
#define U_RECIP 6
#define U_SIN 7
#define U_COS 8
#define U_TANH 9
#define U_SIGMOID 10
#define U_RELU 11
#define U_GELU_ERF 12
#define U_GELU_TANH 13
#define U_SILU 14
#define U_STEP 15
#define U_SQUARE 16
#define U_FLOOR 17
#define U_CEIL 18
#define U_ROUND 19

__device__ __forceinline__ float unary_f(int op, float x) {
    switch (op) {
        case U_NEG: return -x;
        case U_ABS: return fabsf(x);
        case U_EXP: return expf(x);
        case U_LOG: return logf(x);
        case U_SQRT: return sqrtf(x);
        case U_RSQRT: return 1.0f / sqrtf(x);
        case U_RECIP: return 1.0f / x;
        case U_SIN: return sinf(x);
        case U_COS: return cosf(x);
        case U_TANH: return tanhf(x);
        case U_SIGMOID: return 1.0f / (1.0f + expf(-x));
        case U_RELU: return x > 0.0f ? x : (x != x ? x : 0.0f);
        // erfc keeps precision for large negative x, where 1 + erf(x) cancels to 0.
        case U_GELU_ERF: return 0.5f * x * erfcf(-x * 0.70710678118654752f);
        case U_GELU_TANH: {
            float inner = 0.79788456080286536f * (x + 0.044715f * x * x * x);
            return 0.5f * x * (1.0f + tanhf(inner));
        }
        case U_SILU: return x / (1.0f + expf(-x));
        case U_STEP: return x > 0.0f ? 1.0f : 0.0f;
        case U_SQUARE: return x * x;
        case U_FLOOR: return floorf(x);
        case U_CEIL: return ceilf(x);
        default: return rintf(x);  // U_ROUND: half to even
    }
}

__device__ __forceinline__ i64 unary_i(int op, i64 x) {
    switch (op) {
        case U_NEG: return (i64)(0ULL - (unsigned long long)x);
        case U_ABS: return x < 0 ? (i64)(0ULL - (unsigned long long)x) : x;
        case U_SQUARE: return (i64)((unsigned long long)x * (unsigned long long)x);
        default: return x > 0 ? x : 0;  // U_RELU
    }
}

extern "C" __global__ void tl_unary(int op, Strided a, const void* x, int dt, void* y, i64 n) {
    tl_wait_then_allow_successor();
    TL_GRID_LOOP(i, n) {
        i64 o = strided_offset(a, i);
        if (is_float_dtype(dt)) {
            store_f(y, dt, i, unary_f(op, load_f(x, dt, o)));
        } else {
            store_i(y, dt, i, unary_i(op, load_i(x, dt, o)));
        }
    }
}

extern "C" __global__ void tl_affine(Strided a, const void* x, int dt, void* y, float scale, float bias, i64 n) {
    tl_wait_then_allow_successor();
    TL_GRID_LOOP(i, n) { store_f(y, dt, i, fmaf(load_f(x, dt, strided_offset(a, i)), scale, bias)); }
}

#define B_ADD 0
#define B_SUB 1
#define B_MUL 2
#define B_DIV 3
#define B_POW 4
#define B_MAX 5
#define B_MIN 6

__device__ __forceinline__ float binary_f(int op, float a, float b) {
    switch (op) {
        case B_ADD: return a + b;
        case B_SUB: return a - b;
        case B_MUL: return a * b;
        case B_DIV: return a / b;
        case B_POW: return powf(a, b);
        case B_MAX: return (a != a || b != b) ? a + b : fmaxf(a, b);
        default: return (a != a || b != b) ? a + b : fminf(a, b);
    }
}

// Integer arithmetic wraps; division truncates toward zero and x / 0 is 0.
__device__ __forceinline__ i64 binary_i(int op, i64 a, i64 b) {
    unsigned long long ua = (unsigned long long)a, ub = (unsigned long long)b;
    switch (op) {
        case B_ADD: return (i64)(ua + ub);
        case B_SUB: return (i64)(ua - ub);
        case B_MUL: return (i64)(ua * ub);
        case B_DIV: return b == 0 ? 0 : (b == -1 ? (i64)(0ULL - ua) : a / b);
        case B_MAX: return a > b ? a : b;
        default: return a < b ? a : b;
    }
}

extern "C" __global__ void tl_binary(int op, Strided a, Strided b, const void* x, const void* z,
                                     int dt, void* y, i64 n) {
    tl_wait_then_allow_successor();
    TL_GRID_LOOP(i, n) {
        i64 oa = strided_offset(a, i), ob = strided_offset(b, i);
        if (is_float_dtype(dt)) {
            store_f(y, dt, i, binary_f(op, load_f(x, dt, oa), load_f(z, dt, ob)));
        } else {
            store_i(y, dt, i, binary_i(op, load_i(x, dt, oa), load_i(z, dt, ob)));
        }
    }
}

#define C_EQ 0
#define C_NE 1
#define C_LT 2
#define C_LE 3
#define C_GT 4
#define C_GE 5

template <typename T>
__device__ __forceinline__ bool compare_values(int op, T a, T b) {
    switch (op) {
        case C_EQ: return a == b;
        case C_NE: return a != b;
        case C_LT: return a < b;
        case C_LE: return a <= b;
        case C_GT: return a > b;
        default: return a >= b;
    }
}

extern "C" __global__ void tl_compare(int op, Strided a, Strided b, const void* x, const void* z,
                                      int dt, unsigned char* y, i64 n) {
    tl_wait_then_allow_successor();
    TL_GRID_LOOP(i, n) {
        i64 oa = strided_offset(a, i), ob = strided_offset(b, i);
        bool r;
        if (is_float_dtype(dt)) {
            r = compare_values<float>(op, load_f(x, dt, oa), load_f(z, dt, ob));
        } else if (dt == TL_BOOL) {
            r = compare_values<int>(op, load_i(x, dt, oa) != 0, load_i(z, dt, ob) != 0);
        } else {
            r = compare_values<i64>(op, load_i(x, dt, oa), load_i(z, dt, ob));
        }
        y[i] = r;
    }
}

// where copies raw element bits, so every dtype (and i64 beyond 2^53) is exact.
#define TL_WHERE(NAME, T) \
    extern "C" __global__ void NAME(Strided c, Strided a, Strided b, const unsigned char* cond, \
                                    const T* x, const T* z, T* y, i64 n) { \
        tl_wait_then_allow_successor(); \
        TL_GRID_LOOP(i, n) { \
            y[i] = cond[strided_offset(c, i)] ? x[strided_offset(a, i)] : z[strided_offset(b, i)]; \
        } \
    }

TL_WHERE(tl_where_u8, unsigned char)
TL_WHERE(tl_where_u16, unsigned short)
TL_WHERE(tl_where_u32, unsigned int)
TL_WHERE(tl_where_u64, unsigned long long)
