//! Q4_K: 256 weights in 8 sub-blocks of 32, weight `d·sc·q − dmin·m` with 4-bit `q` and
//! 6-bit per-sub-block `sc`, `m`; 144 bytes `f16 d; f16 dmin; u8 scales[12]; u8 qs[128]`.
//! Sub-blocks `2p` and `2p + 1` share `qs[32p..32p + 32]` (low and high nibbles).

use super::{dot32, f16_to_f32, ActivationBlock, QuantBlock, Simd};
use crate::DType;

#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct BlockQ4K {
    pub d: [u8; 2],
    pub dmin: [u8; 2],
    pub scales: [u8; 12],
    pub qs: [u8; 128],
}

/// The 6-bit scales and mins of the 8 sub-blocks, packed as ggml's `get_scale_min_k4` reads
/// them: bytes 0..4 hold the scales of sub-blocks 0..4 in their low 6 bits, bytes 4..8 their
/// mins; sub-blocks 4..8 keep their low 4 bits in bytes 8..12 (scale in the low nibble, min
/// in the high one) and their top 2 bits in the spare top bits of bytes 0..4 (scales) and
/// 4..8 (mins). Unpacked four bytes at a time as u32 lanes.
#[inline(always)]
pub fn scales_and_mins(packed: &[u8; 12]) -> ([u8; 8], [u8; 8]) {
    let word =
        |i: usize| u32::from_le_bytes([packed[i], packed[i + 1], packed[i + 2], packed[i + 3]]);
    let (low_scales, low_mins, nibbles) = (word(0), word(4), word(8));
    let top_bits = |w: u32| ((w >> 6) & 0x0303_0303) << 4;
    let scales_high = (nibbles & 0x0f0f_0f0f) | top_bits(low_scales);
    let mins_high = ((nibbles >> 4) & 0x0f0f_0f0f) | top_bits(low_mins);
    let join = |a: u32, b: u32| {
        let (a, b) = (a.to_le_bytes(), b.to_le_bytes());
        [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]]
    };
    (
        join(low_scales & 0x3f3f_3f3f, scales_high),
        join(low_mins & 0x3f3f_3f3f, mins_high),
    )
}

impl QuantBlock for BlockQ4K {
    const DTYPE: DType = DType::Q4_K;
    const WEIGHTS: usize = 256;

    #[inline(always)]
    fn decode(&self, out: &mut [f32]) {
        let (d, dmin) = (f16_to_f32(self.d), f16_to_f32(self.dmin));
        let (scales, mins) = scales_and_mins(&self.scales);
        for (sub, out) in out[..256].chunks_exact_mut(32).enumerate() {
            let qs = &self.qs[32 * (sub / 2)..][..32];
            let shift = 4 * (sub % 2) as u32;
            // ggml's order: the two products are exact in f32, only the difference rounds.
            let (scale, min) = (d * scales[sub] as f32, dmin * mins[sub] as f32);
            for (o, &q) in out.iter_mut().zip(qs) {
                *o = scale * ((q >> shift) & 15) as f32 - min;
            }
        }
    }

    #[inline(always)]
    fn dot(&self, x: &[ActivationBlock]) -> f32 {
        // Per sub-block: Σ (d·sc·q − dmin·m)·x = d·sc·Σ (q − 8)·x + (8·d·sc − dmin·m)·Σ x;
        // the centred quants keep the activations' rounding error small and the offset
        // meets their exact sum.
        let (d, dmin) = (f16_to_f32(self.d), f16_to_f32(self.dmin));
        let (scales, mins) = scales_and_mins(&self.scales);
        let qs: &[[u8; 32]; 4] = bytemuck::cast_ref(&self.qs);
        let (mut scaled, mut offsets) = (0.0f32, 0.0f32);
        for sub in 0..8 {
            let x = &x[sub];
            let shift = 4 * (sub % 2) as u32;
            let q: [i8; 32] = std::array::from_fn(|j| ((qs[sub / 2][j] >> shift) & 15) as i8);
            let sum = dot32(&q, &x.qs) - 8 * x.qsum;
            scaled += x.d * (scales[sub] as i32 * sum) as f32;
            offsets += (8.0 * d * scales[sub] as f32 - dmin * mins[sub] as f32) * x.sum;
        }
        d * scaled + offsets
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

    use super::{scales_and_mins, BlockQ4K};
    use crate::quant::x86::{dot_u8_i8, hsum, load_i8, prefetch_ahead};
    use crate::quant::{f16_to_f32, ActivationBlock};

    /// # Safety
    /// The CPU must support AVX2, FMA and F16C.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn dot_row(w: &[BlockQ4K], x: &[ActivationBlock]) -> f32 {
        let mask = _mm256_set1_epi8(0x0f);
        let (mut acc_low, mut acc_high) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut offsets = _mm256_setzero_ps();
        for (block, x) in w.iter().zip(x.chunks_exact(8)) {
            prefetch_ahead(std::slice::from_ref(block));
            let (d, dmin) = (f16_to_f32(block.d), f16_to_f32(block.dmin));
            let (scales, mins) = scales_and_mins(&block.scales);
            for pair in 0..4 {
                let (x_low, x_high) = (&x[2 * pair], &x[2 * pair + 1]);
                // SAFETY: 32 readable bytes of `qs`; the load is unaligned.
                let q = _mm256_loadu_si256(block.qs.as_ptr().add(32 * pair) as *const __m256i);
                let low = _mm256_and_si256(q, mask);
                let high = _mm256_and_si256(_mm256_srli_epi16(q, 4), mask);
                // Nibbles times |x| ≤ 127: pair sums ≤ 3810. Subtracting Σx from each of the
                // 8 lanes centres the quants (q − 8).
                let p_low = _mm256_sub_epi32(
                    dot_u8_i8(low, load_i8(&x_low.qs)),
                    _mm256_set1_epi32(x_low.qsum),
                );
                let p_high = _mm256_sub_epi32(
                    dot_u8_i8(high, load_i8(&x_high.qs)),
                    _mm256_set1_epi32(x_high.qsum),
                );
                let s_low = _mm256_set1_ps(d * scales[2 * pair] as f32 * x_low.d);
                let s_high = _mm256_set1_ps(d * scales[2 * pair + 1] as f32 * x_high.d);
                acc_low = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p_low), s_low, acc_low);
                acc_high = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p_high), s_high, acc_high);
            }
            // The 8 offsets (8·d·sc − dmin·m) times the exact activation sums, one lane each.
            let scale_lanes = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(
                scales.as_ptr() as *const __m128i,
            )));
            let min_lanes = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(
                mins.as_ptr() as *const __m128i,
            )));
            let offset = _mm256_fmsub_ps(
                _mm256_set1_ps(8.0 * d),
                scale_lanes,
                _mm256_mul_ps(_mm256_set1_ps(dmin), min_lanes),
            );
            let sums = _mm256_setr_ps(
                x[0].sum, x[1].sum, x[2].sum, x[3].sum, x[4].sum, x[5].sum, x[6].sum, x[7].sum,
            );
            offsets = _mm256_fmadd_ps(offset, sums, offsets);
        }
        hsum(_mm256_add_ps(_mm256_add_ps(acc_low, acc_high), offsets))
    }
}
