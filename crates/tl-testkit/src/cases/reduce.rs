//! Conformance cases: reductions over axis sets (sum, mean, max, min, log-sum-exp) and
//! argmax/argmin.

use tl_tensor::{ArgReduceOp, DType, Op, ReduceOp};

use crate::case::{tolerance_for, Case, Fill, Input, View};

const INTEGERS: [DType; 2] = [DType::I32, DType::I64];

fn reduce(op: ReduceOp, axes: &[usize], keepdim: bool) -> Op {
    Op::Reduce {
        op,
        axes: axes.to_vec(),
        keepdim,
    }
}

/// Values for each reduction. Sums draw from a range with a positive mean so that no
/// output is a near-total cancellation (whose relative error would measure only the
/// summation order, not correctness).
fn fill_for(op: ReduceOp, dtype: DType) -> Fill {
    match (op, dtype.is_float()) {
        (_, false) => Fill::Integers {
            low: -1000,
            high: 1000,
        },
        (ReduceOp::Sum | ReduceOp::Mean, true) => Fill::Uniform {
            low: -0.5,
            high: 1.0,
        },
        (ReduceOp::LogSumExp, true) => Fill::Uniform {
            low: -4.0,
            high: 4.0,
        },
        _ => Fill::Uniform {
            low: -1.0,
            high: 1.0,
        },
    }
}

fn reduce_cases(cases: &mut Vec<Case>) {
    for op in ReduceOp::ALL {
        let integer_ok = matches!(op, ReduceOp::Sum | ReduceOp::Max | ReduceOp::Min);
        let dtypes: Vec<DType> = DType::FLOATS
            .into_iter()
            .chain(INTEGERS.into_iter().filter(|_| integer_ok))
            .collect();
        for dtype in dtypes {
            let tolerance = if dtype.is_float() {
                tolerance_for(dtype)
            } else {
                0.0
            };
            let fill = fill_for(op, dtype);
            let x = |shape: &[usize]| Input::new(shape, dtype, fill.clone());
            let mut shapes: Vec<(Input, Vec<usize>, bool)> = vec![
                // Trailing axes: one contiguous run per output.
                (x(&[5, 7, 33]), vec![2], false),
                (x(&[5, 7, 33]), vec![1, 2], true),
                // Leading or middle axes with a dense last axis: the column path.
                (x(&[5, 7, 33]), vec![1], false),
                (x(&[5, 7, 33]), vec![0], true),
                (x(&[5, 7, 33]).with_view(View::Narrowed), vec![0], false),
                // Columns too narrow for the column path: strided runs.
                (x(&[33, 8]), vec![0], false),
                // Non-adjacent axes, and every axis.
                (x(&[5, 7, 33]), vec![0, 2], false),
                (x(&[5, 7, 33]), vec![0, 1, 2], false),
                (x(&[5, 7, 33]), vec![0, 1, 2], true),
                (x(&[4097]), vec![0], false),
                (x(&[1]), vec![0], false),
                // No axes: every output reduces one element.
                (x(&[7, 3]), vec![], false),
                (x(&[]), vec![], false),
                // Views: permuted (reduced axes not in memory order), broadcast (stride 0).
                (
                    x(&[5, 7, 33]).with_view(View::Permuted(vec![2, 0, 1])),
                    vec![1, 2],
                    false,
                ),
                (
                    x(&[5, 7, 33]).with_view(View::Permuted(vec![2, 0, 1])),
                    vec![0],
                    false,
                ),
                (
                    x(&[5, 7, 33]).with_view(View::Broadcast(vec![5, 1, 33])),
                    vec![1],
                    false,
                ),
                (
                    x(&[5, 7, 33]).with_view(View::Broadcast(vec![1, 7, 1])),
                    vec![0, 2],
                    true,
                ),
                // No outputs at all.
                (x(&[0, 5]), vec![1], false),
            ];
            if !matches!(op, ReduceOp::Max | ReduceOp::Min) {
                // Empty reductions: sum 0, mean NaN, log-sum-exp −∞ (max/min reject them).
                shapes.push((x(&[0, 5]), vec![0], false));
                shapes.push((x(&[5, 0]), vec![1], true));
                shapes.push((x(&[0, 20]), vec![0], false));
            }
            if matches!(dtype, DType::F32 | DType::I32) {
                // Few, long columns: the column path splits the rows into pieces.
                shapes.push((x(&[300, 1000]), vec![0], false));
            }
            if dtype == DType::F32 {
                // Longer than one partial piece: reduced in pieces merged in order.
                shapes.push((x(&[70_000]), vec![0], false));
                shapes.push((x(&[3, 40_000]), vec![1], false));
                shapes.push((x(&[40_000, 2]), vec![0], false));
                shapes.push((x(&[2000, 20]), vec![0], false));
            }
            for (input, axes, keepdim) in shapes {
                cases.push(Case::new(
                    reduce(op, &axes, keepdim),
                    vec![input],
                    tolerance,
                ));
            }
        }
    }
    special_value_cases(cases);
    // Integer sums wrap.
    let i32_values = [i32::MAX as f64, 1000.0, i32::MAX as f64, -5.0];
    let i64_values = [2f64.powi(62), 2f64.powi(62), 2f64.powi(62), 2f64.powi(61)];
    for (dtype, values) in [(DType::I32, i32_values), (DType::I64, i64_values)] {
        cases.push(Case::new(
            reduce(ReduceOp::Sum, &[0], false),
            vec![Input::values(&[4], dtype, &values)],
            0.0,
        ));
        cases.push(Case::new(
            reduce(ReduceOp::Sum, &[0], false),
            vec![Input::values(&[4, 16], dtype, &values)],
            0.0,
        ));
    }
}

