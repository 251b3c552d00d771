//! Conformance cases: sampling and the repetition penalty.

use tl_tensor::{DType, Op};

use crate::case::{tolerance_for, Case, Fill, Input, View};

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let settings = [
        (0.0, 0, 1.0, 0.0),
        (1.0, 0, 1.0, 0.0),
        (0.7, 40, 1.0, 0.0),
        (0.8, 0, 0.9, 0.0),
        (1.0, 0, 1.0, 0.1),
        (0.6, 20, 0.95, 0.05),
        (1.5, 1, 1.0, 0.0),
    ];
    for dtype in DType::FLOATS {
        for (temperature, top_k, top_p, min_p) in settings {
            for (rows, vocab) in [(1, 1), (3, 7), (4, 4097)] {
                let logits = Input::new(
                    &[rows, vocab],
                    dtype,
                    Fill::Uniform {
                        low: -8.0,
                        high: 8.0,
                    },
                );
                let uniform = Input::new(
                    &[rows],
                    DType::F32,
                    Fill::Uniform {
                        low: 0.0,
                        high: 1.0,
                    },
                );
                cases.push(Case::new(
                    Op::Sample {
                        temperature,
                        top_k,
                        top_p,
                        min_p,
                    },
                    vec![logits, uniform],
                    0.0,
                ));
            }
        }
        // Many equal logits: ties must resolve to the lower token id everywhere.
        let ties = Input::values(&[2, 33], dtype, &[1.0, 3.0, 3.0, -2.0, 3.0]);
        let uniform = Input::new(
            &[2],
            DType::F32,
            Fill::Uniform {
                low: 0.0,
                high: 1.0,
            },
        );
        for temperature in [0.0, 1.0] {
            cases.push(Case::new(
                Op::Sample {
                    temperature,
                    top_k: 3,
                    top_p: 1.0,
                    min_p: 0.0,
                },
                vec![ties.clone(), uniform.clone()],
                0.0,
            ));
        }
        for index_dtype in [DType::I32, DType::I64] {
            let logits = Input::new(
                &[3, 33],
                dtype,
                Fill::Uniform {
                    low: -4.0,
                    high: 4.0,
                },
            );
            let tokens = Input::integers(&[3, 9], index_dtype, 0, 33);
            cases.push(Case::new(
                Op::RepetitionPenalty { penalty: 1.3 },
                vec![logits.clone(), tokens.clone()],
                tolerance_for(dtype),
            ));
            cases.push(Case::new(
                Op::RepetitionPenalty { penalty: 0.8 },
                vec![
                    logits.with_view(View::Narrowed),
                    tokens.with_view(View::Narrowed),
                ],
                tolerance_for(dtype),
            ));
        }
    }
    cases
}

/// Greedy decoding of one row, which CUDA spreads over a grid of blocks (about 1,024 logits
/// each, at most 128 blocks): rows longer than one block and than all of them, a first
/// maximum in a later block than other blocks' equal maxima, and offset, permuted and
/// broadcast views.
pub fn greedy_row_cases() -> Vec<Case> {
    let greedy = Op::Sample {
        temperature: 0.0,
        top_k: 0,
        top_p: 1.0,
        min_p: 0.0,
    };
    let no_draw = Input::values(&[1], DType::F32, &[0.5]);
    let mut cases = Vec::new();
    for dtype in DType::FLOATS {
        for vocab in [4097, 33000, 140_000] {
            let logits = Input::new(
                &[1, vocab],
                dtype,
                Fill::Uniform {
                    low: -8.0,
                    high: 8.0,
                },
            );
            cases.push(Case::new(
                greedy.clone(),
                vec![logits, no_draw.clone()],
                0.0,
            ));
        }
        // The first maximum lies in a later block than other blocks' equal maxima.
        let mut late_maximum: Vec<f64> = (0..5000).map(|i| (i % 7) as f64 - 3.0).collect();
        for at in [3001, 3500, 4999, 4100] {
            late_maximum[at] = 4.0;
        }
        for view in [View::Dense, View::Narrowed, View::Permuted(vec![1, 0])] {
            cases.push(Case::new(
                greedy.clone(),
                vec![
                    Input::values(&[1, 5000], dtype, &late_maximum).with_view(view),
                    no_draw.clone(),
                ],
                0.0,
            ));
        }
        cases.push(Case::new(
            greedy.clone(),
            vec![
                Input::values(&[1, 5000], dtype, &[2.5]).with_view(View::Broadcast(vec![1, 1])),
                no_draw.clone(),
            ],
            0.0,
        ));
    }
    cases
}
