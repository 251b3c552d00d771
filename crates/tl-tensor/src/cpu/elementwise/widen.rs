//! Converting runs of f16/bf16 to f32 and back a block at a time, so the f32 math in between
//! runs as vectorised loops over plain f32 slices.

use half::slice::HalfFloatSliceExt;
use half::{bf16, f16};

use super::super::element::FloatElement;

/// Elements converted per block: a few KiB of f32 on the stack, well inside L1.
pub(crate) const BLOCK: usize = 256;

pub(crate) trait Widen: FloatElement {
    /// Whether `Self` is `f32` (whose runs need no conversion at all).
    const IS_F32: bool;
    /// `src` as f32: `src` itself for f32, else converted into the front of `buf`.
    /// `src.len()` must not exceed `buf.len()`.
    fn widen<'a>(src: &'a [Self], buf: &'a mut [f32]) -> &'a [f32];
    /// Rounds `src` into `dst` (same lengths).
    fn narrow(src: &[f32], dst: &mut [Self]);
}

impl Widen for f32 {
    const IS_F32: bool = true;
    #[inline(always)]
    fn widen<'a>(src: &'a [f32], _buf: &'a mut [f32]) -> &'a [f32] {
        src
    }
    #[inline(always)]
    fn narrow(src: &[f32], dst: &mut [f32]) {
        dst.copy_from_slice(src);
    }
}

impl Widen for f16 {
    const IS_F32: bool = false;
    /// `half` converts slices with F16C instructions when the CPU has them.
    #[inline(always)]
    fn widen<'a>(src: &'a [f16], buf: &'a mut [f32]) -> &'a [f32] {
        let buf = &mut buf[..src.len()];
        src.convert_to_f32_slice(buf);
        buf
    }
    #[inline(always)]
    fn narrow(src: &[f32], dst: &mut [f16]) {
        dst.convert_from_f32_slice(src);
    }
}

impl Widen for bf16 {
    const IS_F32: bool = false;
    /// bf16 is the top half of an f32.
    #[inline(always)]
    fn widen<'a>(src: &'a [bf16], buf: &'a mut [f32]) -> &'a [f32] {
        let buf = &mut buf[..src.len()];
        for (w, &h) in buf.iter_mut().zip(src) {
            *w = f32::from_bits((h.to_bits() as u32) << 16);
        }
        buf
    }
    /// Round to nearest even, as `bf16::from_f32` does, but branch-free so it vectorises;
    /// NaN stays NaN (quiet).
    #[inline(always)]
    fn narrow(src: &[f32], dst: &mut [bf16]) {
        for (h, &w) in dst.iter_mut().zip(src) {
            let bits = w.to_bits();
            let rounded = bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) >> 16;
            let nan = (bits >> 16) | 0x40;
            let is_nan = bits & 0x7fff_ffff > 0x7f80_0000;
            *h = bf16::from_bits(if is_nan { nan } else { rounded } as u16);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_narrowing_matches_half() {
        let mut values: Vec<f32> = (0..200_000u32)
            .map(|i| f32::from_bits(i.wrapping_mul(2_654_435_761)))
            .collect();
        values.extend([
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            -f32::NAN,
            f32::MAX,
            f32::MIN_POSITIVE,
            0.0,
            -0.0,
            1.0 + f32::EPSILON * 32768.0,
        ]);
        let mut ours = vec![bf16::ZERO; values.len()];
        bf16::narrow(&values, &mut ours);
        for (&v, &o) in values.iter().zip(&ours) {
            let want = bf16::from_f32(v);
            if v.is_nan() {
                assert!(o.is_nan(), "{v}");
            } else {
                assert_eq!(o.to_bits(), want.to_bits(), "{v:e}");
            }
        }
        let mut back = vec![0.0f32; ours.len()];
        let widened = bf16::widen(&ours, &mut back);
        for (&w, &o) in widened.iter().zip(&ours) {
            assert!(w.to_bits() == o.to_f32().to_bits() || w.is_nan());
        }
    }
}