/// Rows (and columns) with NaN, −∞ and +∞: max/min/sum propagate NaN, log-sum-exp of all
/// −∞ is −∞ and with a +∞ is +∞.
fn special_value_cases(cases: &mut Vec<Case>) {
    let width = 16;
    let mut values = Vec::new();
    for row in 0..4 {
        for col in 0..width {
            let ordinary = (col as f64 * 0.37 + row as f64).sin();
            values.push(match (row, col) {
                (1, 3) => f64::NAN,
                (2, _) => f64::NEG_INFINITY,
                (3, 5) => f64::INFINITY,
                _ => ordinary,
            });
        }
    }
    let input = || Input::values(&[4, width], DType::F32, &values);
    for op in ReduceOp::ALL {
        for axes in [vec![1], vec![0], vec![0, 1]] {
            cases.push(Case::new(
                reduce(op, &axes, false),
                vec![input()],
                tolerance_for(DType::F32),
            ));
        }
    }
    for op in [ArgReduceOp::ArgMax, ArgReduceOp::ArgMin] {
        for axis in [0, 1] {
            cases.push(Case::new(
                Op::ArgReduce {
                    op,
                    axis,
                    keepdim: false,
                },
                vec![input()],
                0.0,
            ));
        }
    }
}

fn arg_reduce_cases(cases: &mut Vec<Case>) {
    for op in [ArgReduceOp::ArgMax, ArgReduceOp::ArgMin] {
        let arg = |axis: usize, keepdim: bool| Op::ArgReduce { op, axis, keepdim };
        for dtype in DType::FLOATS.into_iter().chain(INTEGERS) {
            // Few distinct values, so ties are common and "first index" is tested.
            let x = |shape: &[usize]| Input::integers(shape, dtype, -3, 3);
            let smooth = |shape: &[usize]| {
                if dtype.is_float() {
                    Input::uniform(shape, dtype)
                } else {
                    Input::integers(shape, dtype, -1000, 1000)
                }
            };
            for (input, axis, keepdim) in [
                (x(&[7, 33]), 1, false),
                (x(&[7, 33]), 0, true),
                (smooth(&[7, 33]), 1, true),
                (smooth(&[5, 7, 33]), 1, false),
                (
                    x(&[5, 7, 33]).with_view(View::Permuted(vec![1, 2, 0])),
                    2,
                    false,
                ),
                (smooth(&[7, 33]).with_view(View::Narrowed), 1, false),
                (
                    x(&[7, 33]).with_view(View::Broadcast(vec![1, 33])),
                    0,
                    false,
                ),
                (smooth(&[4097]), 0, false),
                (x(&[1]), 0, false),
                (x(&[7, 1]), 1, false),
                (x(&[0, 5]), 1, false),
            ] {
                cases.push(Case::new(arg(axis, keepdim), vec![input], 0.0));
            }
        }
        // Many pieces, with the extreme value repeated across them.
        cases.push(Case::new(
            arg(0, false),
            vec![Input::integers(&[70_000], DType::F32, -50, 50)],
            0.0,
        ));
        cases.push(Case::new(
            arg(1, false),
            vec![Input::integers(&[2, 40_000], DType::I32, -50, 50)],
            0.0,
        ));
    }
}

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    reduce_cases(&mut cases);
    arg_reduce_cases(&mut cases);
    cases
}
