//! Q4_K: 256 weights in 8 sub-blocks of 32, weight `d·sc·q − dmin·m` with 4-bit `q` and
//! 6-bit per-sub-block `sc`, `m`; 144 bytes `f16 d; f16 dmin; u8 scales[12]; u8 qs[128]`.
//! Sub-blocks `2p` and `2p + 1` share `qs[32p..32p + 32]` (low and high nibbles).

use super::{f16_to_f32, ActivationBlock, QuantBlock};
use crate::DType;

#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct BlockQ4K {
    pub d: [u8; 2],
    pub dmin: [u8; 2],
    pub scales: [u8; 12],
    pub qs: [u8; 128],
}

/// The 6-bit scale and min of sub-block `j` (0..8), packed as ggml's `get_scale_min_k4`
/// reads them: bytes 0..4 hold the scales of sub-blocks 0..4 in their low 6 bits, bytes
/// 4..8 their mins; sub-blocks 4..8 keep their low 4 bits in bytes 8..12 (scale low
/// nibble, min high nibble) and their top 2 bits in the spare top bits of bytes 0..8.
#[inline(always)]
pub fn scale_and_min(scales: &[u8; 12], j: usize) -> (u8, u8) {
    if j < 4 {
        (scales[j] & 63, scales[j + 4] & 63)
    } else {
        (
            (scales[j + 4] & 15) | ((scales[j - 4] >> 6) << 4),
            (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4),
        )
    }
}

impl QuantBlock for BlockQ4K {
    const DTYPE: DType = DType::Q4_K;
    const WEIGHTS: usize = 256;

    #[inline(always)]
    fn decode(&self, out: &mut [f32]) {
        let (d, dmin) = (f16_to_f32(self.d), f16_to_f32(self.dmin));
        for (pair, (qs, out)) in self
            .qs
            .chunks_exact(32)
            .zip(out[..256].chunks_exact_mut(64))
            .enumerate()
        {
            let (sc_low, m_low) = scale_and_min(&self.scales, 2 * pair);
            let (sc_high, m_high) = scale_and_min(&self.scales, 2 * pair + 1);
            // ggml's order: the two products are exact in f32, only the difference rounds.
            let (d_low, min_low) = (d * sc_low as f32, dmin * m_low as f32);
            let (d_high, min_high) = (d * sc_high as f32, dmin * m_high as f32);
            let (low, high) = out.split_at_mut(32);
            for ((l, h), &q) in low.iter_mut().zip(high.iter_mut()).zip(qs) {
                *l = d_low * (q & 15) as f32 - min_low;
                *h = d_high * (q >> 4) as f32 - min_high;
            }
        }
    }

    #[inline(always)]
    fn dot(&self, x: &[ActivationBlock]) -> f32 {
        // Per sub-block: Σ (d·sc·q − dmin·m)·x = d·sc·Σ (q − 8)·x + (8·d·sc − dmin·m)·Σ x;
        // the centred quants keep the activations' rounding error small and the offset
        // meets their exact sum.
        let (d, dmin) = (f16_to_f32(self.d), f16_to_f32(self.dmin));
        let (mut scaled, mut offsets) = (0.0f32, 0.0f32);
        for (pair, (qs, xs)) in self.qs.chunks_exact(32).zip(x.chunks_exact(2)).enumerate() {
            let qs: &[u8; 32] = qs.try_into().expect("chunks of 32");
            let (low, high) = dot_nibbles(qs, &xs[0].qs, &xs[1].qs);
            for (sub, (x, dot)) in xs.iter().zip([low, high]).enumerate() {
                let (sc, m) = scale_and_min(&self.scales, 2 * pair + sub);
                scaled += x.d * (sc as i32 * (dot - 8 * x.qsum)) as f32;
                offsets += (8.0 * d * sc as f32 - dmin * m as f32) * x.sum;
            }
        }
        d * scaled + offsets
    }
}

/// `(Σ low nibble · a, Σ high nibble · b)` over 32 bytes: integer only, so it vectorises.
#[inline(always)]
fn dot_nibbles(qs: &[u8; 32], a: &[i8; 32], b: &[i8; 32]) -> (i32, i32) {
    let (mut low, mut high) = (0i32, 0i32);
    for ((&q, &x), &y) in qs.iter().zip(a).zip(b) {
        low += (q & 15) as i32 * x as i32;
        high += (q >> 4) as i32 * y as i32;
    }
    (low, high)
}
