//! Conformance cases: creation ops.

use tl_tensor::{DType, Op};

use crate::case::{tolerance_for, Case};

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for dtype in [
        DType::F32,
        DType::F16,
        DType::BF16,
        DType::I32,
        DType::I64,
        DType::U8,
        DType::Bool,
    ] {
        for shape in [vec![], vec![0], vec![7], vec![33, 5], vec![4097]] {
            cases.push(Case::new(
                Op::Full {
                    shape: shape.clone(),
                    dtype,
                    value: 3.25,
                },
                vec![],
                tolerance_for(dtype),
            ));
        }
    }
    for dtype in [DType::F32, DType::F16, DType::BF16, DType::I32, DType::I64] {
        for (start, step, len) in [
            (0.0, 1.0, 0),
            (0.0, 1.0, 7),
            (-3.0, 2.0, 33),
            (10.0, -1.0, 4097),
        ] {
            cases.push(Case::new(
                Op::Arange {
                    start,
                    step,
                    len,
                    dtype,
                },
                vec![],
                tolerance_for(dtype),
            ));
        }
    }
    for dtype in DType::FLOATS {
        for shape in [vec![0], vec![1], vec![7, 33], vec![4097]] {
            for seed in [0, 42] {
                cases.push(Case::new(
                    Op::RandUniform {
                        shape: shape.clone(),
                        dtype,
                        low: -2.0,
                        high: 3.0,
                        seed,
                    },
                    vec![],
                    tolerance_for(dtype),
                ));
                cases.push(Case::new(
                    Op::RandNormal {
                        shape: shape.clone(),
                        dtype,
                        mean: 0.5,
                        std: 2.0,
                        seed,
                    },
                    vec![],
                    // Backends may evaluate Box–Muller in f32: ~1e-6 relative per value.
                    tolerance_for(dtype).max(1e-5),
                ));
            }
        }
    }
    for case in &mut cases {
        if case.label.is_empty() {
            case.label = creation_label(&case.op);
        }
    }
    cases
}

fn creation_label(op: &Op) -> String {
    match op {
        Op::Full { shape, dtype, .. } => format!("{dtype}{shape:?}"),
        Op::Arange { len, dtype, .. } => format!("{dtype}[{len}]"),
        Op::RandUniform {
            shape, dtype, seed, ..
        }
        | Op::RandNormal {
            shape, dtype, seed, ..
        } => {
            format!("{dtype}{shape:?} seed {seed}")
        }
        _ => String::new(),
    }
}
