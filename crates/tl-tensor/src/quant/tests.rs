//! Unit tests of the block codecs and dot kernels: hand-checkable blocks, and every kernel
//! (portable and AVX2) against the decoded weights on activations that quantize exactly.

use super::*;
use crate::random::mix64;

/// Deterministic pseudo-random bytes.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (mix64(seed ^ mix64(i as u64)) & 0xff) as u8)
        .collect()
}

/// `count` random blocks of `B` whose f16 scales are replaced by moderate values (random
/// bytes could be infinities or NaN).
fn random_blocks<B: QuantBlock>(seed: u64, count: usize) -> Vec<B> {
    let size = std::mem::size_of::<B>();
    let mut raw = bytes(seed, count * size);
    let scale_offsets: &[usize] = match B::DTYPE {
        DType::Q4_0 | DType::Q8_0 => &[0],
        DType::Q4_1 | DType::Q4_K => &[0, 2],
        _ => &[208],
    };
    for (b, block) in raw.chunks_exact_mut(size).enumerate() {
        for (s, &at) in scale_offsets.iter().enumerate() {
            let scale = 0.01 + 0.04 * (mix64(seed + (b * 2 + s) as u64) % 1000) as f32 / 1000.0;
            block[at..at + 2].copy_from_slice(&f32_to_f16(scale));
        }
    }
    bytemuck::cast_slice(&raw).to_vec()
}

/// Activations that quantize without error: integers in [-127, 127] times 2^-6, each block
/// holding ±127 so that its scale is exactly 2^-6.
fn exact_activations(seed: u64, len: usize) -> Vec<f32> {
    bytes(seed, len)
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            let q = if i % 32 == 5 {
                127
            } else {
                (b as i32 % 255) - 127
            };
            q as f32 / 64.0
        })
        .collect()
}

fn decode_all<B: QuantBlock>(blocks: &[B]) -> Vec<f32> {
    let mut out = vec![0.0; blocks.len() * B::WEIGHTS];
    for (block, out) in blocks.iter().zip(out.chunks_exact_mut(B::WEIGHTS)) {
        block.decode(out);
    }
    out
}

/// Every kernel path equals the f64 dot of decoded weights and exact activations (up to f32
/// accumulation).
fn check_dot<B: QuantBlock>() {
    let blocks_per_row = 9; // odd, so the AVX2 kernels' unrolled remainder runs
    let w: Vec<B> = random_blocks(B::WEIGHTS as u64 + B::DTYPE as u64, blocks_per_row);
    let k = blocks_per_row * B::WEIGHTS;
    let x = exact_activations(7, k);
    let mut act = vec![ActivationBlock::default(); k / ACTIVATION_BLOCK];
    quantize_activation(&x, &mut act);
    for (a, values) in act.iter().zip(x.chunks_exact(32)) {
        assert_eq!(a.d, 1.0 / 64.0);
        let decoded: Vec<f32> = a.qs.iter().map(|&q| q as f32 * a.d).collect();
        assert_eq!(decoded, values);
    }
    let expected: f64 = decode_all(&w)
        .iter()
        .zip(&x)
        .map(|(&w, &x)| w as f64 * x as f64)
        .sum();
    let norm: f64 = decode_all(&w)
        .iter()
        .zip(&x)
        .map(|(&w, &x)| (w as f64 * x as f64).abs())
        .sum();
    for simd in ALL_SIMD {
        if !simd.available() {
            continue;
        }
        let got = B::dot_row(simd, &w, &act) as f64;
        assert!(
            (got - expected).abs() <= 1e-5 * norm,
            "{} {simd:?}: {got} vs {expected}",
            B::DTYPE
        );
    }
}

#[test]
fn every_kernel_matches_the_decoded_dot_product() {
    check_dot::<BlockQ4_0>();
    check_dot::<BlockQ4_1>();
    check_dot::<BlockQ8_0>();
    check_dot::<BlockQ4K>();
    check_dot::<BlockQ6K>();
}

#[test]
fn portable_and_avx2_agree_on_long_rows() {
    fn agree<B: QuantBlock>() {
        if !Simd::Avx2.available() {
            return;
        }
        let w: Vec<B> = random_blocks(99, 4096 / B::WEIGHTS);
        let x: Vec<f32> = bytes(3, 4096)
            .iter()
            .map(|&b| b as f32 / 128.0 - 1.0)
            .collect();
        let mut act = vec![ActivationBlock::default(); 4096 / 32];
        quantize_activation(&x, &mut act);
        let portable = B::dot_row(Simd::Portable, &w, &act);
        let avx2 = B::dot_row(Simd::Avx2, &w, &act);
        let scale: f32 = decode_all(&w).iter().map(|v| v.abs()).sum();
        assert!(
            (portable - avx2).abs() <= 1e-5 * scale,
            "{}: {portable} vs {avx2}",
            B::DTYPE
        );
    }
    agree::<BlockQ4_0>();
    agree::<BlockQ4_1>();
    agree::<BlockQ8_0>();
    agree::<BlockQ4K>();
    agree::<BlockQ6K>();
}

