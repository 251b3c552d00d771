//! Conformance cases: `dequantize`, `quantize` and `qmatmul` over the GGUF block formats.

use tl_tensor::{DType, Op};

use crate::case::{tolerance_for, Case, Fill, Input, View};

/// Every GGUF block format the quantized ops take.
pub(crate) const FORMATS: [DType; 5] = [
    DType::Q4_0,
    DType::Q4_1,
    DType::Q8_0,
    DType::Q4_K,
    DType::Q6_K,
];
const QUANTIZABLE: [DType; 3] = [DType::Q8_0, DType::Q4_0, DType::Q4_1];

/// Quantize: the backend and the reference both follow ggml's reference quantizers in f32
/// arithmetic, so their blocks agree bit for bit and so do the decoded values. A single
/// quant off by one in these small tensors would already move the relative L2 error above
/// 1e-4, so 1e-6 demands exactness while leaving room for nothing but f64 noise.
const QUANTIZE_TOLERANCE: f64 = 1e-6;

/// QMatMul rounds each activation to 8 bits per 32-block (scale amax/127): the rounding error
/// is uniform with RMS `amax / (127·√12) ≈ 2.3e-3` for inputs in [-1, 1), whose RMS is
/// `1/√3`, i.e. ≈ 3.9e-3 relative per element; it is independent of the weights, so the dot
/// products inherit the same relative L2 error (~4e-3). 1e-2 leaves a 2.5× margin; f16 output
/// rounding adds 5e-4 and bf16 4e-3 (in quadrature ≈ 5.6e-3), still inside it. A wrong scale,
/// min or nibble order gives errors of order 1. Every case has at least 33 independent
/// outputs: with only a handful, the ratio of error to signal norms has a heavy tail.
pub(crate) const QMATMUL_TOLERANCE: f64 = 1e-2;

fn blocks(shape: &[usize], dtype: DType) -> Input {
    Input::new(shape, dtype, Fill::Blocks)
}

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    dequantize_cases(&mut cases);
    quantize_cases(&mut cases);
    qmatmul_cases(&mut cases);
    cases
}

fn dequantize_cases(cases: &mut Vec<Case>) {
    for format in FORMATS {
        let block = format.block_size();
        for dtype in DType::FLOATS {
            let op = Op::Dequantize { dtype };
            let tol = tolerance_for(dtype);
            cases.push(Case::new(op.clone(), vec![blocks(&[block], format)], tol));
            cases.push(Case::new(
                op.clone(),
                vec![blocks(&[7, 2 * block], format)],
                tol,
            ));
            // Rows reordered: the blocks of each row stay dense, the rows are strided.
            cases.push(Case::new(
                op.clone(),
                vec![blocks(&[3, 5, block], format).with_view(View::Permuted(vec![1, 0, 2]))],
                tol,
            ));
            // One row read by every output row (stride 0).
            cases.push(Case::new(
                op.clone(),
                vec![blocks(&[5, 2 * block], format).with_view(View::Broadcast(vec![1, 2 * block]))],
                tol,
            ));
            cases.push(Case::new(op, vec![blocks(&[0, block], format)], tol));
        }
        // A larger dense tensor: many rayon tasks, a ragged last one.
        cases.push(Case::new(
            Op::Dequantize { dtype: DType::F32 },
            vec![blocks(&[33, 4096], format)],
            tolerance_for(DType::F32),
        ));
    }
}

fn quantize_cases(cases: &mut Vec<Case>) {
    for format in QUANTIZABLE {
        let op = Op::Quantize { dtype: format };
        for dtype in DType::FLOATS {
            let x = |shape: &[usize]| Input::uniform(shape, dtype);
            let tol = QUANTIZE_TOLERANCE;
            cases.push(Case::new(op.clone(), vec![x(&[32])], tol));
            cases.push(Case::new(op.clone(), vec![x(&[7, 64])], tol));
            cases.push(Case::new(
                op.clone(),
                vec![x(&[7, 64]).with_view(View::Permuted(vec![1, 0]))],
                tol,
            ));
            cases.push(Case::new(
                op.clone(),
                vec![x(&[3, 96]).with_view(View::Narrowed)],
                tol,
            ));
            cases.push(Case::new(
                op.clone(),
                vec![x(&[4, 64]).with_view(View::Broadcast(vec![1, 64]))],
                tol,
            ));
            cases.push(Case::new(op.clone(), vec![x(&[0, 32])], tol));
        }
        // Exact ties and zero blocks: a block of zeros (d = 0), a constant block (Q4_1's
        // max = min), and values on the rounding midpoints of each format.
        let special = [
            0.0, 0.0, 0.5, -0.5, 1.0, -1.0, 0.25, 127.0, -127.0, 63.5, -8.0, 7.5,
        ];
        cases.push(Case::new(
            op.clone(),
            vec![Input::values(&[3, 32], DType::F32, &special)],
            QUANTIZE_TOLERANCE,
        ));
        cases.push(Case::new(
            op.clone(),
            vec![Input::values(&[2, 32], DType::F32, &[0.0])],
            QUANTIZE_TOLERANCE,
        ));
        cases.push(Case::new(
            op.clone(),
            vec![Input::values(&[1, 32], DType::F32, &[0.75])],
            QUANTIZE_TOLERANCE,
        ));
        cases.push(Case::new(
            op,
            vec![Input::uniform(&[5, 4096], DType::F32)],
            QUANTIZE_TOLERANCE,
        ));
    }
}

