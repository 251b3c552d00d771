//! GGUF block formats (Q4_0, Q4_1, Q8_0, Q4_K, Q6_K): block codecs and the integer
//! dot-product kernels that the CPU backend's quantized ops are built from.
//!
//! Byte layouts are exactly ggml's (`ggml-common.h`): little-endian, no padding, f16 scales.
//! A matrix-vector product never dequantizes the weight: the activation row is quantized
//! once to [`ActivationBlock`]s (32 int8, an f32 scale, the sums of the quants and of the
//! values) and every weight block is combined with it by integer dot products, its scales
//! applied per block.
//!
//! Each format has a portable kernel written for LLVM's auto-vectoriser (quants unpacked into
//! `[i8; 32]`, one i32 dot shape) and a hand-written AVX2 kernel (unsigned×signed byte
//! multiply-adds, f16 scales converted by F16C); [`Simd::best`] picks at run time. A format
//! without its own AVX2 kernel would get the portable one compiled with AVX2 enabled.

mod activation;
#[cfg(target_arch = "x86_64")]
mod pair_rows;
mod q4_0;
mod q4_1;
mod q4_k;
mod q6_k;
mod q8_0;
#[cfg(target_arch = "x86_64")]
mod tile;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use activation::{quantize_activation, ActivationBlock, ACTIVATION_BLOCK};
pub use q4_0::BlockQ4_0;
pub use q4_1::BlockQ4_1;
pub use q4_k::{scales_and_mins, BlockQ4K};
pub use q6_k::BlockQ6K;
pub use q8_0::BlockQ8_0;

/// Most weight rows, and most activation rows, in one [`QuantBlock::dot_tile`].
pub const MAX_TILE: usize = 4;

use crate::DType;

/// One storage block of a GGUF quantized format.
pub trait QuantBlock: bytemuck::Pod + Send + Sync + 'static {
    /// The tensor dtype whose storage is made of these blocks.
    const DTYPE: DType;
    /// Weights per block (32, or 256 for the K formats).
    const WEIGHTS: usize;

    /// Writes the block's `WEIGHTS` values into `out[..WEIGHTS]`, computed in f32 in the
    /// order ggml's `dequantize_row_*` uses (so the results are bitwise ggml's).
    fn decode(&self, out: &mut [f32]);

    /// `Σ w·x` of this block with its `WEIGHTS / 32` activation blocks (portable code).
    fn dot(&self, x: &[ActivationBlock]) -> f32;

    /// `Σ w·x` over a row of blocks with the matching activation blocks, using `simd`
    /// when the CPU has it. Formats with a hand-written kernel override this.
    #[inline]
    fn dot_row(simd: Simd, w: &[Self], x: &[ActivationBlock]) -> f32 {
        #[cfg(target_arch = "x86_64")]
        if simd != Simd::Portable && Simd::Avx2.available() {
            // SAFETY: the CPU supports AVX2, FMA and F16C (checked just above).
            return unsafe { x86::dot_row_autovectorised(w, x) };
        }
        let _ = simd;
        dot_row_portable(w, x)
    }

    /// `out[i] = Σ w[i·n..(i + 1)·n]·x` for `out.len()` consecutive weight rows of
    /// `n = x.len() · 32 / WEIGHTS` blocks each: the mat-vec of a decode step. Each result is
    /// [`QuantBlock::dot_row`]'s to the bit. Formats with a hand-written kernel override this
    /// to choose the instruction set once for all the rows.
    #[inline]
    fn dot_rows(simd: Simd, w: &[Self], x: &[ActivationBlock], out: &mut [f32]) {
        dot_rows_by_row(simd, w, x, out)
    }

    /// `out[r·w.len() + c] = Σ w[c]·x[r]` for a tile of 1..=4 weight rows `w` and 1..=4
    /// activation rows `x`, all of one length. Formats with a tile kernel override this
    /// (it shares per-block work between the rows); the default runs the row kernel per pair.
    #[inline]
    fn dot_tile(simd: Simd, w: &[&[Self]], x: &[&[ActivationBlock]], out: &mut [f32]) {
        dot_tile_by_rows(simd, w, x, out)
    }
}

/// [`QuantBlock::dot_tile`] as one row kernel call per (activation row, weight row).
#[inline]
pub fn dot_tile_by_rows<B: QuantBlock>(
    simd: Simd,
    w: &[&[B]],
    x: &[&[ActivationBlock]],
    out: &mut [f32],
) {
    for (out, x) in out.chunks_exact_mut(w.len()).zip(x) {
        for (o, w) in out.iter_mut().zip(w) {
            *o = B::dot_row(simd, w, x);
        }
    }
}

