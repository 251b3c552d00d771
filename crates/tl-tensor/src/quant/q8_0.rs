//! Q8_0: 32 weights as `d · q` with signed 8-bit `q`; 34 bytes `f16 d; i8 qs[32]`.

use super::{dot32, f16_to_f32, f32_to_f16, paired_rows_and_tiles};
use super::{ActivationBlock, EncodeBlock, QuantBlock, Simd};
use crate::DType;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct BlockQ8_0 {
    pub d: [u8; 2],
    pub qs: [i8; 32],
}

impl QuantBlock for BlockQ8_0 {
    const DTYPE: DType = DType::Q8_0;
    const WEIGHTS: usize = 32;

    #[inline(always)]
    fn decode(&self, out: &mut [f32]) {
        let d = f16_to_f32(self.d);
        for (o, &q) in out[..32].iter_mut().zip(&self.qs) {
            *o = q as f32 * d;
        }
    }

    #[inline(always)]
    fn dot(&self, x: &[ActivationBlock]) -> f32 {
        let x = &x[0];
        f16_to_f32(self.d) * x.d * dot32(&self.qs, &x.qs) as f32
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

impl EncodeBlock for BlockQ8_0 {
    fn encode(x: &[f32; 32]) -> Self {
        let amax = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        let mut qs = [0i8; 32];
        for (q, &v) in qs.iter_mut().zip(x) {
            // `round` is C's roundf: halves away from zero, as ggml rounds.
            *q = (v * id).round() as i8;
        }
        BlockQ8_0 {
            d: f32_to_f16(d),
            qs,
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::BlockQ8_0;
    use crate::quant::x86::{dot_i8_i8, f16_splat, fold_two_chains, hsum, load_i8};
    use crate::quant::ActivationBlock;

    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn block(acc: __m256, w: &BlockQ8_0, x: &ActivationBlock) -> __m256 {
        // |w| ≤ 128 and |x| ≤ 127: pair sums ≤ 32512, no saturation.
        let products = dot_i8_i8(load_i8(&w.qs), load_i8(&x.qs));
        let scale = _mm256_mul_ps(f16_splat(w.d), _mm256_set1_ps(x.d));
        _mm256_fmadd_ps(_mm256_cvtepi32_ps(products), scale, acc)
    }

    /// # Safety
    /// The CPU must support AVX2, FMA and F16C.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn dot_row(w: &[BlockQ8_0], x: &[ActivationBlock]) -> f32 {
        let (acc0, acc1) = fold_two_chains!(block, _mm256_setzero_ps(), w, x);
        hsum(_mm256_add_ps(acc0, acc1))
    }

    /// [`block`] on `vpdpbusd`: `q + 128` (`q ^ 0x80`) is unsigned, and the accumulator
    /// starts at `−16·Σx` in each of the 8 lanes, removing `128·Σx` in total.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
    #[inline]
    unsafe fn block_vnni(acc: __m256, w: &BlockQ8_0, x: &ActivationBlock) -> __m256 {
        let unsigned = _mm256_xor_si256(load_i8(&w.qs), _mm256_set1_epi8(-128));
        let products = _mm256_dpbusd_epi32(
            _mm256_set1_epi32(x.qsum.wrapping_mul(-16)),
            unsigned,
            load_i8(&x.qs),
        );
        let scale = _mm256_mul_ps(f16_splat(w.d), _mm256_set1_ps(x.d));
        _mm256_fmadd_ps(_mm256_cvtepi32_ps(products), scale, acc)
    }

    /// [`dot_row`] on `vpdpbusd`.
    ///
    /// # Safety
    /// The CPU must support AVX2, FMA, F16C and AVX-512 F, VL and VNNI.
    #[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
    pub(super) unsafe fn dot_row_vnni(w: &[BlockQ8_0], x: &[ActivationBlock]) -> f32 {
        let (acc0, acc1) = fold_two_chains!(block_vnni, _mm256_setzero_ps(), w, x);
        hsum(_mm256_add_ps(acc0, acc1))
    }

    /// [`dot_row`] over consecutive weight rows.
    ///
    /// # Safety
    /// The CPU must support AVX2, FMA and F16C.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn dot_rows(w: &[BlockQ8_0], x: &[ActivationBlock], out: &mut [f32]) {
        for (o, row) in crate::quant::row_runs(w, x, out) {
            *o = dot_row(row, x);
        }
    }
}
