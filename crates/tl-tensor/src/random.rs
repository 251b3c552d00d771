//! The counter-based random generator shared by every backend.
//!
//! Element `i` of a tensor drawn with seed `s` depends only on `(s, i)`, so backends fill
//! tensors in parallel, in any order, and still agree value for value with the reference.

/// SplitMix64's finaliser: a bijective 64-bit mix.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// 24 random bits for counter `index` under `seed`.
pub fn bits24(seed: u64, index: u64) -> u32 {
    (mix64(seed ^ mix64(index.wrapping_add(0x9e37_79b9_7f4a_7c15))) >> 40) as u32
}

/// Uniform in `[0, 1)` with 24 bits of resolution (exactly representable in f32).
pub fn uniform01(seed: u64, index: u64) -> f64 {
    bits24(seed, index) as f64 / (1u64 << 24) as f64
}

/// Standard normal for element `index`, by Box–Muller over counters `2·index` and `2·index+1`.
pub fn standard_normal(seed: u64, index: u64) -> f64 {
    let u1 = (bits24(seed, index.wrapping_mul(2)) as f64 + 1.0) / (1u64 << 24) as f64;
    let u2 = uniform01(seed, index.wrapping_mul(2).wrapping_add(1));
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}
