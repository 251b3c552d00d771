//! Activation rows quantized to Q8-style blocks once per matmul, so every weight block is
//! combined with them by integer dot products.

/// Activation values per [`ActivationBlock`].
pub const ACTIVATION_BLOCK: usize = 32;

/// 32 activations as `d · qs[j]`. Unlike ggml's Q8_0/Q8_1 the scale stays f32 (it never
/// leaves memory, so there is no reason to round it to f16). `qsum = Σ qs` removes the
/// offset of nibble formats in integer arithmetic; `sum` is the exact f32 sum of the 32
/// activations, for the weight formats with a min term: their offset times `sum` carries
/// no activation rounding error at all.
#[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct ActivationBlock {
    pub qs: [i8; ACTIVATION_BLOCK],
    pub d: f32,
    pub qsum: i32,
    pub sum: f32,
}

/// Quantizes `x` (a whole number of 32-blocks) into `out` (`x.len() / 32` blocks): scale
/// `amax / 127`, quants rounded to nearest. Non-finite inputs give a non-finite scale, so
/// they still poison the results as they would in float arithmetic.
pub fn quantize_activation(x: &[f32], out: &mut [ActivationBlock]) {
    // Plain float arithmetic without reassociation, so the wider builds give the same bits.
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bw") {
            // SAFETY: the CPU was just checked for AVX-512 F and BW.
            unsafe { quantize_activation_avx512(x, out) };
            return;
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU was just checked for AVX2.
            unsafe { quantize_activation_avx2(x, out) };
            return;
        }
    }
    quantize_activation_portable(x, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn quantize_activation_avx512(x: &[f32], out: &mut [ActivationBlock]) {
    quantize_activation_portable(x, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn quantize_activation_avx2(x: &[f32], out: &mut [ActivationBlock]) {
    quantize_activation_portable(x, out)
}

#[inline(always)]
fn quantize_activation_portable(x: &[f32], out: &mut [ActivationBlock]) {
    for (values, block) in x.chunks_exact(ACTIVATION_BLOCK).zip(out.iter_mut()) {
        let values: &[f32; ACTIVATION_BLOCK] = values.try_into().expect("chunks of 32");
        *block = quantize_block(values);
    }
}

#[inline(always)]
fn quantize_block(values: &[f32; ACTIVATION_BLOCK]) -> ActivationBlock {
    // The largest magnitude as bits: integer max vectorises, and unlike `f32::max` it does
    // not skip NaN (whose bits exceed infinity's).
    let amax_bits = values
        .iter()
        .fold(0u32, |m, v| m.max(v.to_bits() & 0x7fff_ffff));
    if amax_bits >= f32::INFINITY.to_bits() {
        return ActivationBlock {
            qs: [0; ACTIVATION_BLOCK],
            d: f32::NAN,
            qsum: 0,
            sum: f32::NAN,
        };
    }
    let d = f32::from_bits(amax_bits) / 127.0;
    let id = if d == 0.0 { 0.0 } else { 1.0 / d };
    let mut qs = [0i8; ACTIVATION_BLOCK];
    // Adding and subtracting 1.5·2^23 rounds to nearest (ties to even) for |v| < 2^22, in two
    // plain float ops that vectorise (`round` is a libm call on baseline x86-64). |v·id| ≤
    // 127 (plus rounding), so the conversion never saturates.
    const ROUNDER: f32 = 12_582_912.0;
    if id.is_finite() {
        for (q, &v) in qs.iter_mut().zip(values) {
            *q = ((v * id + ROUNDER) - ROUNDER) as i8;
        }
    } else {
        // Magnitudes below ~4e-37: 1/d overflows, so divide (exact enough, and rare).
        for (q, &v) in qs.iter_mut().zip(values) {
            *q = ((v / d + ROUNDER) - ROUNDER) as i8;
        }
    }
    let qsum = qs.iter().map(|&q| q as i32).sum();
    let sum = values.iter().sum();
    ActivationBlock { qs, d, qsum, sum }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The run-time-chosen build quantizes exactly as the plain code does.
    #[test]
    fn every_build_quantizes_identically() {
        let mut x: Vec<f32> = (0..32 * 41)
            .map(|i| ((i * 7919 % 1000) as f32 - 500.0) * 0.0137)
            .collect();
        x[3] = 1e-39; // a block of tiny values where 1/d overflows
        for v in &mut x[64..96] {
            *v *= 1e-38;
        }
        x[200] = f32::NAN;
        let blocks = x.len() / ACTIVATION_BLOCK;
        let mut dispatched = vec![ActivationBlock::default(); blocks];
        let mut portable = vec![ActivationBlock::default(); blocks];
        quantize_activation(&x, &mut dispatched);
        quantize_activation_portable(&x, &mut portable);
        for (a, b) in dispatched.iter().zip(&portable) {
            assert_eq!(a.qs, b.qs);
            assert_eq!(a.qsum, b.qsum);
            assert_eq!(a.d.to_bits(), b.d.to_bits());
            assert_eq!(a.sum.to_bits(), b.sum.to_bits());
        }
    }
}
