//! Conformance cases: batched matmul with transposes, broadcast batches and strided views.

use tl_tensor::{DType, Op};

use crate::case::{tolerance_for, Case, Input, View};

fn matmul(transpose_lhs: bool, transpose_rhs: bool) -> Op {
    Op::MatMul {
        transpose_lhs,
        transpose_rhs,
    }
}

/// Inputs are uniform in [-1, 1) and already rounded to their dtype, so the only error is the
/// backend's accumulation and the final rounding. An f32 dot product of k terms summed in f32
/// drifts by about √k·2⁻²⁴ relative (≈ 1e-6 for k = 256), well inside 1e-5; f16 and bf16
/// outputs accumulate in f32 and round once, which `tolerance_for` covers.
pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for dtype in DType::FLOATS {
        let tol = tolerance_for(dtype);
        let x = |shape: &[usize]| Input::uniform(shape, dtype);
        let mut push = |op: Op, lhs: Input, rhs: Input| {
            cases.push(Case::new(op, vec![lhs, rhs], tol));
        };
        // Odd sizes, mat-vec shapes and a 1×1×1 product.
        for (m, k, n) in [(1, 1, 1), (7, 33, 5), (1, 33, 7), (7, 33, 1), (33, 7, 33)] {
            push(matmul(false, false), x(&[m, k]), x(&[k, n]));
        }
        // Every transpose combination: operands stored as [k, m] and [n, k] where flagged.
        for (tl, tr) in [(true, false), (false, true), (true, true)] {
            let lhs = if tl { x(&[33, 7]) } else { x(&[7, 33]) };
            let rhs = if tr { x(&[5, 33]) } else { x(&[33, 5]) };
            push(matmul(tl, tr), lhs, rhs);
        }
        // Permuted views: a physically transposed lhs, and a batch-major permutation.
        push(
            matmul(false, false),
            x(&[7, 33]).with_view(View::Permuted(vec![1, 0])),
            x(&[33, 5]),
        );
        push(
            matmul(false, true),
            x(&[3, 7, 9]).with_view(View::Permuted(vec![1, 0, 2])),
            x(&[3, 5, 9]).with_view(View::Permuted(vec![2, 0, 1])),
        );
        push(
            matmul(true, false),
            x(&[2, 9, 7]).with_view(View::Narrowed),
            x(&[2, 9, 5]).with_view(View::Narrowed),
        );
        // Broadcast batches: missing axes, size-1 axes on both sides, and a stride-0 view.
        push(matmul(false, false), x(&[2, 3, 7, 9]), x(&[3, 9, 5]));
        push(matmul(false, false), x(&[4, 1, 7, 9]), x(&[1, 3, 9, 5]));
        push(
            matmul(false, false),
            x(&[4, 7, 9]),
            x(&[4, 9, 5]).with_view(View::Broadcast(vec![1, 9, 5])),
        );
        push(
            matmul(false, false),
            x(&[7, 9]).with_view(View::Broadcast(vec![1, 9])),
            x(&[9, 5]),
        );
        // A shared rhs under a dense lhs batch (one tall product) and under a narrowed one.
        push(matmul(false, false), x(&[2, 3, 7, 33]), x(&[33, 5]));
        push(
            matmul(false, true),
            x(&[3, 7, 33]).with_view(View::Narrowed),
            x(&[5, 33]),
        );
        // Decoding's products: one to four rows against a dense [n, k] weight, k a whole
        // number of 16-byte vectors (the GPU's streaming mat-vec) with and without a tail
        // past its unrolled loop, plus a batch of rows and an unaligned k.
        // One row with long rows (the GPU's long-row kernel): within and past one batch.
        for (rows, k, n) in [
            (1, 64, 33),
            (2, 1032, 17),
            (3, 256, 9),
            (4, 4104, 3),
            (1, 5632, 20),
            (1, 7176, 5),
        ] {
            push(matmul(false, true), x(&[rows, k]), x(&[n, k]));
        }
        push(matmul(false, true), x(&[2, 1, 128]), x(&[40, 128]));
        push(matmul(false, true), x(&[1, 36]), x(&[7, 36]));
        // Empty extents: k = 0 gives zeros; m = 0 and an empty batch give nothing.
        push(matmul(false, false), x(&[7, 0]), x(&[0, 5]));
        push(matmul(true, true), x(&[2, 0, 7]), x(&[2, 5, 0]));
        push(matmul(false, false), x(&[0, 5]), x(&[5, 3]));
        push(matmul(false, false), x(&[0, 3, 4]), x(&[4, 2]));
    }
    // Large enough that gemm splits one product across threads.
    cases.push(Case::new(
        matmul(false, true),
        vec![
            Input::uniform(&[128, 256], DType::F32),
            Input::uniform(&[96, 256], DType::F32),
        ],
        tolerance_for(DType::F32),
    ));
    cases.push(Case::new(
        matmul(false, false),
        vec![
            Input::uniform(&[130, 129], DType::BF16),
            Input::uniform(&[129, 131], DType::BF16),
        ],
        tolerance_for(DType::BF16),
    ));
    cases
}
