//! AVX2 building blocks shared by the hand-written quantized dot kernels (x86-64 only).
//!
//! Every function here is `unsafe` because it is compiled for AVX2 + FMA + F16C: callers must
//! have checked [`super::Simd::Avx2`]`.available()`. Loads are unaligned and read exactly the
//! fixed-size arrays they are given.

use std::arch::x86_64::*;

use super::{dot_row_portable, ActivationBlock, QuantBlock};

/// How far past the weight block being read the row kernels ask for the weights they will read
/// next. A decoding mat-vec reads each weight once, from DRAM. On a 2-core VM whose hardware
/// prefetcher did not run far enough ahead, the loads stalled the kernel while its arithmetic
/// waited; asking 2 KiB ahead lets one overlap the other (the default model's decode on 2
/// threads: 82 → 119 tokens/s; 1 KiB was slower, 3 and 4 KiB the same within noise).
pub(super) const PREFETCH_BYTES: usize = 2048;

/// Asks for the bytes of `blocks` moved `PREFETCH_BYTES` ahead. Callers step through a row
/// `blocks` at a time, so asking for the lines of the last byte, then 64, 128, … bytes before
/// it, covers every line of the row once, whatever the block size (a Q8_0 pair is 68 bytes, a
/// Q4_K block 144).
#[inline(always)]
pub(super) fn prefetch_ahead<T>(blocks: &[T]) {
    let ahead = (blocks.as_ptr() as *const i8).wrapping_add(PREFETCH_BYTES);
    let len = std::mem::size_of_val(blocks);
    let mut back = 0;
    while back < len {
        // SAFETY: a prefetch is a hint: it never faults, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(len - 1 - back)) };
        back += 64;
    }
}

/// Folds `block(accumulator, weight block, activation block)` over a row with two
/// accumulators, starting at `zero`: even blocks into the first, odd ones into the second
/// (two dependency chains instead of one), a last unpaired block into the first. Evaluates to
/// both accumulators. A macro, so that `block` inlines into the caller's target features.
macro_rules! fold_two_chains {
    ($block:ident, $zero:expr, $w:expr, $x:expr) => {{
        let (mut even, mut odd) = ($zero, $zero);
        let mut pairs_w = $w.chunks_exact(2);
        let mut pairs_x = $x.chunks_exact(2);
        for (pw, px) in (&mut pairs_w).zip(&mut pairs_x) {
            $crate::quant::x86::prefetch_ahead(pw);
            even = $block(even, &pw[0], &px[0]);
            odd = $block(odd, &pw[1], &px[1]);
        }
        if let (Some(w), Some(x)) = (pairs_w.remainder().first(), pairs_x.remainder().first()) {
            even = $block(even, w, x);
        }
        (even, odd)
    }};
}
pub(super) use fold_two_chains;

/// The portable kernel of any format, compiled with AVX2 enabled so that LLVM's
/// auto-vectoriser uses 256-bit integer multiplies (the K formats' fast path).
///
/// # Safety
/// The CPU must support AVX2, FMA and F16C.
#[target_feature(enable = "avx2,fma,f16c")]
pub(super) unsafe fn dot_row_autovectorised<B: QuantBlock>(w: &[B], x: &[ActivationBlock]) -> f32 {
    dot_row_portable(w, x)
}

/// An f16 (two little-endian bytes) widened to f32 with the F16C instruction, in all eight
/// lanes. (Broadcasting first matters: converting from a lone scalar lets LLVM merge it into
/// whatever register is free, often an accumulator, which chains every block to the last.)
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) unsafe fn f16_splat(bytes: [u8; 2]) -> __m256 {
    _mm256_cvtph_ps(_mm_set1_epi16(i16::from_le_bytes(bytes)))
}

/// 16 bytes of packed nibbles as 32 unsigned bytes: low nibbles in the low 128-bit lane
/// (weights 0..16), high nibbles in the high lane (weights 16..32), ggml's order.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) unsafe fn nibbles(qs: &[u8; 16]) -> __m256i {
    // SAFETY: `qs` is 16 readable bytes; the load is unaligned.
    let bytes = _mm_loadu_si128(qs.as_ptr() as *const __m128i);
    let mask = _mm_set1_epi8(0x0f);
    let low = _mm_and_si128(bytes, mask);
    let high = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
    _mm256_set_m128i(high, low)
}

/// 32 signed bytes.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) unsafe fn load_i8(qs: &[i8; 32]) -> __m256i {
    // SAFETY: `qs` is 32 readable bytes; the load is unaligned.
    _mm256_loadu_si256(qs.as_ptr() as *const __m256i)
}

/// Products of unsigned bytes `u` with signed bytes `s`, summed in eight i32 lanes.
/// Pairs are first summed in i16: callers keep `2 · |u| · |s| ≤ 32767` (no saturation).
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) unsafe fn dot_u8_i8(u: __m256i, s: __m256i) -> __m256i {
    _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1))
}

/// Products of two signed byte vectors, summed in eight i32 lanes (the sign of `a` moves
/// onto `b` so that the unsigned×signed instruction applies). `b` must not hold -128.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) unsafe fn dot_i8_i8(a: __m256i, b: __m256i) -> __m256i {
    dot_u8_i8(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a))
}

/// Sum of the eight lanes.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
pub(super) unsafe fn hsum(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    _mm_cvtss_f32(s)
}
