//! Mat-vec row kernels on AVX-512 (x86-64): two blocks per 512-bit register, the even block
//! in the low half and the odd block in the high half.
//!
//! The row kernels accumulate even and odd blocks in two 8-lane accumulators and add them at
//! the end; here those two accumulators are the two halves of one register, every lane going
//! through the same operations in the same order (integer products, conversion, the scale
//! product, one FMA), so each result equals the row kernel's to the bit while the per-block
//! work (unpacking, conversions, broadcasts) is done once per pair of blocks. The activation
//! side of a pair is laid out once per call as whole registers ([`ActivationPair`]), since
//! every weight row of a mat-vec meets the same activations.

use std::arch::x86_64::*;
use std::cell::RefCell;

use super::x86::{hsum, prefetch_ahead};
use super::{ActivationBlock, BlockQ4_0, BlockQ4_1, BlockQ8_0, QuantBlock};

/// Activation blocks `2p` and `2p + 1` as the registers the pair kernel reads: quants, the
/// lane corrections of the nibble formats (`−Σq` per lane) and of Q8_0 (`−16·Σq`), scales
/// and exact sums, each block's values in its half.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub struct ActivationPair {
    qs: [i8; 64],
    neg_qsum: [i32; 16],
    neg_qsum16: [i32; 16],
    d: [f32; 16],
    sum: [f32; 16],
}

impl ActivationPair {
    fn new(even: &ActivationBlock, odd: &ActivationBlock) -> Self {
        let half = |r: usize| if r < 8 { even } else { odd };
        ActivationPair {
            qs: std::array::from_fn(|i| half(i / 4).qs[i % 32]),
            neg_qsum: std::array::from_fn(|r| half(r).qsum.wrapping_neg()),
            neg_qsum16: std::array::from_fn(|r| half(r).qsum.wrapping_mul(-16)),
            d: std::array::from_fn(|r| half(r).d),
            sum: std::array::from_fn(|r| half(r).sum),
        }
    }
}

thread_local! {
    /// Each worker's activation pairs, reused from call to call.
    static PAIRS: RefCell<Vec<ActivationPair>> = const { RefCell::new(Vec::new()) };
}

/// The per-format steps of the pair kernel; every method runs only inside
/// [`dot_rows_pairs`], whose target features make its intrinsics legal.
pub trait PairBlock: QuantBlock {
    /// Whether the format has a min term (`(m + 8d)·Σx`, kept apart as the row kernel does).
    const HAS_OFFSET: bool;
    /// Whether the lane correction is Q8_0's `−16·Σq` rather than `−Σq`.
    const BIAS_16: bool;

    /// The quants of blocks `w0` and `w1` as the unsigned operand of `vpdpbusd`, in the
    /// activations' byte order (block `w0` in the low 256 bits).
    ///
    /// # Safety
    /// Only inside [`dot_rows_pairs`].
    unsafe fn quants(w0: &Self, w1: &Self) -> __m512i;

    /// The scale `d` of each block in its half, and the offset `m + 8d` (formats with a
    /// min term; zero otherwise).
    ///
    /// # Safety
    /// Only inside [`dot_rows_pairs`].
    unsafe fn scales(w0: &Self, w1: &Self) -> (__m512, __m512);
}

/// The first four bytes of each block (where the f16 scales are) converted to f32:
/// `[w0 bytes 0..2, w0 bytes 2..4, w1 bytes 0..2, w1 bytes 2..4]`.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
#[inline]
unsafe fn leading_halves<B: QuantBlock>(w0: &B, w1: &B) -> __m512 {
    // SAFETY: every block is at least 4 bytes; the reads are unaligned.
    let first = std::ptr::read_unaligned(w0 as *const B as *const i32);
    let second = std::ptr::read_unaligned(w1 as *const B as *const i32);
    let halves = _mm_insert_epi32(_mm_cvtsi32_si128(first), second, 1);
    _mm512_castps128_ps512(_mm_cvtph_ps(halves))
}

/// Lane `i` of `v` in the low 8 lanes and lane `j` in the high 8 lanes.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
#[inline]
unsafe fn split_splat<const I: i32, const J: i32>(v: __m512) -> __m512 {
    _mm512_permutexvar_ps(
        _mm512_set_epi32(J, J, J, J, J, J, J, J, I, I, I, I, I, I, I, I),
        v,
    )
}

/// 16 bytes of packed nibbles from each block as `[low w0, high w0, low w1, high w1]`.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
#[inline]
unsafe fn nibble_pair(qs0: &[u8; 16], qs1: &[u8; 16]) -> __m512i {
    // SAFETY: each array is 16 readable bytes; the loads are unaligned.
    let both = _mm256_loadu2_m128i(
        qs1.as_ptr() as *const __m128i,
        qs0.as_ptr() as *const __m128i,
    );
    let wide = _mm512_castsi256_si512(both);
    // 128-bit lanes [qs0, qs0, qs1, qs1], the second of each shifted down a nibble.
    let doubled = _mm512_shuffle_i64x2(wide, wide, 0b01_01_00_00);
    let shifted = _mm512_srlv_epi64(doubled, _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0));
    _mm512_and_si512(shifted, _mm512_set1_epi8(0x0f))
}

impl PairBlock for BlockQ4_0 {
    const HAS_OFFSET: bool = false;
    const BIAS_16: bool = false;

    #[inline(always)]
    unsafe fn quants(w0: &Self, w1: &Self) -> __m512i {
        nibble_pair(&w0.qs, &w1.qs)
    }

