//! Q6_K: 256 weights in 16 sub-blocks of 16, weight `d·sc·(q − 32)` with 6-bit `q` and
//! signed 8-bit `sc`; 210 bytes `u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d` (d last).
//!
//! Each half of 128 weights uses 64 bytes of `ql` and 32 of `qh`. Its four groups of 32
//! take the low nibbles of `ql[0..32]`, of `ql[32..64]`, then the high nibbles of the same,
//! and the bit pairs 0-1, 2-3, 4-5, 6-7 of `qh[0..32]` as their top two bits.

use super::{f16_to_f32, ActivationBlock, QuantBlock};
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
            let (q_low, q_high) = q.split_at(16);
            let (x_low, x_high) = x.qs.split_at(16);
            let low = dot16(q_low, x_low);
            let high = dot16(q_high, x_high);
            let sum = self.scales[2 * g] as i32 * low + self.scales[2 * g + 1] as i32 * high;
            scaled += x.d * sum as f32;
        }
        f16_to_f32(self.d) * scaled
    }
}

/// `Σ a·b` over 16 signed bytes, in i32 so that it vectorises.
#[inline(always)]
fn dot16(a: &[i8], b: &[i8]) -> i32 {
    a[..16]
        .iter()
        .zip(&b[..16])
        .map(|(&a, &b)| a as i32 * b as i32)
        .sum()
}