#[test]
fn q4_0_block_decodes_by_hand() {
    let mut qs = [0x88u8; 16]; // every weight q = 8, value 0
    qs[0] = 0x1f; // weight 0: q = 15 → 7·d; weight 16: q = 1 → −7·d
    qs[15] = 0x80; // weight 15: q = 0 → −8·d; weight 31: q = 8 → 0
    let block = BlockQ4_0 {
        d: f32_to_f16(0.5),
        qs,
    };
    let mut out = [0.0f32; 32];
    block.decode(&mut out);
    assert_eq!(
        (out[0], out[16], out[15], out[31], out[1]),
        (3.5, -3.5, -4.0, 0.0, 0.0)
    );
}

#[test]
fn q4_1_and_q8_0_blocks_decode_by_hand() {
    let block = BlockQ4_1 {
        d: f32_to_f16(0.25),
        m: f32_to_f16(-1.0),
        qs: [0x3c; 16], // low nibble 12, high nibble 3
    };
    let mut out = [0.0f32; 32];
    block.decode(&mut out);
    assert_eq!((out[0], out[16]), (2.0, -0.25));

    let mut qs = [0i8; 32];
    qs[3] = -128;
    qs[31] = 127;
    let block = BlockQ8_0 {
        d: f32_to_f16(0.5),
        qs,
    };
    block.decode(&mut out);
    assert_eq!((out[3], out[31], out[0]), (-64.0, 63.5, 0.0));
}

#[test]
fn q4_k_scales_unpack_by_hand() {
    // Sub-block 1: scale 5 and min 9 whole; sub-block 6: scale 0b10_0011 (low 4 bits in
    // byte 10's low nibble, top 2 in byte 2's top bits), min 0b01_0111 (byte 10's high
    // nibble, byte 6's top bits).
    let mut scales = [0u8; 12];
    scales[1] = 5;
    scales[5] = 9;
    scales[10] = 0x73;
    scales[2] = 0b10 << 6;
    scales[6] = 0b01 << 6;
    let (scale, min) = scales_and_mins(&scales);
    assert_eq!((scale[1], min[1]), (5, 9));
    assert_eq!((scale[6], min[6]), (0b10_0011, 0b01_0111));
    assert_eq!(scale.iter().filter(|&&s| s != 0).count(), 2);
    assert_eq!(min.iter().filter(|&&m| m != 0).count(), 2);

    let mut block = BlockQ4K {
        d: f32_to_f16(2.0),
        dmin: f32_to_f16(0.5),
        scales,
        qs: [0; 128],
    };
    block.qs[96 + 4] = 0x0a; // sub-block 6 (pair 3, low nibbles), weight 6·32 + 4: q = 10
    let mut out = [0.0f32; 256];
    block.decode(&mut out);
    assert_eq!(out[6 * 32 + 4], 2.0 * 35.0 * 10.0 - 0.5 * 23.0);
    assert_eq!(out[32], -0.5 * 9.0); // sub-block 1, q = 0
}

#[test]
fn q6_k_block_decodes_by_hand() {
    let mut block = BlockQ6K {
        ql: [0; 128],
        qh: [0; 64],
        scales: [1; 16],
        d: f32_to_f16(0.5),
    };
    block.scales[13] = -3;
    // Weight 218 = 128 + 64 + 26 (second half, third group): the high nibble of
    // ql[64 + 26], bits 4-5 of qh[32 + 26], and scale 218 / 16 = 13.
    block.ql[64 + 26] = 0x90;
    block.qh[32 + 26] = 0b10 << 4;
    let mut out = [0.0f32; 256];
    block.decode(&mut out);
    let q = 9 + (0b10 << 4);
    assert_eq!(out[218], 0.5 * -3.0 * (q - 32) as f32);
    assert_eq!(out[0], 0.5 * -32.0);
}

