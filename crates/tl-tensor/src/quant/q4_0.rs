//! Q4_0: 32 weights as `d · (q − 8)` with 4-bit `q`; 18 bytes `f16 d; u8 qs[16]`, weight
//! `j` in the low nibble of `qs[j]` and weight `j + 16` in its high nibble.

use super::{dot32, f16_to_f32, f32_to_f16, unpack_nibbles};
use super::{paired_rows_and_tiles, ActivationBlock, EncodeBlock, QuantBlock, Simd};
use crate::DType;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct BlockQ4_0 {
    pub d: [u8; 2],
    pub qs: [u8; 16],
}

impl QuantBlock for BlockQ4_0 {
    const DTYPE: DType = DType::Q4_0;
    const WEIGHTS: usize = 32;

    #[inline(always)]
    fn decode(&self, out: &mut [f32]) {
        let d = f16_to_f32(self.d);
        let (low, high) = out[..32].split_at_mut(16);
        for ((l, h), &q) in low.iter_mut().zip(high.iter_mut()).zip(&self.qs) {
            *l = ((q & 15) as i32 - 8) as f32 * d;
            *h = ((q >> 4) as i32 - 8) as f32 * d;
        }
    }

    #[inline(always)]
    fn dot(&self, x: &[ActivationBlock]) -> f32 {
        let x = &x[0];
        // Σ (q − 8)·x = Σ q·x − 8·Σ x: the offset costs one multiply per block.
        let sum = dot32(&unpack_nibbles(&self.qs), &x.qs) - 8 * x.qsum;
        f16_to_f32(self.d) * x.d * sum as f32
    }

    #[inline]
    fn dot_row(simd: Simd, w: &[Self], x: &[ActivationBlock]) -> f32 {
        #[cfg(target_arch = "x86_64")]
        if simd != Simd::Portable && Simd::Avx2.available() {
            // SAFETY: the CPU supports AVX2, FMA and F16C (checked just above).
            return unsafe { avx2::dot_row(w, x) };
        }
        let _ = simd;
        super::dot_row_portable(w, x)
    }

    paired_rows_and_tiles!();
}

impl EncodeBlock for BlockQ4_0 {
    fn encode(x: &[f32; 32]) -> Self {
        // ggml keeps the signed value of largest magnitude (the first one on ties) and maps
        // it to -8, so the full range [-8, 7] is used on the side where it matters.
        let (mut amax, mut max) = (0.0f32, 0.0f32);
        for &v in x {
            if amax < v.abs() {
                amax = v.abs();
                max = v;
            }
        }
        let d = max / -8.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        let quant = |v: f32| ((v * id + 8.5) as i8).clamp(0, 15) as u8;
        let mut qs = [0u8; 16];
        for (j, q) in qs.iter_mut().enumerate() {
            *q = quant(x[j]) | (quant(x[j + 16]) << 4);
        }
        BlockQ4_0 {
            d: f32_to_f16(d),
            qs,
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::BlockQ4_0;
    use crate::quant::x86::{dot_u8_i8, f16_splat, fold_two_chains, hsum, load_i8, nibbles};
    use crate::quant::ActivationBlock;

    /// One block's contribution, accumulated into `acc`.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn block(acc: __m256, w: &BlockQ4_0, x: &ActivationBlock) -> __m256 {
        // Nibbles (0..15) times activations (|x| ≤ 127): pair sums ≤ 3810, no saturation.
        let products = dot_u8_i8(nibbles(&w.qs), load_i8(&x.qs));
        // Subtracting Σx from each of the 8 lanes removes the 8·Σx offset in total.
        let products = _mm256_sub_epi32(products, _mm256_set1_epi32(x.qsum));
        let scale = _mm256_mul_ps(f16_splat(w.d), _mm256_set1_ps(x.d));
        _mm256_fmadd_ps(_mm256_cvtepi32_ps(products), scale, acc)
    }

    /// # Safety
    /// The CPU must support AVX2, FMA and F16C.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn dot_row(w: &[BlockQ4_0], x: &[ActivationBlock]) -> f32 {
        let (acc0, acc1) = fold_two_chains!(block, _mm256_setzero_ps(), w, x);
        hsum(_mm256_add_ps(acc0, acc1))
    }

    /// [`dot_row`] over consecutive weight rows.
    ///
    /// # Safety
    /// The CPU must support AVX2, FMA and F16C.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn dot_rows(w: &[BlockQ4_0], x: &[ActivationBlock], out: &mut [f32]) {
        for (o, row) in crate::quant::row_runs(w, x, out) {
            *o = dot_row(row, x);
        }
    }
}