/// Each output with its weight row, for consecutive weight rows of `x.len() · 32 / WEIGHTS`
/// blocks: the loop of every [`QuantBlock::dot_rows`], written out inside each kernel
/// (not through a closure) so that it is compiled with the kernel's target features and the
/// row kernel inlines into it.
#[inline(always)]
pub(crate) fn row_runs<'a, 'o, B: QuantBlock>(
    w: &'a [B],
    x: &[ActivationBlock],
    out: &'o mut [f32],
) -> impl Iterator<Item = (&'o mut f32, &'a [B])> {
    let per_row = x.len() * ACTIVATION_BLOCK / B::WEIGHTS;
    assert!(
        per_row > 0 && w.len() >= out.len() * per_row,
        "dot_rows: {} weight blocks for {} rows of {per_row}",
        w.len(),
        out.len()
    );
    out.iter_mut().zip(w.chunks_exact(per_row))
}

/// [`QuantBlock::dot_rows`] through the fastest kernel `simd` allows for a format with a
/// paired-block kernel and an AVX2 row kernel `avx2` (built for AVX2, FMA and F16C); false,
/// having done nothing, when the CPU runs neither.
#[cfg(target_arch = "x86_64")]
#[inline]
fn dot_rows_simd<B: pair_rows::PairBlock>(
    simd: Simd,
    w: &[B],
    x: &[ActivationBlock],
    out: &mut [f32],
    avx2: unsafe fn(&[B], &[ActivationBlock], &mut [f32]),
) -> bool {
    if simd == Simd::Avx512Vnni && Simd::Avx512Vnni.available() {
        // SAFETY: the CPU supports AVX2, FMA, F16C and AVX-512 F, VL and VNNI (checked
        // just above).
        unsafe { pair_rows::dot_rows_pairs(w, x, out) };
        return true;
    }
    if simd != Simd::Portable && Simd::Avx2.available() {
        // SAFETY: the CPU supports AVX2, FMA and F16C (checked just above), all `avx2` needs.
        unsafe { avx2(w, x, out) };
        return true;
    }
    false
}

/// [`QuantBlock::dot_rows`] and [`QuantBlock::dot_tile`] of a format with an AVX2 row
/// kernel `avx2::dot_rows` beside the impl, a paired-block kernel and a tile kernel (Q4_0,
/// Q4_1 and Q8_0): written once here, expanded inside each format's impl.
macro_rules! paired_rows_and_tiles {
    () => {
        #[inline]
        fn dot_rows(simd: Simd, w: &[Self], x: &[ActivationBlock], out: &mut [f32]) {
            #[cfg(target_arch = "x86_64")]
            if super::dot_rows_simd(simd, w, x, out, avx2::dot_rows) {
                return;
            }
            // Neither kernel runs here, so each row takes the portable one.
            super::dot_rows_by_row(simd, w, x, out);
        }

        #[cfg(target_arch = "x86_64")]
        #[inline]
        fn dot_tile(simd: Simd, w: &[&[Self]], x: &[&[ActivationBlock]], out: &mut [f32]) {
            super::tile_or_rows(simd, w, x, out)
        }
    };
}
use paired_rows_and_tiles;

/// The tile kernel when the CPU runs one, else the row kernels.
#[cfg(target_arch = "x86_64")]
#[inline]
fn tile_or_rows<B: tile::TileBlock>(
    simd: Simd,
    w: &[&[B]],
    x: &[&[ActivationBlock]],
    out: &mut [f32],
) {
    if simd != Simd::Portable && simd.available() {
        // SAFETY: `simd` is an x86 instruction set this CPU supports (checked just above).
        unsafe { tile::dot_tile(simd, w, x, out) }
    } else {
        dot_tile_by_rows(simd, w, x, out)
    }
}

/// The three formats that [`crate::Op::Quantize`] can produce.
pub trait EncodeBlock: QuantBlock {
    /// Quantizes 32 values exactly as ggml's `quantize_row_*_ref` does (f32 arithmetic).
    fn encode(x: &[f32; 32]) -> Self;
}

/// [`QuantBlock::dot_rows`] as one [`QuantBlock::dot_row`] a row: the default, and the
/// fallback of the formats' own kernels.
#[inline]
pub(crate) fn dot_rows_by_row<B: QuantBlock>(
    simd: Simd,
    w: &[B],
    x: &[ActivationBlock],
    out: &mut [f32],
) {
    for (o, row) in row_runs(w, x, out) {
        *o = B::dot_row(simd, row, x);
    }
}

