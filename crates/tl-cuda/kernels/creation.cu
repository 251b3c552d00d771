// Creation kernels: full, arange, rand_uniform, rand_normal.
// Launch: 1-D grid-stride over the n output elements; any grid size is correct.
// The random generator is the counter-based one of tl-tensor's random.rs, bit for bit:
// element i of seed s depends only on (s, i).

__device__ __forceinline__ unsigned long long tl_mix64(unsigned long long z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

__device__ __forceinline__ double tl_bits24(unsigned long long seed, unsigned long long index) {
    return (double)(unsigned int)(tl_mix64(seed ^ tl_mix64(index + 0x9e3779b97f4a7c15ULL)) >> 40);
}

extern "C" __global__ void tl_full(void* y, int dt, double value, i64 n) {
    tl_wait_then_allow_successor();
    TL_GRID_LOOP(i, n) { store_d(y, dt, i, value); }
}

extern "C" __global__ void tl_arange(void* y, int dt, double start, double step, i64 n) {
    tl_wait_then_allow_successor();
    TL_GRID_LOOP(i, n) { store_d(y, dt, i, start + (double)i * step); }
}

extern "C" __global__ void tl_rand_uniform(void* y, int dt, double low, double high,
                                           unsigned long long seed, i64 n) {
    tl_wait_then_allow_successor();
    TL_GRID_LOOP(i, n) {
        double u = tl_bits24(seed, (unsigned long long)i) / 16777216.0;
        store_d(y, dt, i, low + (high - low) * u);
    }
}

extern "C" __global__ void tl_rand_normal(void* y, int dt, double mean, double std_dev,
                                          unsigned long long seed, i64 n) {
    tl_wait_then_allow_successor();
    TL_GRID_LOOP(i, n) {
        unsigned long long k = (unsigned long long)i * 2ULL;
        double u1 = (tl_bits24(seed, k) + 1.0) / 16777216.0;
        double u2 = tl_bits24(seed, k + 1ULL) / 16777216.0;
        double z = sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
        store_d(y, dt, i, mean + std_dev * z);
    }
}
