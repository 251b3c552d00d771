//! Tiles of up to 4 weight rows × 4 activation rows in one pass over their blocks (x86-64):
//! each weight block is unpacked and its scale converted once for every activation row, and
//! each activation block is loaded once for every weight row. Mat-vec (decode) uses 1 × 4
//! tiles, matmul (prefill) 4 × 4; both beat one row pair at a time because the per-block
//! work that does not depend on the other operand is shared.
//!
//! Two builds of one kernel body: AVX2 (`maddubs` + `madd` byte products) and AVX-512
//! VNNI/VL (`vpdpbusd`, one instruction that also adds the offset correction), chosen by
//! [`Simd`]. Both compute exactly the per-block integer sums of the row kernels and
//! accumulate them in the same order, so a tile's results equal the row kernels' bit for bit
//! (prefill and decode of one token give the same numbers).

use std::arch::x86_64::*;

use super::x86::{dot_i8_i8, dot_u8_i8, f16_splat, hsum, load_i8, nibbles};
use super::{ActivationBlock, BlockQ4_0, BlockQ4_1, BlockQ8_0, QuantBlock, Simd, MAX_TILE};

/// The per-format steps of the tile kernel. Every method is `#[inline(always)]` and
/// runs only inside the kernels below, whose target features make its intrinsics legal.
pub trait TileBlock: QuantBlock {
    /// Each i32 lane of the byte products is corrected by `−LANE_BIAS · qsum` (a lane sums
    /// 4 of the 32 products, so this removes `8 · LANE_BIAS · qsum` in total).
    const LANE_BIAS_MADDUBS: i32;
    const LANE_BIAS_VNNI: i32;
    /// Whether [`TileBlock::lane_offset`] contributes (formats with a min term).
    const HAS_OFFSET: bool;

    /// The 32 quants as the unsigned operand of `vpdpbusd`.
    ///
    /// # Safety
    /// Only inside a kernel compiled with AVX2.
    unsafe fn unsigned_quants(&self) -> __m256i;

    /// The 32 quants as [`TileBlock::maddubs_products`] takes them.
    ///
    /// # Safety
    /// Only inside a kernel compiled with AVX2.
    unsafe fn maddubs_quants(&self) -> __m256i;

    /// The products of `quants` (from [`TileBlock::maddubs_quants`]) with the activation
    /// bytes `x`, in 8 i32 lanes (before the lane bias), by AVX2 instructions only.
    ///
    /// # Safety
    /// Only inside a kernel compiled with AVX2.
    unsafe fn maddubs_products(quants: __m256i, x: __m256i) -> __m256i;

    /// The block scale in every lane.
    ///
    /// # Safety
    /// Only inside a kernel compiled with AVX2 and F16C.
    unsafe fn scale(&self) -> __m256;

    /// The offset multiplied by the activations' exact sum, in every lane (the 8 lanes
    /// together hold 8 times the block's offset term, as the row kernel keeps it), given the
    /// block scale `d`.
    ///
    /// # Safety
    /// Only inside a kernel compiled with AVX2, FMA and F16C.
    unsafe fn lane_offset(&self, d: __m256) -> __m256;
}

impl TileBlock for BlockQ4_0 {
    // Σ (q − 8)·x = Σ q·x − 8·Σ x.
    const LANE_BIAS_MADDUBS: i32 = 1;
    const LANE_BIAS_VNNI: i32 = 1;
    const HAS_OFFSET: bool = false;

    #[inline(always)]
    unsafe fn unsigned_quants(&self) -> __m256i {
        nibbles(&self.qs)
    }

    #[inline(always)]
    unsafe fn maddubs_quants(&self) -> __m256i {
        nibbles(&self.qs)
    }

    #[inline(always)]
    unsafe fn maddubs_products(quants: __m256i, x: __m256i) -> __m256i {
        // Nibbles (0..15) times |x| ≤ 127: pair sums ≤ 3810, no saturation.
        dot_u8_i8(quants, x)
    }

    #[inline(always)]
    unsafe fn scale(&self) -> __m256 {
        f16_splat(self.d)
    }

    #[inline(always)]
    unsafe fn lane_offset(&self, _d: __m256) -> __m256 {
        _mm256_setzero_ps()
    }
}