/// The portable row kernel: block by block, each block's integer dot scaled once.
#[inline(always)]
pub fn dot_row_portable<B: QuantBlock>(w: &[B], x: &[ActivationBlock]) -> f32 {
    let per_block = B::WEIGHTS / ACTIVATION_BLOCK;
    w.iter()
        .zip(x.chunks_exact(per_block))
        .map(|(block, xs)| block.dot(xs))
        .sum()
}

/// Which instruction set the dot-product kernels use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Simd {
    /// Plain Rust, vectorised by LLVM for the compile target (SSE2 on generic x86-64).
    Portable,
    /// AVX2 + FMA + F16C, chosen at run time.
    Avx2,
    /// AVX2 kernels, plus AVX-512 VNNI (with VL) byte dot products in the tile kernels.
    Avx512Vnni,
}

impl Simd {
    /// The fastest kernels this CPU runs.
    pub fn best() -> Simd {
        if Simd::Avx512Vnni.available() {
            Simd::Avx512Vnni
        } else if Simd::Avx2.available() {
            Simd::Avx2
        } else {
            Simd::Portable
        }
    }

    /// Whether this CPU can run these kernels.
    pub fn available(self) -> bool {
        match self {
            Simd::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 => {
                is_x86_feature_detected!("avx2")
                    && is_x86_feature_detected!("fma")
                    && is_x86_feature_detected!("f16c")
            }
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512Vnni => {
                Simd::Avx2.available()
                    && is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512vl")
                    && is_x86_feature_detected!("avx512vnni")
            }
            #[cfg(not(target_arch = "x86_64"))]
            Simd::Avx2 | Simd::Avx512Vnni => false,
        }
    }
}

/// Runs `$body` with `$b` bound to the block type of a quantized `DType`; other dtypes reach
/// `$otherwise`.
#[macro_export]
macro_rules! with_block_type {
    ($dtype:expr, $b:ident => $body:expr, _ => $otherwise:expr) => {
        match $dtype {
            $crate::DType::Q4_0 => {
                type $b = $crate::quant::BlockQ4_0;
                $body
            }
            $crate::DType::Q4_1 => {
                type $b = $crate::quant::BlockQ4_1;
                $body
            }
            $crate::DType::Q8_0 => {
                type $b = $crate::quant::BlockQ8_0;
                $body
            }
            $crate::DType::Q4_K => {
                type $b = $crate::quant::BlockQ4K;
                $body
            }
            $crate::DType::Q6_K => {
                type $b = $crate::quant::BlockQ6K;
                $body
            }
            _ => $otherwise,
        }
    };
}

/// An f16 stored as two little-endian bytes, widened to f32 exactly. Inline bit arithmetic
/// (no call, no run-time feature check), so the portable kernels stay tight.
#[inline(always)]
pub(crate) fn f16_to_f32(bytes: [u8; 2]) -> f32 {
    let bits = u16::from_le_bytes(bytes) as u32;
    let sign = (bits & 0x8000) << 16;
    let magnitude = bits & 0x7fff;
    if magnitude >= 0x7c00 {
        // Infinity or NaN: all-ones exponent, the mantissa (NaN payload) kept.
        return f32::from_bits(sign | 0x7f80_0000 | ((magnitude & 0x3ff) << 13));
    }
    // Shifting the exponent and mantissa into f32's fields gives the value times 2^-112
    // for normal and subnormal halves alike; the power-of-two product is exact.
    let scaled = f32::from_bits(magnitude << 13) * f32::from_bits(0x7780_0000); // 2^112
    f32::from_bits(sign | scaled.to_bits())
}

/// `Σ a·b` over 32 signed bytes in i32: the shape LLVM turns into widening multiply-adds.
#[inline(always)]
pub(crate) fn dot32(a: &[i8; 32], b: &[i8; 32]) -> i32 {
    let mut sum = 0i32;
    for i in 0..32 {
        sum += a[i] as i32 * b[i] as i32;
    }
    sum
}

/// 16 bytes of packed nibbles as 32 small integers: low nibbles first (weights 0..16), then
/// high nibbles (weights 16..32), ggml's order.
#[inline(always)]
pub(crate) fn unpack_nibbles(qs: &[u8; 16]) -> [i8; 32] {
    let mut q = [0i8; 32];
    for j in 0..16 {
        q[j] = (qs[j] & 15) as i8;
        q[j + 16] = (qs[j] >> 4) as i8;
    }
    q
}

/// An f32 rounded to f16 (nearest, ties to even, as ggml's `GGML_FP32_TO_FP16`), as bytes.
#[inline(always)]
pub(crate) fn f32_to_f16(value: f32) -> [u8; 2] {
    half::f16::from_f32(value).to_bits().to_le_bytes()
}

#[cfg(test)]
mod tests;