    #[inline(always)]
    unsafe fn scales(w0: &Self, w1: &Self) -> (__m512, __m512) {
        let halves = leading_halves(w0, w1);
        (split_splat::<0, 2>(halves), _mm512_setzero_ps())
    }
}

impl PairBlock for BlockQ4_1 {
    const HAS_OFFSET: bool = true;
    const BIAS_16: bool = false;

    #[inline(always)]
    unsafe fn quants(w0: &Self, w1: &Self) -> __m512i {
        nibble_pair(&w0.qs, &w1.qs)
    }

    #[inline(always)]
    unsafe fn scales(w0: &Self, w1: &Self) -> (__m512, __m512) {
        let halves = leading_halves(w0, w1);
        let d = split_splat::<0, 2>(halves);
        let m = split_splat::<1, 3>(halves);
        // m + 8d, computed as the row kernel computes it.
        (d, _mm512_fmadd_ps(d, _mm512_set1_ps(8.0), m))
    }
}

impl PairBlock for BlockQ8_0 {
    const HAS_OFFSET: bool = false;
    const BIAS_16: bool = true;

    #[inline(always)]
    unsafe fn quants(w0: &Self, w1: &Self) -> __m512i {
        // SAFETY: each `qs` is 32 readable bytes; the loads are unaligned.
        let low = _mm256_loadu_si256(w0.qs.as_ptr() as *const __m256i);
        let high = _mm256_loadu_si256(w1.qs.as_ptr() as *const __m256i);
        let both = _mm512_inserti64x4(_mm512_castsi256_si512(low), high, 1);
        // q + 128 is unsigned; the −16·Σx lane correction removes the 128·Σx.
        _mm512_xor_si512(both, _mm512_set1_epi8(-128))
    }

    #[inline(always)]
    unsafe fn scales(w0: &Self, w1: &Self) -> (__m512, __m512) {
        (
            split_splat::<0, 2>(leading_halves(w0, w1)),
            _mm512_setzero_ps(),
        )
    }
}

/// One pair of blocks added to the accumulators; only the lanes of `mask` change (all of
/// them, or the low half for a lone last block).
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
#[inline]
unsafe fn pair<B: PairBlock>(
    (acc, offsets): (__m512, __m512),
    (w0, w1): (&B, &B),
    x: &ActivationPair,
    mask: __mmask16,
) -> (__m512, __m512) {
    let correction = if B::BIAS_16 {
        &x.neg_qsum16
    } else {
        &x.neg_qsum
    };
    // SAFETY: `ActivationPair` is 64-byte aligned and each field a whole 64-byte register.
    let products = _mm512_dpbusd_epi32(
        _mm512_load_si512(correction.as_ptr() as *const _),
        B::quants(w0, w1),
        _mm512_load_si512(x.qs.as_ptr() as *const _),
    );
    let (d, offset) = B::scales(w0, w1);
    let scale = _mm512_mul_ps(d, _mm512_load_ps(x.d.as_ptr()));
    let acc = _mm512_mask3_fmadd_ps(_mm512_cvtepi32_ps(products), scale, acc, mask);
    let offsets = if B::HAS_OFFSET {
        _mm512_mask3_fmadd_ps(offset, _mm512_load_ps(x.sum.as_ptr()), offsets, mask)
    } else {
        offsets
    };
    (acc, offsets)
}

/// One weight row against the prepared activation pairs.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
#[inline]
unsafe fn row<B: PairBlock>(w: &[B], pairs: &[ActivationPair]) -> f32 {
    let zero = _mm512_setzero_ps();
    let mut state = (zero, zero);
    let mut blocks = w.chunks_exact(2);
    for (two, x) in (&mut blocks).zip(pairs) {
        prefetch_ahead(two);
        state = pair(state, (&two[0], &two[1]), x, 0xffff);
    }
    if let Some(last) = blocks.remainder().first() {
        // A lone last block goes to the even accumulator, as in the row kernels.
        state = pair(state, (last, last), &pairs[w.len() / 2], 0x00ff);
    }
    finish::<B>(state)
}

/// The even half plus the odd half, as the row kernels add their two accumulators.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
#[inline]
unsafe fn even_plus_odd(v: __m512) -> __m256 {
    let odd = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    _mm256_add_ps(_mm512_castps512_ps256(v), odd)
}

/// The two halves' sums (and the offsets', divided by 8), as the row kernels end.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
#[inline]
unsafe fn finish<B: PairBlock>((acc, offsets): (__m512, __m512)) -> f32 {
    let total = hsum(even_plus_odd(acc));
    if B::HAS_OFFSET {
        total + hsum(even_plus_odd(offsets)) * 0.125
    } else {
        total
    }
}

/// [`super::QuantBlock::dot_rows`] on AVX-512: consecutive weight rows of `x.len()` blocks.
///
/// # Safety
/// The CPU must support AVX2, FMA, F16C and AVX-512 F, VL and VNNI.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512vl,avx512vnni")]
pub unsafe fn dot_rows_pairs<B: PairBlock>(w: &[B], x: &[ActivationBlock], out: &mut [f32]) {
    let mut pairs = PAIRS.take();
    pairs.clear();
    pairs.extend(
        x.chunks(2)
            .map(|two| ActivationPair::new(&two[0], two.last().expect("a block"))),
    );
    for (o, w) in super::row_runs(w, x, out) {
        *o = row(w, &pairs);
    }
    PAIRS.set(pairs);
}
