//! `Contiguous` of a transposed matrix of 4-byte elements by 16×16 tiles in AVX-512
//! registers: sixteen source rows of one 64-byte line each become sixteen output lines,
//! written whole (with streaming stores when the output is far beyond the caches, so no
//! output line is read before being overwritten). The element-by-element tiles of
//! `copy.rs` handle every other case.

use rayon::prelude::*;

/// Outputs from which lines are written with streaming stores.
const STREAM_BYTES: usize = 16 << 20;

/// Side of a register tile (16 four-byte elements: one 64-byte line).
const SIDE: usize = 16;
/// Output rows per task: eight tiles stacked.
const BAND: usize = 8 * SIDE;

/// `dst[r·len + c] = src[offset + r + c·stride]` for `r < rows`, `c < len`, when the CPU
/// has AVX-512F; returns false (nothing written) otherwise. The caller has checked that every
/// element read lies in `src` and that `dst` holds `rows·len` elements.
pub(super) fn transpose_u32(
    src: &[u32],
    (offset, stride): (usize, usize),
    (rows, len): (usize, usize),
    dst: &mut [u32],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512f") {
        let stream = dst.len() * 4 >= STREAM_BYTES;
        dst.par_chunks_mut(BAND * len)
            .enumerate()
            .for_each(|(band, out)| {
                let r0 = band * BAND;
                let height = out.len() / len;
                // SAFETY: the CPU was just checked for AVX-512F.
                unsafe { band_avx512(src, (offset + r0, stride), (height, len), out, stream) };
            });
        return true;
    }
    let _ = (src, offset, stride, rows, len, dst);
    false
}

/// One band of `height ≤ BAND` output rows: whole 16×16 tiles through registers, the rest
/// element by element. Per step of 16 columns the band's tiles are stacked, so each of the 16
/// source rows is read as `BAND / 16` adjacent lines (one page visit per source row and band).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn band_avx512(
    src: &[u32],
    (first, stride): (usize, usize),
    (height, len): (usize, usize),
    out: &mut [u32],
    stream: bool,
) {
    use std::arch::x86_64::*;
    let (tiles_down, whole) = (height / SIDE, len / SIDE * SIDE);
    // Streaming stores need 64-byte aligned lines: whole rows of a multiple of 16 elements
    // from an aligned start.
    let stream = stream && len.is_multiple_of(SIDE) && (out.as_ptr() as usize).is_multiple_of(64);
    for c0 in (0..whole).step_by(SIDE) {
        for t in 0..tiles_down {
            let r0 = t * SIDE;
            let rows: [__m512; SIDE] = std::array::from_fn(|k| {
                let line = &src[first + r0 + (c0 + k) * stride..][..SIDE];
                // SAFETY: `line` is 16 readable elements; the load is unaligned.
                _mm512_loadu_ps(line.as_ptr() as *const f32)
            });
            let columns = transpose16(rows);
            for (i, column) in columns.into_iter().enumerate() {
                let line = &mut out[(r0 + i) * len + c0..][..SIDE];
                // SAFETY: `line` is 16 writable elements, 64-byte aligned when streaming.
                if stream {
                    _mm512_stream_ps(line.as_mut_ptr() as *mut f32, column);
                } else {
                    _mm512_storeu_ps(line.as_mut_ptr() as *mut f32, column);
                }
            }
        }
    }
    if stream {
        // Streaming stores are weakly ordered: make them visible before the task ends.
        _mm_sfence();
    }
    for (i, row) in out.chunks_exact_mut(len).enumerate() {
        let done = if i < tiles_down * SIDE { whole } else { 0 };
        for (c, o) in row.iter_mut().enumerate().skip(done) {
            *o = src[first + i + c * stride];
        }
    }
}

/// Rows `r[0..16]` of a 16×16 tile in, its columns out: interleaves of 32-bit, then 64-bit
/// elements within 128-bit lanes, then two rounds of 128-bit lane shuffles.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn transpose16(r: [std::arch::x86_64::__m512; 16]) -> [std::arch::x86_64::__m512; 16] {
    use std::arch::x86_64::*;
    let mut t = [_mm512_setzero_ps(); 16];
    for i in 0..8 {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    let mut u = [_mm512_setzero_ps(); 16];
    for q in 0..4 {
        let (a, b, c, d) = (t[4 * q], t[4 * q + 1], t[4 * q + 2], t[4 * q + 3]);
        let (a, b, c, d) = (
            _mm512_castps_pd(a),
            _mm512_castps_pd(b),
            _mm512_castps_pd(c),
            _mm512_castps_pd(d),
        );
        u[4 * q] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        u[4 * q + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        u[4 * q + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        u[4 * q + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    // u[4q + j] holds, in each 128-bit lane l, column 4l + j of rows 4q..4q+4.
    let mut v = [_mm512_setzero_ps(); 16];
    for h in 0..2 {
        for j in 0..4 {
            let (a, b) = (u[8 * h + j], u[8 * h + 4 + j]);
            v[8 * h + j] = _mm512_shuffle_f32x4(a, b, 0x88);
            v[8 * h + 4 + j] = _mm512_shuffle_f32x4(a, b, 0xdd);
        }
    }
    let mut out = [_mm512_setzero_ps(); 16];
    for j in 0..8 {
        let (a, b) = (v[j], v[8 + j]);
        out[j] = _mm512_shuffle_f32x4(a, b, 0x88);
        out[8 + j] = _mm512_shuffle_f32x4(a, b, 0xdd);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shape around the tile size, with an offset and a stride wider than the rows.
    #[test]
    fn transposes_match_the_definition() {
        for (rows, len) in [
            (16, 16),
            (32, 48),
            (17, 33),
            (5, 70),
            (48, 7),
            (1, 16),
            (150, 37),
            (64, 64),
        ] {
            let (offset, stride) = (3, rows + 5);
            let src: Vec<u32> = (0..offset + rows + len * stride)
                .map(|i| i as u32)
                .collect();
            let mut dst = vec![u32::MAX; rows * len];
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .unwrap();
            if !pool.install(|| transpose_u32(&src, (offset, stride), (rows, len), &mut dst)) {
                return;
            }
            for r in 0..rows {
                for c in 0..len {
                    assert_eq!(
                        dst[r * len + c],
                        src[offset + r + c * stride],
                        "{rows}x{len} [{r},{c}]"
                    );
                }
            }
        }
    }
}
