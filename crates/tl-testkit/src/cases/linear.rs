//! Conformance cases: `linear`, the fused norm → product (→ SwiGLU) of a decoding model, with
//! float and quantized weights; one activation row (the GPU's fused kernels) and several
//! (the composed path), each norm with and without the gate.

use tl_tensor::{DType, LinearNorm, Op};

use super::quant::{FORMATS, QMATMUL_TOLERANCE};
use crate::case::{tolerance_for, Case, Fill, Input, View};

/// Quantized weights: `QMatMul`'s activation rounding (≈ 4e-3 relative, see cases/quant.rs),
/// plus the norm's and the output's rounding. Over 1,000 seeds of each one-row case (every
/// format, norm and dtype, 64 rows of k = 256) the relative error's median is 3.7e-3 to
/// 6.3e-3 and its largest 1.2e-2; wrong scales or rows give errors of order 1.
const QUANTIZED_TOLERANCE: f64 = 1.5e-2;

/// The gated form: silu(gate)·up, where a gate's absolute error (not its relative one) is the
/// activation rounding's, so outputs whose gates are far negative are tiny and relatively
/// inexact, and the error relative to a row of them has a long tail. Over the same seeds:
/// medians 5.6e-3 to 9.8e-3, 99th percentiles up to 2.5e-2, largest 3.8e-2 (Q4_K, f32). A
/// wrong scale in one 32-weight block of the eight in a row doubles that block's share of
/// each product: an error near 1/√8 ≈ 0.35.
const QUANTIZED_GATED_TOLERANCE: f64 = 6e-2;

fn quantized_tolerance(gated: bool) -> f64 {
    if gated {
        QUANTIZED_GATED_TOLERANCE
    } else {
        QUANTIZED_TOLERANCE
    }
}

const NORMS: [LinearNorm; 3] = [
    LinearNorm::None,
    LinearNorm::Rms { eps: 1e-5 },
    LinearNorm::AddRms { eps: 1e-5 },
];

/// The inputs of `Linear { norm, gated }` for activations `[rows, k]` and weights `w(n)`.
fn inputs(
    norm: LinearNorm,
    gated: bool,
    rows: usize,
    k: usize,
    dtype: DType,
    w: &dyn Fn() -> Input,
) -> Vec<Input> {
    let mut inputs = vec![Input::uniform(&[rows, k], dtype)];
    if let LinearNorm::AddRms { .. } = norm {
        inputs.push(Input::uniform(&[rows, k], dtype));
    }
    if norm != LinearNorm::None {
        inputs.push(Input::new(
            &[k],
            dtype,
            Fill::Uniform {
                low: 0.5,
                high: 1.5,
            },
        ));
    }
    inputs.push(w());
    if gated {
        inputs.push(w());
    }
    inputs
}

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for norm in NORMS {
        for gated in [false, true] {
            let op = Op::Linear { norm, gated };
            // The product's rounding doubles through the gate's two products.
            let float_tolerance =
                |dtype: DType| tolerance_for(dtype) * if gated { 2.0 } else { 1.0 };
            for dtype in DType::FLOATS {
                let w = || Input::uniform(&[33, 64], dtype);
                for rows in [1, 3] {
                    cases.push(Case::new(
                        op.clone(),
                        inputs(norm, gated, rows, 64, dtype, &w),
                        float_tolerance(dtype),
                    ));
                }
                // A width the vectorised kernels do not take.
                let odd = || Input::uniform(&[9, 10], dtype);
                cases.push(Case::new(
                    op.clone(),
                    inputs(norm, gated, 1, 10, dtype, &odd),
                    float_tolerance(dtype),
                ));
            }
            for format in FORMATS {
                let w = || Input::new(&[64, 256], format, Fill::Blocks);
                for (dtype, rows) in [(DType::F32, 1), (DType::BF16, 1), (DType::F32, 3)] {
                    cases.push(Case::new(
                        op.clone(),
                        inputs(norm, gated, rows, 256, dtype, &w),
                        quantized_tolerance(gated),
                    ));
                }
            }
            // An activation row inside a larger matrix, off the 16-byte alignment.
            let mut strided = inputs(norm, gated, 1, 64, DType::F32, &|| {
                Input::uniform(&[33, 64], DType::F32)
            });
            strided[0] = Input::uniform(&[1, 64], DType::F32).with_view(View::Narrowed);
            cases.push(Case::new(op.clone(), strided, float_tolerance(DType::F32)));
        }
    }
    cases
}

/// One activation row against many more weight rows than a GPU holds warps at once, so that
/// the GPU's warps each take several rows after computing the input once.
pub fn many_rows_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let norm = LinearNorm::AddRms { eps: 1e-5 };
    for gated in [false, true] {
        for dtype in DType::FLOATS {
            let w = || Input::uniform(&[20_000, 64], dtype);
            cases.push(Case::new(
                Op::Linear { norm, gated },
                inputs(norm, gated, 1, 64, dtype, &w),
                tolerance_for(dtype) * if gated { 2.0 } else { 1.0 },
            ));
        }
    }
    cases
}

/// Quantized weights with more rows than the GPU holds warps of its pair mat-vec, so that
/// every warp takes several rows (gate and up rows alternating in its pipeline).
pub fn many_quantized_rows_cases() -> Vec<Case> {
    let norm = LinearNorm::AddRms { eps: 1e-5 };
    [DType::Q8_0, DType::Q4_0]
        .into_iter()
        .flat_map(|format| {
            [false, true].map(|gated| {
                let w = || Input::new(&[5000, 128], format, Fill::Blocks);
                Case::new(
                    Op::Linear { norm, gated },
                    inputs(norm, gated, 1, 128, DType::BF16, &w),
                    quantized_tolerance(gated),
                )
            })
        })
        .collect()
}

/// Q4_1, Q4_K and Q6_K, which the GPU's pair mat-vec took after Q8_0 and Q4_0, in the shapes
/// that exercise it: one activation row of 40 pairs (a last chunk the lanes do not fill; ten
/// super-blocks, which for Q6_K alternate between on and off a word), as `QMatMul` and as a
/// plain and a gated `Linear` with more weight rows than the GPU holds warps; short rows (8
/// pairs, two super-blocks) in a gated `Linear`; and for Q4_1 a row of an odd number of
/// blocks, which another kernel takes.
pub fn more_pair_format_cases() -> Vec<Case> {
    let k = 64 * 40;
    let mut cases = Vec::new();
    for format in [DType::Q4_1, DType::Q4_K, DType::Q6_K] {
        cases.push(Case::new(
            Op::QMatMul,
            vec![
                Input::uniform(&[1, k], DType::BF16),
                Input::new(&[33, k], format, Fill::Blocks),
            ],
            QMATMUL_TOLERANCE,
        ));
        let norm = LinearNorm::AddRms { eps: 1e-5 };
        for gated in [false, true] {
            let w = || Input::new(&[3000, k], format, Fill::Blocks);
            cases.push(Case::new(
                Op::Linear { norm, gated },
                inputs(norm, gated, 1, k, DType::BF16, &w),
                quantized_tolerance(gated),
            ));
        }
        let short = || Input::new(&[3000, 512], format, Fill::Blocks);
        cases.push(Case::new(
            Op::Linear { norm, gated: true },
            inputs(norm, true, 1, 512, DType::BF16, &short),
            quantized_tolerance(true),
        ));
    }
    cases.push(Case::new(
        Op::QMatMul,
        vec![
            Input::uniform(&[1, 96], DType::F32),
            Input::new(&[33, 96], DType::Q4_1, Fill::Blocks),
        ],
        QMATMUL_TOLERANCE,
    ));
    cases
}
