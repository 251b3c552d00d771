//! Conformance cases: unary functions, affine, binary arithmetic, comparisons and `Where`.

use tl_tensor::{BinaryOp, CompareOp, DType, Op, UnaryOp};

use crate::case::{tolerance_for, Case, Fill, Input, View};

const INTEGERS: [DType; 2] = [DType::I32, DType::I64];
const ALL_PLAIN: [DType; 7] = [
    DType::F32,
    DType::F16,
    DType::BF16,
    DType::I32,
    DType::I64,
    DType::U8,
    DType::Bool,
];

fn uniform(low: f64, high: f64) -> Fill {
    Fill::Uniform { low, high }
}

/// Inputs inside each function's domain, wide enough to reach its interesting regions
/// (saturation of tanh/sigmoid, both tails of GELU) but not overflowing f16.
fn unary_domain(op: UnaryOp) -> Fill {
    match op {
        UnaryOp::Log | UnaryOp::Sqrt | UnaryOp::Rsqrt => uniform(0.05, 4.0),
        UnaryOp::Recip => uniform(0.25, 4.0),
        UnaryOp::Exp => uniform(-5.0, 5.0),
        UnaryOp::Sin | UnaryOp::Cos | UnaryOp::Floor | UnaryOp::Ceil | UnaryOp::Round => {
            uniform(-6.0, 6.0)
        }
        UnaryOp::Tanh | UnaryOp::Sigmoid | UnaryOp::GeluErf | UnaryOp::GeluTanh | UnaryOp::Silu => {
            uniform(-8.0, 8.0)
        }
        _ => uniform(-4.0, 4.0),
    }
}

/// The same op on one input of several shapes and views: long, scalar, empty, permuted,
/// narrowed and broadcast.
fn one_input_cases(cases: &mut Vec<Case>, op: &Op, dtype: DType, fill: Fill, tolerance: f64) {
    let x = |shape: &[usize]| Input::new(shape, dtype, fill.clone());
    for input in [
        x(&[4097]),
        x(&[]),
        x(&[1]),
        x(&[0, 5]),
        x(&[7, 33]).with_view(View::Permuted(vec![1, 0])),
        x(&[7, 33]).with_view(View::Narrowed),
        x(&[5, 7, 33]).with_view(View::Broadcast(vec![5, 1, 33])),
    ] {
        cases.push(Case::new(op.clone(), vec![input], tolerance));
    }
}

fn unary_cases(cases: &mut Vec<Case>) {
    for op in UnaryOp::ALL {
        for dtype in DType::FLOATS {
            one_input_cases(
                cases,
                &Op::Unary(op),
                dtype,
                unary_domain(op),
                tolerance_for(dtype),
            );
        }
        if op.accepts_integers() {
            for dtype in INTEGERS {
                one_input_cases(
                    cases,
                    &Op::Unary(op),
                    dtype,
                    Fill::Integers {
                        low: -1000,
                        high: 1000,
                    },
                    0.0,
                );
            }
        }
    }
    // Special values where each function's limit is unambiguous.
    let specials = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.0,
        -0.0,
        0.5,
        -0.5,
        1.5,
        2.5,
        -2.5,
        30.0,
        -30.0,
        80.0,
        -80.0,
        -100.0,
        1e-30,
    ];
    for op in [
        UnaryOp::Neg,
        UnaryOp::Abs,
        UnaryOp::Exp,
        UnaryOp::Log,
        UnaryOp::Sqrt,
        UnaryOp::Rsqrt,
        UnaryOp::Recip,
        UnaryOp::Tanh,
        UnaryOp::Sigmoid,
        UnaryOp::Relu,
        UnaryOp::Step,
        UnaryOp::Floor,
        UnaryOp::Ceil,
        UnaryOp::Round,
    ] {
        cases.push(Case::new(
            Op::Unary(op),
            vec![Input::values(&[specials.len()], DType::F32, &specials)],
            tolerance_for(DType::F32),
        ));
    }
    // Ties of round-half-to-even, and the integer/non-integer boundaries of floor and ceil.
    let ties = [
        -3.5, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, -2.0, 2.0, 0.49999997, -1.25,
    ];
    for op in [UnaryOp::Round, UnaryOp::Floor, UnaryOp::Ceil] {
        for dtype in DType::FLOATS {
            cases.push(Case::new(
                Op::Unary(op),
                vec![Input::values(&[ties.len()], dtype, &ties)],
                tolerance_for(dtype),
            ));
        }
    }
    // Integer overflow wraps (neg/abs of MIN is MIN, squares wrap).
    let wrapping_i32 = [
        i32::MIN as f64,
        i32::MAX as f64,
        -1.0,
        0.0,
        46341.0,
        -46341.0,
        65536.0,
    ];
    // i64 values chosen so every wrapped result is exactly representable in f64.
    let wrapping_i64 = [
        i64::MIN as f64,
        2f64.powi(62),
        -(2f64.powi(62)),
        3.0 * 2f64.powi(31),
        2f64.powi(32),
        -5.0,
    ];
    for op in [UnaryOp::Neg, UnaryOp::Abs, UnaryOp::Square, UnaryOp::Relu] {
        for (dtype, values) in [
            (DType::I32, &wrapping_i32[..]),
            (DType::I64, &wrapping_i64[..]),
        ] {
            cases.push(Case::new(
                Op::Unary(op),
                vec![Input::values(&[values.len()], dtype, values)],
                0.0,
            ));
        }
    }
}

