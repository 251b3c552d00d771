//! Branch-free f32 approximations of the transcendental functions elementwise kernels use.
//!
//! `std`'s `f32::exp` and friends are calls into libm, one element at a time; these are plain
//! arithmetic and selects, so loops over slices that call them vectorise. Each is accurate to
//! a few ulp (checked against f64 in the conformance suite and the tests below) and handles
//! NaN, ±∞, overflow and underflow like the exact function.

use std::f32::consts::{FRAC_1_SQRT_2, LOG2_E};

/// Adding then subtracting 1.5·2²³ rounds an f32 of magnitude below 2²² to an integer (ties
/// to even, the default rounding mode); the integer also sits in the low mantissa bits.
const ROUND_MAGIC: f32 = 12_582_912.0;
/// 2²³: every f32 at least this large is an integer.
const INTEGRAL: f32 = 8_388_608.0;

/// ln 2 split so that `n · LN2_HI` is exact for the |n| ≤ 150 that occur.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;

/// `eʳ` for |r| ≤ ln2/2 (Cephes `expf` polynomial).
#[inline(always)]
fn exp_reduced(r: f32) -> f32 {
    let mut p = 1.987_569_1e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 5e-1;
    p * r * r + r + 1.0
}

/// `e · 2ⁿ`, with `n` held in the low mantissa bits of `shifted` (see [`ROUND_MAGIC`]).
/// 2ⁿ is built from exponent bits in two factors, so that n ∈ [-150, 129] (subnormal and
/// overflowing results) never needs an exponent field outside the normal range.
#[inline(always)]
fn scale_by_power_of_two(e: f32, shifted: f32) -> f32 {
    let k = (shifted.to_bits() as i32).wrapping_sub(ROUND_MAGIC.to_bits() as i32);
    let k1 = k >> 1;
    let k2 = k.wrapping_sub(k1);
    let scale1 = f32::from_bits((k1.wrapping_add(127) as u32) << 23);
    let scale2 = f32::from_bits((k2.wrapping_add(127) as u32) << 23);
    e * scale1 * scale2
}

/// `eˣ` (~1 ulp).
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    // Below -104 the result rounds to 0 and above 89 to ∞; clamping keeps n in range. NaN
    // passes through `clamp` and on to a NaN result.
    let x = x.clamp(-104.0, 89.0);
    let shifted = x * LOG2_E + ROUND_MAGIC;
    let n = shifted - ROUND_MAGIC;
    let r = x - n * LN2_HI - n * LN2_LO;
    scale_by_power_of_two(exp_reduced(r), shifted)
}

/// `e^(hi + lo)` without rounding `hi + lo` first, for `hi` whose difference from a
/// multiple of `LN2_HI` is exact (few significant bits) and `hi + lo` in [-104, 88].
#[inline(always)]
fn exp_of_sum(hi: f32, lo: f32) -> f32 {
    let shifted = (hi + lo) * LOG2_E + ROUND_MAGIC;
    let n = shifted - ROUND_MAGIC;
    let r = (hi - n * LN2_HI) + lo - n * LN2_LO;
    scale_by_power_of_two(exp_reduced(r), shifted)
}

