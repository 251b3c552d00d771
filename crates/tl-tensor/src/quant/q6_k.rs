//! Q6_K: 256 weights in 16 sub-blocks of 16, weight `d·sc·(q − 32)` with 6-bit `q` and
//! signed 8-bit `sc`; 210 bytes `u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d` (d last).
//!
//! Each half of 128 weights uses 64 bytes of `ql` and 32 of `qh`. Its four groups of 32
//! take the low nibbles of `ql[0..32]`, of `ql[32..64]`, then the high nibbles of the same,
//! and the bit pairs 0-1, 2-3, 4-5, 6-7 of `qh[0..32]` as their top two bits.

use super::{f16_to_f32, ActivationBlock, QuantBlock, Simd};
use crate::DType;

#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct BlockQ6K {
    pub ql: [u8; 128],
    pub qh: [u8; 64],
    pub scales: [i8; 16],
    pub d: [u8; 2],
}

impl BlockQ6K {
    /// The 6-bit quants of group `g` (0..8, weights `32g..32g + 32`) minus 32.
    #[inline(always)]
    fn group(&self, g: usize) -> [i8; 32] {
        let (half, kind) = (g / 4, g % 4);
        let ql: &[u8; 32] = self.ql[64 * half + 32 * (kind % 2)..][..32]
            .try_into()
            .expect("32 bytes");
        let qh: &[u8; 32] = self.qh[32 * half..][..32].try_into().expect("32 bytes");
        let (nibble_shift, high_shift) = (4 * (kind / 2) as u32, 2 * kind as u32);
        let mut q = [0i8; 32];
        for ((q, &l), &h) in q.iter_mut().zip(ql).zip(qh) {
            let value = ((l >> nibble_shift) & 15) | (((h >> high_shift) & 3) << 4);
            *q = value as i8 - 32;
        }
        q
    }
}

impl QuantBlock for BlockQ6K {
    const DTYPE: DType = DType::Q6_K;
    const WEIGHTS: usize = 256;

    #[inline(always)]
    fn decode(&self, out: &mut [f32]) {
        let d = f16_to_f32(self.d);
        for (g, out) in out[..256].chunks_exact_mut(32).enumerate() {
            let q = self.group(g);
            for (sub, (out, q)) in out.chunks_exact_mut(16).zip(q.chunks_exact(16)).enumerate() {
                // ggml's order: (d·sc)·q, the first product exact, the second rounded.
                let scale = d * self.scales[2 * g + sub] as f32;
                for (o, &q) in out.iter_mut().zip(q) {
                    *o = scale * q as f32;
                }
            }
        }
    }

    #[inline(always)]
    fn dot(&self, x: &[ActivationBlock]) -> f32 {
        let mut scaled = 0.0f32;
        for (g, x) in x[..8].iter().enumerate() {
            let q = self.group(g);
            let (low, high) = dot_halves(&q, &x.qs);
            let sum = self.scales[2 * g] as i32 * low + self.scales[2 * g + 1] as i32 * high;
            scaled += x.d * sum as f32;
        }
        f16_to_f32(self.d) * scaled
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
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::BlockQ6K;
    use crate::quant::x86::{hsum, load_i8, prefetch_ahead};
    use crate::quant::{f16_to_f32, ActivationBlock};

    /// One group of 32 weights (6-bit quants `q`, unsigned) with its activations:
    /// `Σ sc·(q − 32)·x`, each half of 16 with its own scale, in eight i32 lanes.
    #[target_feature(enable = "avx2,fma,f16c")]
    #[inline]
    unsafe fn group(q: __m256i, x: &ActivationBlock, scale_low: i8, scale_high: i8) -> __m256i {
        let xq = load_i8(&x.qs);
        // q ≤ 63 and |x| ≤ 127: pair sums ≤ 16002 in i16; the 32·x pairs are subtracted in
        // i16 too (|difference| ≤ 8128), then each pair is weighted by its half's scale.
        let products = _mm256_maddubs_epi16(q, xq);
        let offsets = _mm256_maddubs_epi16(_mm256_set1_epi8(32), xq);
        let scales = _mm256_set_m128i(
            _mm_set1_epi16(scale_high as i16),
            _mm_set1_epi16(scale_low as i16),
        );
        _mm256_madd_epi16(_mm256_sub_epi16(products, offsets), scales)
    }

    /// # Safety
    /// The CPU must support AVX2, FMA and F16C.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn dot_row(w: &[BlockQ6K], x: &[ActivationBlock]) -> f32 {
        let low_bits = _mm256_set1_epi8(0x0f);
        let two_bits = _mm256_set1_epi8(0x03);
        let (mut acc0, mut acc1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        for (block, x) in w.iter().zip(x.chunks_exact(8)) {
            prefetch_ahead(std::slice::from_ref(block));
            let d = f16_to_f32(block.d);
            let sc = &block.scales;
            for half in 0..2 {
                // SAFETY: 32 readable bytes at each offset (ql has 128, qh 64); unaligned.
                let ql0 = _mm256_loadu_si256(block.ql.as_ptr().add(64 * half) as *const __m256i);
                let ql1 =
                    _mm256_loadu_si256(block.ql.as_ptr().add(64 * half + 32) as *const __m256i);
                let qh = _mm256_loadu_si256(block.qh.as_ptr().add(32 * half) as *const __m256i);
                // Top two bits of group k: bits 2k, 2k+1 of qh, moved to bits 4-5. Shifts are
                // per 16-bit lane, so mask after shifting.
                let top = |shift: i32| -> __m256i {
                    let bits = match shift {
                        0 => qh,
                        2 => _mm256_srli_epi16(qh, 2),
                        4 => _mm256_srli_epi16(qh, 4),
                        _ => _mm256_srli_epi16(qh, 6),
                    };
                    _mm256_slli_epi16(_mm256_and_si256(bits, two_bits), 4)
                };
                let quants = [
                    _mm256_or_si256(_mm256_and_si256(ql0, low_bits), top(0)),
                    _mm256_or_si256(_mm256_and_si256(ql1, low_bits), top(2)),
                    _mm256_or_si256(
                        _mm256_and_si256(_mm256_srli_epi16(ql0, 4), low_bits),
                        top(4),
                    ),
                    _mm256_or_si256(
                        _mm256_and_si256(_mm256_srli_epi16(ql1, 4), low_bits),
                        top(6),
                    ),
                ];
                for (kind, &q) in quants.iter().enumerate() {
                    let g = 4 * half + kind;
                    let sums = group(q, &x[g], sc[2 * g], sc[2 * g + 1]);
                    let scale = _mm256_set1_ps(d * x[g].d);
                    if kind % 2 == 0 {
                        acc0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), scale, acc0);
                    } else {
                        acc1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), scale, acc1);
                    }
                }
            }
        }
        hsum(_mm256_add_ps(acc0, acc1))
    }
}

/// `(Σ a·b over the first 16, over the last 16)` in i32, shaped to vectorise.
#[inline(always)]
fn dot_halves(a: &[i8; 32], b: &[i8; 32]) -> (i32, i32) {
    let (mut low, mut high) = (0i32, 0i32);
    for i in 0..16 {
        low += a[i] as i32 * b[i] as i32;
        high += a[i + 16] as i32 * b[i + 16] as i32;
    }
    (low, high)
}