fn affine_cases(cases: &mut Vec<Case>) {
    for dtype in DType::FLOATS {
        for (scale, bias) in [(2.5, -0.75), (0.0, 1.0), (-1.0 / 3.0, 0.2)] {
            one_input_cases(
                cases,
                &Op::Affine { scale, bias },
                dtype,
                uniform(-1.0, 1.0),
                tolerance_for(dtype),
            );
        }
    }
}

/// Pairs of operands that broadcast in the ways kernels special-case (same shape, scalar,
/// row vector, column vector) and the general ways (outer product, mixed ranks, strided).
fn pair_cases(cases: &mut Vec<Case>, op: &Op, lhs: Input, rhs: Input, tolerance: f64) {
    let a = |shape: &[usize]| Input {
        shape: shape.to_vec(),
        ..lhs.clone()
    };
    let b = |shape: &[usize]| Input {
        shape: shape.to_vec(),
        ..rhs.clone()
    };
    for (x, y) in [
        (a(&[4097]), b(&[4097])),
        (a(&[7, 33]), b(&[7, 33])),
        (a(&[7, 33]), b(&[])),
        (a(&[]), b(&[7, 33])),
        (a(&[]), b(&[])),
        (a(&[7, 33]), b(&[33])),
        (a(&[7, 33]), b(&[7, 1])),
        (a(&[7, 1]), b(&[1, 33])),
        (a(&[3, 1, 5]), b(&[4, 1])),
        (a(&[0, 3]), b(&[3])),
        (
            a(&[7, 33]).with_view(View::Permuted(vec![1, 0])),
            b(&[7, 33]).with_view(View::Narrowed),
        ),
        (
            a(&[5, 7, 33]).with_view(View::Narrowed),
            b(&[7, 33]).with_view(View::Broadcast(vec![1, 33])),
        ),
    ] {
        cases.push(Case::new(op.clone(), vec![x, y], tolerance));
    }
}