/// The natural logarithm (Cephes `logf`, ~1 ulp), subnormals included.
#[inline(always)]
pub(crate) fn ln(x: f32) -> f32 {
    // Subnormals are scaled by 2²³ into the normal range, and the exponent corrected.
    let subnormal = x < f32::MIN_POSITIVE;
    let scaled = if subnormal { x * INTEGRAL } else { x };
    let bits = scaled.to_bits() as i32;
    let correction = if subnormal { 23 } else { 0 };
    // x = m · 2^e with m in [0.5, 1), then folded into [√½, √2) around 1.
    let e = ((bits >> 23) & 0xff) - 126 - correction;
    let m = f32::from_bits(((bits & 0x007f_ffff) | 0x3f00_0000) as u32);
    let below = m < FRAC_1_SQRT_2;
    let e = (if below { e - 1 } else { e }) as f32;
    let m = if below { m + m - 1.0 } else { m - 1.0 };
    let z = m * m;
    let mut p = 7.037_683_6e-2;
    p = p * m - 1.151_461e-1;
    p = p * m + 1.167_699_9e-1;
    p = p * m - 1.242_014_1e-1;
    p = p * m + 1.424_932_3e-1;
    p = p * m - 1.666_805_8e-1;
    p = p * m + 2.000_071_4e-1;
    p = p * m - 2.499_999_4e-1;
    p = p * m + 3.333_333e-1;
    let y = p * m * z + e * LN2_LO - 0.5 * z;
    let result = m + y + e * LN2_HI;
    if x == f32::INFINITY {
        x
    } else if x > 0.0 {
        result
    } else if x == 0.0 {
        f32::NEG_INFINITY
    } else {
        // Negative or NaN.
        f32::NAN
    }
}

/// `1 / (1 + e⁻ˣ)`.
#[inline(always)]
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// `x · sigmoid(x)`.
#[inline(always)]
pub(crate) fn silu(x: f32) -> f32 {
    x / (1.0 + exp(-x))
}

/// `tanh x`: an odd polynomial near 0 (Cephes `tanhf`), `1 − 2/(e²ˣ + 1)` elsewhere.
#[inline(always)]
pub(crate) fn tanh(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let mut p = -5.704_988_7e-3;
    p = p * z + 2.063_909e-2;
    p = p * z - 5.373_971_6e-2;
    p = p * z + 1.333_144_2e-1;
    p = p * z - 3.333_328e-1;
    let small = p * z * x + x;
    let large = (1.0 - 2.0 / (exp(2.0 * a) + 1.0)).copysign(x);
    if a < 0.625 {
        small
    } else {
        large
    }
}

/// The complementary error function: Numerical Recipes' Chebyshev fit `t·exp(−z² + P(t))`
/// (fractional error below 1.2e-7), so the tails of Φ keep their relative accuracy.
#[inline(always)]
pub(crate) fn erfc(w: f32) -> f32 {
    // Beyond 10 the result is below the smallest f32; the cap also keeps ∞ out of the
    // arithmetic below (NaN passes through).
    let z = if w.abs() > 10.0 { 10.0 } else { w.abs() };
    let t = 1.0 / (1.0 + 0.5 * z);
    let mut p = 0.170_872_77;
    p = p * t - 0.822_152_23;
    p = p * t + 1.488_515_9;
    p = p * t - 1.135_204;
    p = p * t + 0.278_868_07;
    p = p * t - 0.186_288_06;
    p = p * t + 0.096_784_18;
    p = p * t + 0.374_091_96;
    p = p * t + 1.000_023_7;
    p = p * t - 1.265_512_2;
    // exp(−z² + p) would lose relative accuracy ~z²·ε if −z² were rounded; with `high`
    // keeping 12 significant bits, high² is exact and −z² = −high² + (high − z)(high + z)
    // splits into an exact part and a small one, which `exp_of_sum` never adds up.
    let high = f32::from_bits(z.to_bits() & 0xffff_f000);
    let tail = t * exp_of_sum(-(high * high), (high - z) * (high + z) + p);
    if w < 0.0 {
        2.0 - tail
    } else {
        tail
    }
}

/// `x · Φ(x)` with `Φ(x) = erfc(−x/√2) / 2`.
#[inline(always)]
pub(crate) fn gelu_erf(x: f32) -> f32 {
    0.5 * x * erfc(-x * FRAC_1_SQRT_2)
}

/// `0.5·x·(1 + tanh(u))` with `u = √(2/π)·(x + 0.044715·x³)`, evaluated as the identical
/// `x · sigmoid(2u)`, which does not cancel for negative `x`.
#[inline(always)]
pub(crate) fn gelu_tanh(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    let u = SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x);
    x / (1.0 + exp(-2.0 * u))
}