#[test]
fn encoders_follow_ggml_rules_by_hand() {
    // Q8_0: amax 127 gives d = 1; 2.5 rounds away from zero to 3.
    let mut x = [0.0f32; 32];
    x[0] = -127.0;
    x[1] = 2.5;
    x[2] = -2.5;
    let block = BlockQ8_0::encode(&x);
    assert_eq!(f16_to_f32(block.d), 1.0);
    assert_eq!(&block.qs[..3], &[-127, 3, -3]);

    // Q4_0: the signed maximum (-4, first of |±4|) maps to q = 0, d = 0.5.
    let mut x = [0.0f32; 32];
    x[3] = -4.0;
    x[4] = 4.0;
    x[20] = 1.0;
    let block = BlockQ4_0::encode(&x);
    assert_eq!(f16_to_f32(block.d), 0.5);
    assert_eq!(block.qs[3] & 15, 0);
    // 4.0 / 0.5 = 8 → q = 16, clamped to 15 (the top of the range loses one step).
    assert_eq!(block.qs[4] & 15, 15);
    // x[20] = 1 → 1 · 2 + 8.5 = 10.5 → 10, in the high nibble of byte 4.
    assert_eq!(block.qs[4] >> 4, 10);

    // Q4_1: min -1, max 2 → d = 0.2, m = -1; 0.5 → (1.5 / 0.2) + 0.5 = 8.
    let mut x = [0.0f32; 32];
    x[0] = -1.0;
    x[1] = 2.0;
    x[2] = 0.5;
    let block = BlockQ4_1::encode(&x);
    assert_eq!(f16_to_f32(block.m), -1.0);
    assert_eq!(f16_to_f32(block.d), half::f16::from_f32(0.2).to_f32());
    assert_eq!(
        [block.qs[0] & 15, block.qs[1] & 15, block.qs[2] & 15],
        [0, 15, 8]
    );

    // A constant block has d = 0 and decodes to the constant.
    let block = BlockQ4_1::encode(&[0.75; 32]);
    let mut out = [0.0f32; 32];
    block.decode(&mut out);
    assert_eq!(out, [0.75; 32]);
}

#[test]
fn round_trips_stay_within_half_a_step() {
    let x: Vec<f32> = bytes(11, 32 * 16)
        .iter()
        .map(|&b| (b as f32 - 128.0) / 37.0)
        .collect();
    fn check<B: EncodeBlock>(x: &[f32], steps: f32) {
        for values in x.chunks_exact(32) {
            let values: &[f32; 32] = values.try_into().unwrap();
            let mut out = [0.0f32; 32];
            B::encode(values).decode(&mut out);
            let (lo, hi) = values
                .iter()
                .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
            let step = (hi - lo).max(hi.abs().max(lo.abs()) * 2.0) / steps;
            for (v, o) in values.iter().zip(&out) {
                assert!((v - o).abs() <= step, "{}: {v} → {o}", B::DTYPE);
            }
        }
    }
    check::<BlockQ8_0>(&x, 254.0 / 1.01);
    check::<BlockQ4_0>(&x, 15.0 / 1.01);
    check::<BlockQ4_1>(&x, 15.0 / 1.01);
}

#[test]
fn activations_with_nan_or_infinity_poison_the_dot() {
    let mut x = vec![0.5f32; 64];
    x[40] = f32::NAN;
    let mut act = vec![ActivationBlock::default(); 2];
    quantize_activation(&x, &mut act);
    assert!(act[0].d.is_finite() && act[1].d.is_nan());
    let w: Vec<BlockQ8_0> = random_blocks(1, 2);
    for simd in ALL_SIMD {
        if simd.available() {
            assert!(BlockQ8_0::dot_row(simd, &w, &act).is_nan());
            let mut out = [0.0f32; 2];
            BlockQ8_0::dot_tile(simd, &[&w, &w], &[&act], &mut out);
            assert!(out.iter().all(|v| v.is_nan()), "{simd:?}: {out:?}");
        }
    }
}

const ALL_SIMD: [Simd; 3] = [Simd::Portable, Simd::Avx2, Simd::Avx512Vnni];

