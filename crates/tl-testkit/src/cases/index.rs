//! Conformance cases: index_select (plain and quantized rows), gather, scatter_add,
//! index_add and embedding_bag.
//!
//! Index values are drawn in range (out-of-range indices are an error, checked by the unit
//! tests of the CPU kernel) and with many repeats, so the adding ops see duplicate targets.

use tl_tensor::{BagMode, DType, Op};

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

const QUANTIZED: [DType; 5] = [
    DType::Q8_0,
    DType::Q4_0,
    DType::Q4_1,
    DType::Q4_K,
    DType::Q6_K,
];

fn input_of(shape: &[usize], dtype: DType) -> Input {
    match dtype {
        DType::Bool => Input::new(shape, dtype, Fill::Bool),
        DType::U8 => Input::integers(shape, dtype, 0, 256),
        DType::I32 | DType::I64 => Input::integers(shape, dtype, -1000, 1000),
        _ => Input::uniform(shape, dtype),
    }
}

/// Indices in `0..size`.
fn indices(shape: &[usize], dtype: DType, size: usize) -> Input {
    Input::integers(shape, dtype, 0, size as i64)
}

pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    // Selecting and gathering only move elements: the output must be bit-exact.
    for dtype in ALL_PLAIN {
        let x = |shape: &[usize]| input_of(shape, dtype);
        for idx in [DType::I32, DType::I64] {
            let mut select = |axis: usize, src: Input, index: Input| {
                cases.push(Case::new(Op::IndexSelect { axis }, vec![src, index], 0.0));
            };
            select(0, x(&[7, 33]), indices(&[5], idx, 7));
            select(1, x(&[7, 33]), indices(&[40], idx, 33));
            select(0, x(&[1]), indices(&[1], idx, 1));
            select(1, x(&[7, 33]), indices(&[0], idx, 33));
            select(0, x(&[7, 0]), indices(&[3], idx, 7));
            select(
                1,
                x(&[3, 7, 5]).with_view(View::Permuted(vec![2, 0, 1])),
                indices(&[9], idx, 7),
            );
            select(
                0,
                x(&[7, 33]).with_view(View::Narrowed),
                indices(&[6], idx, 7).with_view(View::Narrowed),
            );
            select(
                2,
                x(&[4, 7, 33]).with_view(View::Broadcast(vec![1, 7, 33])),
                indices(&[5], idx, 33),
            );

            let mut gather = |axis: usize, src: Input, index: Input| {
                cases.push(Case::new(Op::Gather { axis }, vec![src, index], 0.0));
            };
            gather(1, x(&[7, 33]), indices(&[7, 5], idx, 33));
            gather(0, x(&[7, 33]), indices(&[9, 20], idx, 7));
            gather(0, x(&[7, 33]), indices(&[0, 20], idx, 7));
            gather(
                1,
                x(&[3, 7, 5]).with_view(View::Permuted(vec![1, 2, 0])),
                indices(&[2, 11, 5], idx, 7).with_view(View::Permuted(vec![2, 0, 1])),
            );
            gather(
                2,
                x(&[3, 7, 5]).with_view(View::Narrowed),
                indices(&[3, 7, 4], idx, 5).with_view(View::Narrowed),
            );
            gather(
                0,
                x(&[7, 33]),
                indices(&[7, 33], idx, 7).with_view(View::Broadcast(vec![1, 33])),
            );
        }
    }
    // Index copy moves elements only (bit-exact); its targets are distinct.
    for dtype in ALL_PLAIN {
        let x = |shape: &[usize]| input_of(shape, dtype);
        for idx in [DType::I32, DType::I64] {
            let targets = |values: &[f64]| Input::values(&[values.len()], idx, values);
            let mut copy = |axis: usize, dst: Input, index: Input, src: Input| {
                cases.push(Case::new(
                    Op::IndexCopy { axis },
                    vec![dst, index, src],
                    0.0,
                ));
            };
            copy(0, x(&[7, 33]), targets(&[5.0, 0.0, 6.0]), x(&[3, 33]));
            copy(1, x(&[7, 33]), targets(&[32.0, 1.0]), x(&[7, 2]));
            copy(0, x(&[7, 33]), targets(&[]), x(&[0, 33]));
            copy(
                1,
                x(&[3, 7, 5]).with_view(View::Permuted(vec![2, 0, 1])),
                targets(&[6.0, 2.0, 4.0, 0.0]),
                x(&[3, 4, 5]).with_view(View::Narrowed),
            );
            copy(
                0,
                x(&[9, 2, 8]).with_view(View::Broadcast(vec![1, 2, 8])),
                targets(&[8.0]),
                x(&[1, 2, 8]).with_view(View::Permuted(vec![2, 1, 0])),
            );
        }
    }
    // A larger embedding lookup, split across tasks.
    cases.push(Case::new(
        Op::IndexSelect { axis: 0 },
        vec![
            Input::uniform(&[1000, 64], DType::F32),
            indices(&[257], DType::I64, 1000),
        ],
        0.0,
    ));
    // Quantized rows are copied block for block (compared by their decoded values).
    for dtype in QUANTIZED {
        let blocks = |shape: &[usize]| Input::new(shape, dtype, Fill::Blocks);
        cases.push(Case::new(
            Op::IndexSelect { axis: 0 },
            vec![blocks(&[5, 512]), indices(&[7], DType::I32, 5)],
            0.0,
        ));
        cases.push(Case::new(
            Op::IndexSelect { axis: 1 },
            vec![
                blocks(&[3, 2, 256]).with_view(View::Permuted(vec![1, 0, 2])),
                indices(&[4], DType::I64, 2),
            ],
            0.0,
        ));
    }

    for dtype in DType::FLOATS {
        let tol = tolerance_for(dtype);
        let x = |shape: &[usize]| Input::uniform(shape, dtype);
        for idx in [DType::I32, DType::I64] {
            let mut scatter = |axis: usize, dst: Input, index: Input, src: Input| {
                cases.push(Case::new(
                    Op::ScatterAdd { axis },
                    vec![dst, index, src],
                    tol,
                ));
            };
            scatter(0, x(&[7, 33]), indices(&[9, 20], idx, 7), x(&[9, 20]));
            scatter(1, x(&[7, 33]), indices(&[5, 40], idx, 33), x(&[5, 40]));
            scatter(1, x(&[1, 1]), indices(&[1, 1], idx, 1), x(&[1, 1]));
            scatter(0, x(&[7, 33]), indices(&[0, 20], idx, 7), x(&[0, 20]));
            scatter(
                1,
                x(&[3, 7, 5]).with_view(View::Narrowed),
                indices(&[2, 11, 5], idx, 7).with_view(View::Permuted(vec![1, 2, 0])),
                x(&[2, 11, 5]).with_view(View::Permuted(vec![2, 0, 1])),
            );
            scatter(
                2,
                x(&[3, 7, 5]),
                indices(&[3, 7, 9], idx, 5),
                x(&[3, 7, 9]).with_view(View::Broadcast(vec![1, 7, 1])),
            );

            let mut index_add = |axis: usize, dst: Input, index: Input, src: Input| {
                cases.push(Case::new(Op::IndexAdd { axis }, vec![dst, index, src], tol));
            };
            index_add(0, x(&[7, 33]), indices(&[9], idx, 7), x(&[9, 33]));
            index_add(1, x(&[7, 33]), indices(&[40], idx, 33), x(&[7, 40]));
            index_add(0, x(&[7, 33]), indices(&[0], idx, 7), x(&[0, 33]));
            index_add(
                1,
                x(&[3, 7, 5]).with_view(View::Permuted(vec![2, 0, 1])),
                indices(&[10], idx, 7).with_view(View::Narrowed),
                x(&[3, 10, 5]).with_view(View::Narrowed),
            );
            index_add(
                0,
                x(&[7, 33]).with_view(View::Broadcast(vec![1, 33])),
                indices(&[12], idx, 7),
                x(&[12, 33]).with_view(View::Permuted(vec![1, 0])),
            );
        }
        cases.push(Case::new(
            Op::IndexAdd { axis: 0 },
            vec![
                x(&[1000, 64]),
                indices(&[500], DType::I64, 1000),
                x(&[500, 64]),
            ],
            tol,
        ));

        for mode in [BagMode::Sum, BagMode::Mean, BagMode::Max] {
            let mut bag = |table: Input, index: Input| {
                cases.push(Case::new(
                    Op::EmbeddingBag { mode },
                    vec![table, index],
                    tol,
                ));
            };
            bag(x(&[33, 7]), indices(&[5, 4], DType::I64, 33));
            bag(x(&[33, 7]), indices(&[5, 1], DType::I32, 33));
            bag(x(&[33, 7]), indices(&[3, 0], DType::I32, 33));
            bag(x(&[33, 7]), indices(&[0, 3], DType::I64, 33));
            bag(
                x(&[33, 7]).with_view(View::Permuted(vec![1, 0])),
                indices(&[6, 3], DType::I32, 33).with_view(View::Permuted(vec![1, 0])),
            );
            bag(
                x(&[33, 7]).with_view(View::Narrowed),
                indices(&[6, 3], DType::I64, 33).with_view(View::Broadcast(vec![1, 3])),
            );
            bag(x(&[1000, 64]), indices(&[16, 8], DType::I64, 1000));
        }
    }
    cases
}
