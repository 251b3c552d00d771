//! Q4_1: 32 weights as `d · q + m` with 4-bit `q`; 20 bytes `f16 d; f16 m; u8 qs[16]`,
//! weight `j` in the low nibble of `qs[j]` and weight `j + 16` in its high nibble.

use super::{dot32, f16_to_f32, f32_to_f16, unpack_nibbles};
use super::{paired_rows_and_tiles, ActivationBlock, EncodeBlock, QuantBlock, Simd};
use crate::DType;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct BlockQ4_1 {
    pub d: [u8; 2],
    pub m: [u8; 2],
    pub qs: [u8; 16],
}

impl QuantBlock for BlockQ4_1 {
    const DTYPE: DType = DType::Q4_1;
    const WEIGHTS: usize = 32;

    #[inline(always)]
    fn decode(&self, out: &mut [f32]) {
        let (d, m) = (f16_to_f32(self.d), f16_to_f32(self.m));
        let (low, high) = out[..32].split_at_mut(16);
        for ((l, h), &q) in low.iter_mut().zip(high.iter_mut()).zip(&self.qs) {
            *l = (q & 15) as f32 * d + m;
            *h = (q >> 4) as f32 * d + m;
        }
    }

    #[inline(always)]
    fn dot(&self, x: &[ActivationBlock]) -> f32 {
        let x = &x[0];
        // Σ (d·q + m)·x = d·Σ (q − 8)·x + (m + 8d)·Σ x: the centred quants keep the rounding
        // error of the activations small, and the offset meets the exact sum.
        let sum = dot32(&unpack_nibbles(&self.qs), &x.qs) - 8 * x.qsum;
        let (d, m) = (f16_to_f32(self.d), f16_to_f32(self.m));
        d * x.d * sum as f32 + (m + 8.0 * d) * x.sum
    }

    #[inline]
    fn dot_row(simd: Simd, w: &[Self], x: &[ActivationBlock]) -> f32 {
        #[cfg(target_arch = "x86_64")]
        if simd == Simd::Avx512Vnni && Simd::Avx512Vnni.available() {
            // SAFETY: the CPU supports AVX2, FMA, F16C and AVX-512 VNNI/VL (checked just above).
            return unsafe { avx2::dot_row_vnni(w, x) };
        }
        if simd != Simd::Portable && Simd::Avx2.available() {
            // SAFETY: the CPU supports AVX2, FMA and F16C (checked just above).
            return unsafe { avx2::dot_row(w, x) };
        }
        let _ = simd;
        super::dot_row_portable(w, x)
    }

    paired_rows_and_tiles!();
}

impl EncodeBlock for BlockQ4_1 {
    fn encode(x: &[f32; 32]) -> Self {
        let (mut min, mut max) = (f32::MAX, -f32::MAX);
        for &v in x {
            if v < min {
                min = v;
            }
            if v > max {
                max = v;
            }
        }
        let d = (max - min) / 15.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        let quant = |v: f32| (((v - min) * id + 0.5) as i8).clamp(0, 15) as u8;
        let mut qs = [0u8; 16];
        for (j, q) in qs.iter_mut().enumerate() {
            *q = quant(x[j]) | (quant(x[j + 16]) << 4);
        }
        BlockQ4_1 {
            d: f32_to_f16(d),
            m: f32_to_f16(min),
            qs,
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::BlockQ4_1;
    use crate::quant::x86::{dot_u8_i8, f16_splat, fold_two_chains, hsum, load_i8, nibbles};
    use crate::quant::ActivationBlock;

    /// One block: the scaled integer dot of the centred quants goes to `acc`, the offset
    /// `(m + 8d)·Σx` to `offsets` (in every lane: the final sum divides by 8).
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn block(
        (acc, offsets): (__m256, __m256),
        w: &BlockQ4_1,
        x: &ActivationBlock,
    ) -> (__m256, __m256) {
        // Nibbles (0..15) times activations (|x| ≤ 127): pair sums ≤ 3810, no saturation.
        let products = dot_u8_i8(nibbles(&w.qs), load_i8(&x.qs));
        // Centre the quants (q − 8) as the portable kernel does: 8 lanes × Σx = 8·Σx.
        let products = _mm256_sub_epi32(products, _mm256_set1_epi32(x.qsum));
        let d = f16_splat(w.d);
        let scale = _mm256_mul_ps(d, _mm256_set1_ps(x.d));
        let acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(products), scale, acc);
        let offset = _mm256_fmadd_ps(d, _mm256_set1_ps(8.0), f16_splat(w.m));
        let offsets = _mm256_fmadd_ps(offset, _mm256_set1_ps(x.sum), offsets);
        (acc, offsets)
    }

    /// # Safety
    /// The CPU must support AVX2, FMA and F16C.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn dot_row(w: &[BlockQ4_1], x: &[ActivationBlock]) -> f32 {
        let zero = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let (even, odd) = fold_two_chains!(block, zero, w, x);
        let offsets = hsum(_mm256_add_ps(even.1, odd.1)) * 0.125;
        hsum(_mm256_add_ps(even.0, odd.0)) + offsets
    }

    /// [`block`] with the byte products and the centring in one `vpdpbusd`, whose
    /// accumulator input starts at `−Σx` in every lane.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
    #[inline]
    unsafe fn block_vnni(
        (acc, offsets): (__m256, __m256),
        w: &BlockQ4_1,
        x: &ActivationBlock,
    ) -> (__m256, __m256) {
        let products = _mm256_dpbusd_epi32(
            _mm256_set1_epi32(x.qsum.wrapping_neg()),
            nibbles(&w.qs),
            load_i8(&x.qs),
        );
        let d = f16_splat(w.d);
        let scale = _mm256_mul_ps(d, _mm256_set1_ps(x.d));
        let acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(products), scale, acc);
        let offset = _mm256_fmadd_ps(d, _mm256_set1_ps(8.0), f16_splat(w.m));
        let offsets = _mm256_fmadd_ps(offset, _mm256_set1_ps(x.sum), offsets);
        (acc, offsets)
    }

    /// [`dot_row`] on `vpdpbusd`.
    ///
    /// # Safety
    /// The CPU must support AVX2, FMA, F16C and AVX-512 F, VL and VNNI.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
    pub(super) unsafe fn dot_row_vnni(w: &[BlockQ4_1], x: &[ActivationBlock]) -> f32 {
        let zero = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let (even, odd) = fold_two_chains!(block_vnni, zero, w, x);
        let offsets = hsum(_mm256_add_ps(even.1, odd.1)) * 0.125;
        hsum(_mm256_add_ps(even.0, odd.0)) + offsets
    }

    /// [`dot_row`] over consecutive weight rows.
    ///
    /// # Safety
    /// The CPU must support AVX2, FMA and F16C.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn dot_rows(w: &[BlockQ4_1], x: &[ActivationBlock], out: &mut [f32]) {
        for (o, row) in crate::quant::row_runs(w, x, out) {
            *o = dot_row(row, x);
        }
    }
}