fn binary_cases(cases: &mut Vec<Case>) {
    for op in BinaryOp::ALL {
        for dtype in DType::FLOATS {
            let (lhs, rhs) = match op {
                BinaryOp::Div => (uniform(-1.0, 1.0), uniform(0.5, 2.0)),
                BinaryOp::Pow => (uniform(0.1, 2.0), uniform(-2.0, 2.0)),
                _ => (uniform(-1.0, 1.0), uniform(-1.0, 1.0)),
            };
            pair_cases(
                cases,
                &Op::Binary(op),
                Input::new(&[], dtype, lhs),
                Input::new(&[], dtype, rhs),
                tolerance_for(dtype),
            );
        }
        if op == BinaryOp::Pow {
            continue;
        }
        for dtype in INTEGERS {
            // Small divisors, zero included: integer division by zero gives 0.
            let rhs_high = if op == BinaryOp::Div { 5 } else { 1000 };
            pair_cases(
                cases,
                &Op::Binary(op),
                Input::integers(&[], dtype, -1000, 1000),
                Input::integers(&[], dtype, -rhs_high, rhs_high),
                0.0,
            );
        }
    }
    // Every pair of extreme integers: wrapping add/sub/mul, MIN / -1, division by zero.
    let i32_values = [i32::MAX as f64, i32::MIN as f64, -1.0, 0.0, 46341.0, -7.0];
    // i64 values whose wrapped sums, differences, products and quotients are all exactly
    // representable in f64 (multiples of 2^30 or small quotients).
    let i64_values = [
        i64::MIN as f64,
        2f64.powi(62),
        -(2f64.powi(62)),
        3.0 * 2f64.powi(31),
        2f64.powi(32),
        -5.0 * 2f64.powi(30),
        0.0,
    ];
    for op in [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Maximum,
        BinaryOp::Minimum,
    ] {
        for (dtype, values) in [(DType::I32, &i32_values[..]), (DType::I64, &i64_values[..])] {
            let n = values.len();
            cases.push(Case::new(
                Op::Binary(op),
                vec![
                    Input::values(&[n, 1], dtype, values),
                    Input::values(&[1, n], dtype, values),
                ],
                0.0,
            ));
        }
    }
    // NaN propagates through maximum and minimum from either side.
    let lhs = [f64::NAN, 1.0, f64::NAN, f64::NEG_INFINITY, 2.0, -0.5];
    let rhs = [1.0, f64::NAN, f64::NAN, 3.0, f64::INFINITY, -0.25];
    for op in [BinaryOp::Maximum, BinaryOp::Minimum] {
        cases.push(Case::new(
            Op::Binary(op),
            vec![
                Input::values(&[6], DType::F32, &lhs),
                Input::values(&[6], DType::F32, &rhs),
            ],
            tolerance_for(DType::F32),
        ));
    }
}

/// Operands with many equal pairs, so `eq`/`le`/`ge` are exercised, not just `lt`/`gt`.
fn comparable(dtype: DType) -> Input {
    match dtype {
        DType::Bool => Input::new(&[], dtype, Fill::Bool),
        DType::U8 => Input::integers(&[], dtype, 0, 4),
        _ => Input::integers(&[], dtype, -3, 3),
    }
}

fn compare_cases(cases: &mut Vec<Case>) {
    for op in CompareOp::ALL {
        for dtype in ALL_PLAIN {
            pair_cases(
                cases,
                &Op::Compare(op),
                comparable(dtype),
                comparable(dtype),
                0.0,
            );
        }
        let lhs = [
            f64::NAN,
            1.0,
            f64::NAN,
            f64::NEG_INFINITY,
            f64::INFINITY,
            0.0,
        ];
        let rhs = [1.0, f64::NAN, f64::NAN, f64::NEG_INFINITY, 1.0, -0.0];
        cases.push(Case::new(
            Op::Compare(op),
            vec![
                Input::values(&[6], DType::F32, &lhs),
                Input::values(&[6], DType::F32, &rhs),
            ],
            0.0,
        ));
    }
}

fn where_cases(cases: &mut Vec<Case>) {
    for dtype in ALL_PLAIN {
        let tolerance = tolerance_for(dtype);
        let c = |shape: &[usize]| Input::new(shape, DType::Bool, Fill::Bool);
        let v = |shape: &[usize]| Input {
            shape: shape.to_vec(),
            ..comparable(dtype)
        };
        for inputs in [
            vec![c(&[4097]), v(&[4097]), v(&[4097])],
            vec![c(&[7, 33]), v(&[7, 33]), v(&[7, 33])],
            vec![c(&[7, 33]), v(&[7, 33]), v(&[])],
            vec![c(&[7, 33]), v(&[]), v(&[7, 33])],
            vec![c(&[]), v(&[7, 33]), v(&[7, 33])],
            vec![
                c(&[7, 1]),
                v(&[1, 33]),
                v(&[7, 33]).with_view(View::Permuted(vec![1, 0])),
            ],
            vec![
                c(&[7, 33]).with_view(View::Narrowed),
                v(&[7, 33]).with_view(View::Broadcast(vec![7, 1])),
                v(&[5, 7, 33]).with_view(View::Narrowed),
            ],
            vec![c(&[0, 3]), v(&[3]), v(&[0, 3])],
        ] {
            cases.push(Case::new(Op::Where, inputs, tolerance));
        }
    }
}

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    unary_cases(&mut cases);
    affine_cases(&mut cases);
    binary_cases(&mut cases);
    compare_cases(&mut cases);
    where_cases(&mut cases);
    cases
}