impl TileBlock for BlockQ4_1 {
    // As the row kernel: d·Σ (q − 8)·x + (m + 8d)·Σ x, centred quants against the exact sum.
    const LANE_BIAS_MADDUBS: i32 = 1;
    const LANE_BIAS_VNNI: i32 = 1;
    const HAS_OFFSET: bool = true;

    #[inline(always)]
    unsafe fn unsigned_quants(&self) -> __m256i {
        nibbles(&self.qs)
    }

    #[inline(always)]
    unsafe fn maddubs_quants(&self) -> __m256i {
        nibbles(&self.qs)
    }

    #[inline(always)]
    unsafe fn maddubs_products(quants: __m256i, x: __m256i) -> __m256i {
        dot_u8_i8(quants, x)
    }

    #[inline(always)]
    unsafe fn scale(&self) -> __m256 {
        f16_splat(self.d)
    }

    #[inline(always)]
    unsafe fn lane_offset(&self, d: __m256) -> __m256 {
        // m + 8d, computed as the row kernel computes it.
        _mm256_fmadd_ps(d, _mm256_set1_ps(8.0), f16_splat(self.m))
    }
}

impl TileBlock for BlockQ8_0 {
    // maddubs: signs moved onto the activations, no bias. vpdpbusd: q + 128 is unsigned
    // (q ^ 0x80), and Σ (q + 128)·x − 128·Σ x = Σ q·x; 128/8 = 16 per lane.
    const LANE_BIAS_MADDUBS: i32 = 0;
    const LANE_BIAS_VNNI: i32 = 16;
    const HAS_OFFSET: bool = false;

    #[inline(always)]
    unsafe fn unsigned_quants(&self) -> __m256i {
        _mm256_xor_si256(load_i8(&self.qs), _mm256_set1_epi8(-128))
    }

    #[inline(always)]
    unsafe fn maddubs_quants(&self) -> __m256i {
        load_i8(&self.qs)
    }

    #[inline(always)]
    unsafe fn maddubs_products(quants: __m256i, x: __m256i) -> __m256i {
        // |w| ≤ 128 and |x| ≤ 127: pair sums ≤ 32512, no saturation.
        dot_i8_i8(quants, x)
    }

    #[inline(always)]
    unsafe fn scale(&self) -> __m256 {
        f16_splat(self.d)
    }

    #[inline(always)]
    unsafe fn lane_offset(&self, _d: __m256) -> __m256 {
        _mm256_setzero_ps()
    }
}

/// The kernel body, stamped out once per instruction set (so that each copy is compiled
/// with its own target features and every helper inlines into it).
macro_rules! tile_kernel {
    ($name:ident, $features:literal, $vnni:expr) => {
        /// `out[r][c] = Σ_b w[c][b]·x[r][b]`.
        ///
        /// # Safety
        /// The CPU must support this kernel's target features, and every `w[c]` and `x[r]`
        /// must hold at least `x[0].len()` blocks.
        #[target_feature(enable = $features)]
        unsafe fn $name<B: TileBlock, const R: usize, const C: usize>(
            w: [&[B]; C],
            x: [&[ActivationBlock]; R],
            out: &mut [[f32; C]; R],
        ) {
            let blocks = x[0].len();
            let bias = if $vnni {
                B::LANE_BIAS_VNNI
            } else {
                B::LANE_BIAS_MADDUBS
            };
            // Even and odd blocks in separate accumulators, the offsets apart, and the same
            // operations in the same order as the row kernels: a tile's results are the row
            // kernel's to the bit, so prefill and decode agree exactly.
            let mut acc = [[[_mm256_setzero_ps(); 2]; C]; R];
            let mut offsets = [[[_mm256_setzero_ps(); 2]; C]; R];
            for b in 0..blocks {
                let parity = b & 1;
                // SAFETY: b < blocks ≤ every row's length (the caller's contract).
                let xb: [&ActivationBlock; R] = std::array::from_fn(|r| x[r].get_unchecked(b));
                let xq: [__m256i; R] = std::array::from_fn(|r| load_i8(&xb[r].qs));
                let xd: [__m256; R] = std::array::from_fn(|r| _mm256_set1_ps(xb[r].d));
                let correction: [__m256i; R] =
                    std::array::from_fn(|r| _mm256_set1_epi32(-bias * xb[r].qsum));
                for c in 0..C {
                    let wb = w[c].get_unchecked(b);
                    let d = wb.scale();
                    let quants = if $vnni {
                        wb.unsigned_quants()
                    } else {
                        wb.maddubs_quants()
                    };
                    let offset = if B::HAS_OFFSET {
                        wb.lane_offset(d)
                    } else {
                        _mm256_setzero_ps()
                    };
                    for r in 0..R {
                        let products = if $vnni {
                            _mm256_dpbusd_epi32(correction[r], quants, xq[r])
                        } else if bias != 0 {
                            _mm256_add_epi32(B::maddubs_products(quants, xq[r]), correction[r])
                        } else {
                            B::maddubs_products(quants, xq[r])
                        };
                        let scale = _mm256_mul_ps(d, xd[r]);
                        acc[r][c][parity] =
                            _mm256_fmadd_ps(_mm256_cvtepi32_ps(products), scale, acc[r][c][parity]);
                        if B::HAS_OFFSET {
                            offsets[r][c][parity] = _mm256_fmadd_ps(
                                offset,
                                _mm256_set1_ps(xb[r].sum),
                                offsets[r][c][parity],
                            );
                        }
                    }
                }
            }
            for r in 0..R {
                for c in 0..C {
                    let [even, odd] = acc[r][c];
                    out[r][c] = hsum(_mm256_add_ps(even, odd));
                    if B::HAS_OFFSET {
                        let [even, odd] = offsets[r][c];
                        out[r][c] += hsum(_mm256_add_ps(even, odd)) * 0.125;
                    }
                }
            }
        }
    };
}