/// Every tile shape (1..=4 weight rows × 1..=4 activation rows) on every instruction set
/// equals the portable row kernel per pair, and that instruction set's row kernel to the
/// bit, for rows of one block and of an odd count.
#[test]
fn tiles_match_the_row_kernel_per_pair() {
    fn check<B: QuantBlock>() {
        for blocks in [1, 9, 18] {
            let k = blocks * B::WEIGHTS;
            let w: Vec<Vec<B>> = (0..4)
                .map(|c| random_blocks(40 + c, k / B::WEIGHTS))
                .collect();
            let x: Vec<Vec<ActivationBlock>> = (0..4)
                .map(|r| {
                    let values: Vec<f32> = bytes(70 + r, k)
                        .iter()
                        .map(|&b| b as f32 / 64.0 - 2.0)
                        .collect();
                    let mut act = vec![ActivationBlock::default(); k / ACTIVATION_BLOCK];
                    quantize_activation(&values, &mut act);
                    act
                })
                .collect();
            let scale: f32 = w
                .iter()
                .map(|w| decode_all(w).iter().map(|v| v.abs() * 2.0).sum::<f32>())
                .fold(0.0, f32::max);
            for simd in ALL_SIMD.into_iter().filter(|s| s.available()) {
                for rows in 1..=4 {
                    for cols in 1..=4 {
                        let w_rows: Vec<&[B]> = w[..cols].iter().map(Vec::as_slice).collect();
                        let x_rows: Vec<&[ActivationBlock]> =
                            x[..rows].iter().map(Vec::as_slice).collect();
                        let mut out = vec![f32::NAN; rows * cols];
                        B::dot_tile(simd, &w_rows, &x_rows, &mut out);
                        for r in 0..rows {
                            for c in 0..cols {
                                let want = B::dot_row(Simd::Portable, &w[c], &x[r]);
                                let got = out[r * cols + c];
                                assert!(
                                    (got - want).abs() <= 1e-5 * scale,
                                    "{} {simd:?} tile {rows}x{cols} [{r},{c}], {blocks} blocks: {got} vs {want}",
                                    B::DTYPE
                                );
                                // Prefill (tiles) and decode (rows) must agree exactly: the
                                // activations are re-quantized after every layer, where a
                                // last-bit difference can move a value by a whole step.
                                let row = B::dot_row(simd, &w[c], &x[r]);
                                assert_eq!(
                                    got.to_bits(),
                                    row.to_bits(),
                                    "{} {simd:?} tile {rows}x{cols} [{r},{c}], {blocks} blocks: {got} vs row kernel {row}",
                                    B::DTYPE
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    check::<BlockQ4_0>();
    check::<BlockQ4_1>();
    check::<BlockQ8_0>();
    check::<BlockQ4K>();
}

#[test]
fn block_sizes_match_ggml() {
    for (size, dtype) in [
        (std::mem::size_of::<BlockQ4_0>(), DType::Q4_0),
        (std::mem::size_of::<BlockQ4_1>(), DType::Q4_1),
        (std::mem::size_of::<BlockQ8_0>(), DType::Q8_0),
        (std::mem::size_of::<BlockQ4K>(), DType::Q4_K),
        (std::mem::size_of::<BlockQ6K>(), DType::Q6_K),
    ] {
        assert_eq!(size, dtype.block_bytes(), "{dtype}");
    }
}

#[test]
fn tiny_activations_keep_their_relative_values() {
    // 1/d overflows f32 here; the quants must still span [-127, 127].
    let x: Vec<f32> = (0..32).map(|i| (i as f32 - 16.0) * 1e-39).collect();
    let mut act = [ActivationBlock::default()];
    quantize_activation(&x, &mut act);
    assert_eq!(act[0].qs[0], -127);
    assert_eq!(act[0].qs[16], 0);
    assert!((63..=64).contains(&act[0].qs[24])); // 8/16 · 127 = 63.5 (denormals round)
    for (q, v) in act[0].qs.iter().zip(&x) {
        assert!((*q as f32 * act[0].d - v).abs() <= act[0].d * 0.51);
    }
}

/// The mat-vec kernel over consecutive rows gives each row kernel's result to the bit, on
/// every instruction set (decode steps use it; prefill tiles match the row kernel).
#[test]
fn row_runs_match_the_row_kernel() {
    fn check<B: QuantBlock>() {
        for blocks in [1, 9, 18] {
            let k = blocks * B::WEIGHTS;
            let rows = 7;
            let w: Vec<B> = random_blocks(90, rows * (k / B::WEIGHTS));
            let values: Vec<f32> = bytes(91, k)
                .iter()
                .map(|&b| b as f32 / 64.0 - 2.0)
                .collect();
            let mut x = vec![ActivationBlock::default(); k / ACTIVATION_BLOCK];
            quantize_activation(&values, &mut x);
            for simd in ALL_SIMD.into_iter().filter(|s| s.available()) {
                let mut out = vec![f32::NAN; rows];
                B::dot_rows(simd, &w, &x, &mut out);
                for (j, (&got, row)) in out.iter().zip(w.chunks_exact(k / B::WEIGHTS)).enumerate() {
                    let want = B::dot_row(simd, row, &x);
                    assert_eq!(
                        got.to_bits(),
                        want.to_bits(),
                        "{} {simd:?} row {j}, {blocks} blocks: {got} vs row kernel {want}",
                        B::DTYPE
                    );
                }
            }
        }
    }
    check::<BlockQ4_0>();
    check::<BlockQ4_1>();
    check::<BlockQ8_0>();
    check::<BlockQ4K>();
    check::<BlockQ6K>();
}