fn qmatmul_cases(cases: &mut Vec<Case>) {
    let tol = QMATMUL_TOLERANCE;
    for format in FORMATS {
        let k = 256;
        let w = |n: usize| blocks(&[n, k], format);
        for dtype in DType::FLOATS {
            let x = |shape: &[usize]| Input::uniform(shape, dtype);
            // Mat-vec (decode), a few rows, more rows than a tile, odd n throughout.
            cases.push(Case::new(Op::QMatMul, vec![x(&[1, k]), w(33)], tol));
            cases.push(Case::new(Op::QMatMul, vec![x(&[7, k]), w(33)], tol));
            cases.push(Case::new(Op::QMatMul, vec![x(&[33, k]), w(17)], tol));
        }
        let x = |shape: &[usize]| Input::uniform(shape, DType::F32);
        // A 1-D activation, batch axes, and non-contiguous activations.
        cases.push(Case::new(Op::QMatMul, vec![x(&[k]), w(33)], tol));
        cases.push(Case::new(Op::QMatMul, vec![x(&[2, 3, k]), w(33)], tol));
        cases.push(Case::new(
            Op::QMatMul,
            vec![x(&[7, k]).with_view(View::Permuted(vec![1, 0])), w(33)],
            tol,
        ));
        cases.push(Case::new(
            Op::QMatMul,
            vec![x(&[2, 7, k]).with_view(View::Permuted(vec![1, 0, 2])), w(9)],
            tol,
        ));
        cases.push(Case::new(
            Op::QMatMul,
            vec![x(&[7, k]).with_view(View::Narrowed), w(33)],
            tol,
        ));
        cases.push(Case::new(
            Op::QMatMul,
            vec![
                x(&[3, 7, k]).with_view(View::Broadcast(vec![1, 7, k])),
                w(33),
            ],
            tol,
        ));
        // The weight's rows all alias one stored row (stride 0).
        cases.push(Case::new(
            Op::QMatMul,
            vec![
                x(&[33, k]),
                blocks(&[9, k], format).with_view(View::Broadcast(vec![1, k])),
            ],
            tol,
        ));
        // Fewer weight rows than one task's minimum.
        cases.push(Case::new(Op::QMatMul, vec![x(&[33, k]), w(5)], tol));
        // More activation rows than one task's block: ragged row blocks and tiles.
        cases.push(Case::new(Op::QMatMul, vec![x(&[70, k]), w(33)], tol));
        // Empty: no activation rows, no weight rows.
        cases.push(Case::new(Op::QMatMul, vec![x(&[0, k]), w(33)], tol));
        cases.push(Case::new(Op::QMatMul, vec![x(&[7, k]), w(0)], tol));
        // The LLM shapes: a long reduction, as mat-vec and as a small prefill.
        cases.push(Case::new(
            Op::QMatMul,
            vec![x(&[1, 4096]), blocks(&[33, 4096], format)],
            tol,
        ));
        cases.push(Case::new(
            Op::QMatMul,
            vec![x(&[7, 4096]), blocks(&[33, 4096], format)],
            tol,
        ));
    }
}

/// One activation row against Q8_0 and Q4_0 weights in the shapes the GPU's pair mat-vec
/// (a lane takes two blocks) does and does not take: a last chunk of pairs the lanes do not
/// fill, a `Linear` with more weight rows than the GPU holds warps (each warp runs on
/// across rows), and an odd number of blocks a row (another kernel).
pub fn block_pair_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for format in [DType::Q8_0, DType::Q4_0] {
        for dtype in [DType::F32, DType::BF16] {
            let x = |k: usize| Input::uniform(&[1, k], dtype);
            cases.push(Case::new(
                Op::QMatMul,
                vec![x(64 * 40), blocks(&[33, 64 * 40], format)],
                QMATMUL_TOLERANCE,
            ));
            cases.push(Case::new(
                Op::QMatMul,
                vec![x(96), blocks(&[33, 96], format)],
                QMATMUL_TOLERANCE,
            ));
        }
    }
    cases
}