/// Rounds half to even (the default IEEE rounding of the magic-number addition).
#[inline(always)]
pub(crate) fn round_half_even(x: f32) -> f32 {
    let a = x.abs();
    let rounded = ((a + INTEGRAL) - INTEGRAL).copysign(x);
    if a < INTEGRAL {
        rounded
    } else {
        x
    }
}

#[inline(always)]
pub(crate) fn floor(x: f32) -> f32 {
    let r = round_half_even(x);
    if r > x {
        r - 1.0
    } else {
        r
    }
}

#[inline(always)]
pub(crate) fn ceil(x: f32) -> f32 {
    let r = round_half_even(x);
    if r < x {
        r + 1.0
    } else {
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative error against the f64 function (absolute below `floor`).
    fn worst(f: impl Fn(f32) -> f32, exact: impl Fn(f64) -> f64, lo: f32, hi: f32) -> f64 {
        let steps = 200_000;
        (0..=steps)
            .map(|i| {
                let x = lo + (hi - lo) * i as f32 / steps as f32;
                let (got, want) = (f(x) as f64, exact(x as f64));
                (got - want).abs() / want.abs().max(1e-30)
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn exp_is_accurate_over_the_normal_range() {
        assert!(worst(exp, f64::exp, -87.0, 88.7) < 5e-7);
    }

    #[test]
    fn exp_limits() {
        assert_eq!(exp(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(89.0), f32::INFINITY);
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(f32::NAN).is_nan());
        // Subnormal results keep their value (within their reduced precision).
        let tiny = exp(-100.0) as f64;
        assert!((tiny - (-100f64).exp()).abs() < 1e-44);
    }

    #[test]
    fn ln_is_accurate_everywhere() {
        assert!(worst(ln, f64::ln, 1e-3, 10.0) < 3e-7);
        assert!(worst(ln, f64::ln, 10.0, 1e6) < 3e-7);
        for x in [
            1e-45f32,
            3e-42,
            1e-38,
            f32::MIN_POSITIVE,
            0.5,
            2.0,
            1e30,
            f32::MAX,
        ] {
            let (got, want) = (ln(x) as f64, (x as f64).ln());
            assert!((got - want).abs() <= 3e-7 * want.abs().max(1.0), "{x:e}");
        }
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(ln(0.0), f32::NEG_INFINITY);
        assert_eq!(ln(-0.0), f32::NEG_INFINITY);
        assert_eq!(ln(f32::INFINITY), f32::INFINITY);
        assert!(ln(-1.0).is_nan());
        assert!(ln(f32::NAN).is_nan());
    }

    #[test]
    fn tanh_is_accurate() {
        assert!(worst(tanh, f64::tanh, -12.0, 12.0) < 5e-7);
        assert_eq!(tanh(f32::INFINITY), 1.0);
        assert_eq!(tanh(f32::NEG_INFINITY), -1.0);
        assert!(tanh(f32::NAN).is_nan());
    }

    #[test]
    fn erfc_has_small_fractional_error() {
        // libm's f64 erfc is the independent reference.
        assert!(worst(erfc, libm::erfc, -4.0, 9.0) < 1e-6);
        assert!(erfc(f32::INFINITY) < 1e-44);
        assert_eq!(erfc(f32::NEG_INFINITY), 2.0);
        assert!(erfc(f32::NAN).is_nan());
    }

    #[test]
    fn rounding_functions_match_std() {
        for i in -4000..4000 {
            let x = i as f32 * 0.25 + if i % 3 == 0 { 0.1 } else { 0.0 };
            assert_eq!(round_half_even(x), x.round_ties_even(), "{x}");
            assert_eq!(floor(x), x.floor(), "{x}");
            assert_eq!(ceil(x), x.ceil(), "{x}");
        }
        for x in [1e10f32, -3e9, f32::INFINITY, f32::NEG_INFINITY, 8388607.5] {
            assert_eq!(round_half_even(x), x.round_ties_even());
            assert_eq!(floor(x), x.floor());
            assert_eq!(ceil(x), x.ceil());
        }
        assert!(round_half_even(f32::NAN).is_nan());
    }
}