tile_kernel!(tile_avx2, "avx2,fma,f16c", false);
tile_kernel!(tile_vnni, "avx2,fma,f16c,avx512f,avx512vl,avx512vnni", true);

/// One tile of the shape `(R, C)` on the instruction set `simd` (never `Portable`).
///
/// # Safety
/// `simd` must be available, and every row must hold `x[0].len()` blocks.
#[inline]
unsafe fn run<B: TileBlock, const R: usize, const C: usize>(
    simd: Simd,
    w: &[&[B]],
    x: &[&[ActivationBlock]],
    out: &mut [f32],
) {
    let w: [&[B]; C] = std::array::from_fn(|c| w[c]);
    let x: [&[ActivationBlock]; R] = std::array::from_fn(|r| x[r]);
    let mut tile = [[0.0f32; C]; R];
    if simd == Simd::Avx512Vnni {
        tile_vnni::<B, R, C>(w, x, &mut tile);
    } else {
        tile_avx2::<B, R, C>(w, x, &mut tile);
    }
    for (out, row) in out.chunks_exact_mut(C).zip(&tile) {
        out.copy_from_slice(row);
    }
}

/// `out[r·w.len() + c] = Σ w[c]·x[r]` for 1..=4 weight rows `w` and 1..=4 activation rows
/// `x`, all of one length, on an x86 instruction set other than `Portable`.
///
/// # Safety
/// `simd` must be available on this CPU and not be `Simd::Portable`.
pub unsafe fn dot_tile<B: TileBlock>(
    simd: Simd,
    w: &[&[B]],
    x: &[&[ActivationBlock]],
    out: &mut [f32],
) {
    let blocks = x[0].len();
    assert!(
        (1..=MAX_TILE).contains(&w.len())
            && (1..=MAX_TILE).contains(&x.len())
            && out.len() == w.len() * x.len()
            && w.iter().all(|w| w.len() == blocks)
            && x.iter().all(|x| x.len() == blocks),
        "dot_tile: mismatched tile"
    );
    // SAFETY: the shapes were checked just above; `simd` is the caller's to check.
    macro_rules! dispatch {
        ($($r:literal, $c:literal);*) => {
            match (x.len(), w.len()) {
                $(($r, $c) => run::<B, $r, $c>(simd, w, x, out),)*
                _ => unreachable!("tile sizes were checked"),
            }
        };
    }
    dispatch!(1, 1; 1, 2; 1, 3; 1, 4; 2, 1; 2, 2; 2, 3; 2, 4;
              3, 1; 3, 2; 3, 3; 3, 4; 4, 1; 4, 2; 4, 3; 4, 4);
}
