//! Conformance cases: views (checked by materialising them), contiguous, cast and concat.

use tl_tensor::{DType, Op};

use crate::case::{tolerance_for, Case, Fill, Input, View};

const ALL_PLAIN: [DType; 7] = [
    DType::F32,
    DType::F16,
    DType::BF16,
    DType::I32,
    DType::I64,
    DType::U8,
    DType::Bool,
];

fn input_of(shape: &[usize], dtype: DType) -> Input {
    match dtype {
        DType::Bool => Input::new(shape, dtype, Fill::Bool),
        DType::U8 => Input::integers(shape, dtype, 0, 256),
        DType::I32 | DType::I64 => Input::integers(shape, dtype, -1000, 1000),
        _ => Input::uniform(shape, dtype),
    }
}

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for dtype in ALL_PLAIN {
        let tol = tolerance_for(dtype);
        let x = |shape: &[usize]| input_of(shape, dtype);
        cases.push(Case::new(
            Op::Reshape { shape: vec![33, 7] },
            vec![x(&[7, 33])],
            tol,
        ));
        cases.push(Case::new(
            Op::Reshape { shape: vec![5, 0] },
            vec![x(&[0, 3])],
            tol,
        ));
        cases.push(Case::new(
            Op::Reshape { shape: vec![21] },
            vec![x(&[7, 3]).with_view(View::Permuted(vec![1, 0]))],
            tol,
        ));
        cases.push(Case::new(
            Op::Permute {
                dims: vec![2, 0, 1],
            },
            vec![x(&[7, 33, 5])],
            tol,
        ));
        cases.push(Case::new(
            Op::Permute { dims: vec![1, 0] },
            vec![x(&[1, 4097])],
            tol,
        ));
        cases.push(Case::new(
            Op::Narrow {
                axis: 1,
                start: 3,
                len: 20,
            },
            vec![x(&[7, 33])],
            tol,
        ));
        cases.push(Case::new(
            Op::Narrow {
                axis: 0,
                start: 7,
                len: 0,
            },
            vec![x(&[7, 33])],
            tol,
        ));
        cases.push(Case::new(
            Op::Expand {
                shape: vec![5, 7, 33],
            },
            vec![x(&[7, 1])],
            tol,
        ));
        cases.push(Case::new(
            Op::Squeeze { axis: 1 },
            vec![x(&[7, 1, 33])],
            tol,
        ));
        cases.push(Case::new(Op::Unsqueeze { axis: 2 }, vec![x(&[7, 33])], tol));
        cases.push(Case::new(Op::Contiguous, vec![x(&[4097])], tol));
        cases.push(Case::new(
            Op::Contiguous,
            vec![x(&[7, 33, 5]).with_view(View::Permuted(vec![2, 0, 1]))],
            tol,
        ));
        cases.push(Case::new(
            Op::Contiguous,
            vec![x(&[7, 33]).with_view(View::Narrowed)],
            tol,
        ));
        cases.push(Case::new(
            Op::Contiguous,
            vec![x(&[7, 33]).with_view(View::Broadcast(vec![1, 33]))],
            tol,
        ));
        cases.push(Case::new(Op::Contiguous, vec![x(&[0, 5])], tol));
        cases.push(Case::new(
            Op::Concat { axis: 1 },
            vec![
                x(&[7, 3]),
                x(&[7, 0]),
                x(&[7, 33]).with_view(View::Narrowed),
            ],
            tol,
        ));
        cases.push(Case::new(
            Op::Concat { axis: 0 },
            vec![
                x(&[1, 5]),
                x(&[33, 5]).with_view(View::Permuted(vec![1, 0])),
            ],
            tol,
        ));
        for to in ALL_PLAIN {
            let mut input = x(&[7, 33]);
            if dtype.is_float() {
                // Values straddling zero and beyond ±1 exercise truncation and Bool.
                input.fill = Fill::Uniform {
                    low: -300.0,
                    high: 300.0,
                };
            }
            cases.push(Case::new(
                Op::Cast { dtype: to },
                vec![input.clone()],
                tolerance_for(to),
            ));
            cases.push(Case::new(
                Op::Cast { dtype: to },
                vec![input.with_view(View::Permuted(vec![1, 0]))],
                tolerance_for(to),
            ));
        }
    }
    for dtype in [
        DType::Q8_0,
        DType::Q4_0,
        DType::Q4_1,
        DType::Q4_K,
        DType::Q6_K,
    ] {
        let rows = Input::new(&[3, 256], dtype, Fill::Blocks);
        let more = Input::new(&[5, 256], dtype, Fill::Blocks);
        cases.push(Case::new(Op::Contiguous, vec![rows.clone()], 0.0));
        cases.push(Case::new(Op::Concat { axis: 0 }, vec![rows, more], 0.0));
    }
    cases
}

/// Transposing copies, which the CPU runs in tiles of 32 × 32: sizes past one tile with
/// ragged edges, rows that start at adjacent source elements (a 2-D transpose) and rows that
/// do not (a 4-D permute whose output rows wrap across two source axes).
pub fn tiled_copy_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for dtype in ALL_PLAIN {
        let tol = tolerance_for(dtype);
        let x = |shape: &[usize]| input_of(shape, dtype);
        cases.push(Case::new(
            Op::Contiguous,
            vec![x(&[70, 45]).with_view(View::Permuted(vec![1, 0]))],
            tol,
        ));
        cases.push(Case::new(
            Op::Contiguous,
            vec![x(&[3, 40, 5, 34]).with_view(View::Permuted(vec![0, 2, 3, 1]))],
            tol,
        ));
    }
    cases
}
