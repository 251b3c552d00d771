//! Conformance cases: softmax, log_softmax, the norms, rope, swiglu and attention.

use tl_tensor::{DType, Op, RopeStyle};

use crate::case::{tolerance_for, Case, Fill, Input, View};

fn uniform(shape: &[usize], dtype: DType, low: f64, high: f64) -> Input {
    Input::new(shape, dtype, Fill::Uniform { low, high })
}

/// Every kernel computes in f32 and rounds once on store, and the reference is exact, so the
/// per-dtype output rounding of `tolerance_for` bounds the error: the f32 steps (exp, a sum
/// over ≤ 4097 terms, one square root) stay within a few 1e-7 relative.
pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for dtype in DType::FLOATS {
        softmax_cases(&mut cases, dtype);
        norm_cases(&mut cases, dtype);
        rope_cases(&mut cases, dtype);
        swiglu_cases(&mut cases, dtype);
        attention_cases(&mut cases, dtype);
        rope_attention_cases(&mut cases, dtype);
    }
    cases
}

/// One decoding step over a KV cache: the GPU's fused kernel (one query, head dims of whole
/// 16-byte rows) and the composed path (several queries, odd dims), both RoPE layouts.
fn rope_attention_cases(cases: &mut Vec<Case>, dtype: DType) {
    let tol = tolerance_for(dtype);
    let x = |shape: &[usize]| uniform(shape, dtype, -3.0, 3.0);
    let positions = |values: &[f64]| Input::values(&[values.len()], DType::I32, values);
    let shapes: [(usize, usize, usize, usize, usize, Vec<f64>); 4] = [
        // (n, heads, kv_heads, dim, cache length, positions)
        (1, 8, 2, 64, 300, vec![257.0]),
        (1, 9, 3, 64, 40, vec![0.0]),
        (1, 4, 4, 128, 20, vec![19.0]),
        (3, 4, 2, 10, 16, vec![5.0, 6.0, 7.0]),
    ];
    for (n, heads, kv_heads, dim, len, at) in shapes {
        for style in [RopeStyle::HalfSplit, RopeStyle::Interleaved] {
            let op = Op::RopeAttention {
                style,
                base: 10000.0,
                position_scale: 1.0,
                scale: 1.0 / (dim as f64).sqrt(),
            };
            cases.push(Case::new(
                op,
                vec![
                    x(&[n, heads, dim]),
                    x(&[n, kv_heads, dim]),
                    x(&[n, kv_heads, dim]),
                    x(&[len, kv_heads, dim]),
                    x(&[len, kv_heads, dim]),
                    positions(&at),
                ],
                tol,
            ));
        }
    }
}

fn softmax_cases(cases: &mut Vec<Case>, dtype: DType) {
    let tol = tolerance_for(dtype);
    let x = |shape: &[usize]| uniform(shape, dtype, -5.0, 5.0);
    for log in [false, true] {
        let op = |axis: usize| {
            if log {
                Op::LogSoftmax { axis }
            } else {
                Op::Softmax { axis }
            }
        };
        let mut push =
            |axis: usize, input: Input| cases.push(Case::new(op(axis), vec![input], tol));
        push(1, x(&[7, 33]));
        push(0, x(&[7, 33]));
        push(0, x(&[1]));
        push(0, x(&[4097]));
        push(1, x(&[3, 5, 7]).with_view(View::Permuted(vec![2, 0, 1])));
        push(2, x(&[3, 5, 7]).with_view(View::Permuted(vec![1, 2, 0])));
        push(1, x(&[3, 33, 7]).with_view(View::Narrowed));
        push(0, x(&[7, 33]).with_view(View::Broadcast(vec![1, 33])));
        push(1, x(&[7, 33]).with_view(View::Broadcast(vec![7, 1])));
        push(1, x(&[5, 0]));
        push(0, x(&[0, 5]));
        push(1, x(&[2, 1, 3, 1]));
        // Many slabs (each task takes whole slabs) and one wide slab (columns split across
        // tasks): the CPU kernel's two paths on any thread count.
        push(1, x(&[65, 3, 5]));
        push(0, x(&[3, 2500]));
    }
}

fn norm_cases(cases: &mut Vec<Case>, dtype: DType) {
    let tol = tolerance_for(dtype);
    let x = |shape: &[usize]| uniform(shape, dtype, -2.0, 2.0);
    // Weights and biases away from zero keep the relative error meaningful per element.
    let w = |dim: usize| uniform(&[dim], dtype, 0.5, 1.5);
    let shapes: Vec<(Vec<usize>, View)> = vec![
        (vec![7, 33], View::Dense),
        (vec![1, 1], View::Dense),
        (vec![2, 4097], View::Dense),
        (vec![3, 5, 7], View::Permuted(vec![2, 0, 1])),
        (vec![5, 33], View::Narrowed),
        (vec![4, 7, 33], View::Broadcast(vec![1, 7, 33])),
        (vec![0, 33], View::Dense),
        // Dense rows of whole 16-byte vectors: the GPU's vector kernels (decoding's one row).
        (vec![1, 2048], View::Dense),
        (vec![6, 576], View::Dense),
    ];
    for (eps, (shape, view)) in [1e-6, 1e-5].into_iter().cycle().zip(shapes) {
        let dim = *shape.last().expect("rank ≥ 1");
        let input = x(&shape).with_view(view.clone());
        cases.push(Case::new(
            Op::RmsNorm { eps },
            vec![input.clone(), w(dim)],
            tol,
        ));
        cases.push(Case::new(
            Op::AddRmsNorm { eps },
            vec![input.clone(), x(&shape), w(dim).with_view(View::Narrowed)],
            tol,
        ));
        cases.push(Case::new(
            Op::LayerNorm { eps },
            vec![input, w(dim), uniform(&[dim], dtype, -1.0, 1.0)],
            tol,
        ));
    }
    // Everything dense, as the GPU's vector kernel takes it (the cases above narrow w).
    for shape in [[1, 2048], [6, 576], [2, 8200]] {
        cases.push(Case::new(
            Op::AddRmsNorm { eps: 1e-5 },
            vec![x(&shape), x(&shape), w(shape[1])],
            tol,
        ));
    }
    // A residual laid out differently from x, and a weight broadcast from one value.
    cases.push(Case::new(
        Op::AddRmsNorm { eps: 1e-5 },
        vec![
            x(&[7, 33]).with_view(View::Narrowed),
            x(&[7, 33]).with_view(View::Permuted(vec![1, 0])),
            w(33).with_view(View::Broadcast(vec![1])),
        ],
        tol,
    ));
    cases.push(Case::new(
        Op::RmsNorm { eps: 0.0 },
        vec![x(&[7, 33]), w(33).with_view(View::Broadcast(vec![1]))],
        tol,
    ));
}

fn rope_cases(cases: &mut Vec<Case>, dtype: DType) {
    let tol = tolerance_for(dtype);
    let x = |shape: &[usize]| Input::uniform(shape, dtype);
    for style in [RopeStyle::HalfSplit, RopeStyle::Interleaved] {
        let op = |base: f64, position_scale: f64| Op::Rope {
            style,
            base,
            position_scale,
        };
        let mut push = |op: Op, input: Input, positions: Input| {
            cases.push(Case::new(op, vec![input, positions], tol));
        };
        // Positions from an offset (a continuing sequence), as the KV cache produces them.
        push(
            op(10000.0, 1.0),
            x(&[5, 3, 8]),
            Input::values(&[5], DType::I32, &[17.0, 18.0, 19.0, 20.0, 21.0]),
        );
        push(
            op(500000.0, 1.0),
            x(&[2, 7, 4, 64]),
            Input::integers(&[7], DType::I64, 1000, 5000),
        );
        push(
            op(10000.0, 0.25),
            x(&[1, 6, 2]),
            Input::values(&[1], DType::I64, &[4096.0]),
        );
        // Query-shaped views: [batch, heads, seq, dim] storage read as [batch, seq, heads, dim].
        push(
            op(10000.0, 1.0),
            x(&[2, 9, 3, 16]).with_view(View::Permuted(vec![0, 2, 1, 3])),
            Input::integers(&[9], DType::I32, 0, 100),
        );
        push(
            op(1000.0, 1.0),
            x(&[3, 5, 12]).with_view(View::Narrowed),
            Input::integers(&[3], DType::I64, 0, 100).with_view(View::Narrowed),
        );
        push(
            op(10000.0, 1.0),
            x(&[4, 3, 8]).with_view(View::Broadcast(vec![4, 1, 8])),
            Input::integers(&[4], DType::I32, 0, 50),
        );
        push(
            op(10000.0, 1.0),
            x(&[0, 3, 8]),
            Input::integers(&[0], DType::I32, 0, 50),
        );
    }
}

fn swiglu_cases(cases: &mut Vec<Case>, dtype: DType) {
    let tol = tolerance_for(dtype);
    let x = |shape: &[usize]| uniform(shape, dtype, -4.0, 4.0);
    let mut push = |gate: Input, up: Input| cases.push(Case::new(Op::SwiGlu, vec![gate, up], tol));
    push(x(&[7, 33]), x(&[7, 33]));
    push(x(&[4097]), x(&[4097]));
    push(x(&[1]), x(&[1]));
    push(
        x(&[3, 5, 7]).with_view(View::Permuted(vec![2, 1, 0])),
        x(&[3, 5, 7]).with_view(View::Narrowed),
    );
    push(
        x(&[7, 33]),
        x(&[7, 33]).with_view(View::Broadcast(vec![1, 33])),
    );
    push(x(&[0, 3]), x(&[0, 3]));
}

/// `Attention` with the usual 1/√head_dim scale.
fn attention_op(causal: bool, head_dim: usize) -> Op {
    Op::Attention {
        causal,
        scale: 1.0 / (head_dim as f64).sqrt(),
    }
}

/// Queries over a wider range than keys and values, so that the softmax rows are peaked as
/// well as flat.
fn attention_query(shape: &[usize], dtype: DType) -> Input {
    uniform(shape, dtype, -3.0, 3.0)
}

fn attention_cases(cases: &mut Vec<Case>, dtype: DType) {
    let tol = tolerance_for(dtype);
    let q = |shape: &[usize]| attention_query(shape, dtype);
    let kv = |shape: &[usize]| Input::uniform(shape, dtype);
    let op = attention_op;
    for causal in [false, true] {
        let mut push = |d: usize, q: Input, k: Input, v: Input| {
            cases.push(Case::new(op(causal, d), vec![q, k, v], tol));
        };
        // Plain multi-head, square.
        push(8, q(&[1, 2, 7, 8]), kv(&[1, 2, 7, 8]), kv(&[1, 2, 7, 8]));
        // Grouped-query (4 query heads over 2 kv heads), fewer queries than keys.
        push(8, q(&[2, 4, 5, 8]), kv(&[2, 2, 9, 8]), kv(&[2, 2, 9, 8]));
        // Multi-query decode: one query against 33 cached keys, value dim ≠ key dim.
        push(
            16,
            q(&[1, 6, 1, 16]),
            kv(&[1, 1, 33, 16]),
            kv(&[1, 1, 33, 8]),
        );
        // More queries than one block of the CPU kernel (64), and a prefix of cached keys.
        push(
            16,
            q(&[1, 2, 70, 16]),
            kv(&[1, 1, 75, 16]),
            kv(&[1, 1, 75, 16]),
        );
        // Strided views: q stored [b, s, h, d]; a narrowed cache; a batch-broadcast value.
        push(
            8,
            q(&[2, 4, 7, 8]).with_view(View::Permuted(vec![0, 2, 1, 3])),
            kv(&[2, 2, 9, 8]).with_view(View::Narrowed),
            kv(&[2, 2, 9, 8]).with_view(View::Broadcast(vec![1, 2, 9, 8])),
        );
        push(
            8,
            q(&[1, 2, 3, 8]),
            kv(&[1, 2, 5, 8]).with_view(View::Permuted(vec![0, 2, 1, 3])),
            kv(&[1, 2, 5, 8]).with_view(View::Permuted(vec![0, 1, 3, 2])),
        );
        // Nothing to attend from.
        push(8, q(&[1, 2, 0, 8]), kv(&[1, 2, 3, 8]), kv(&[1, 2, 3, 8]));
        // A few queries with head dims of whole 16-byte rows: the GPU's decoding kernel.
        push(
            32,
            q(&[1, 4, 3, 32]),
            kv(&[1, 2, 40, 32]),
            kv(&[1, 2, 40, 32]),
        );
    }
    // Queries at given positions in a whole KV cache (decode and prefill steps): the keys
    // past the largest position are never read, so the cases place them well inside.
    let positions = |dtype: DType, values: &[f64]| Input::values(&[values.len()], dtype, values);
    let mut at = |d: usize, q: Input, k: Input, v: Input, p: Input| {
        cases.push(Case::new(op(true, d), vec![q, k, v, p], tol));
    };
    at(
        16,
        q(&[1, 6, 1, 16]),
        kv(&[1, 2, 40, 16]),
        kv(&[1, 2, 40, 16]),
        positions(DType::I32, &[20.0]),
    );
    at(
        8,
        q(&[1, 4, 5, 8]).with_view(View::Permuted(vec![0, 2, 1, 3])),
        kv(&[1, 2, 64, 8]).with_view(View::Permuted(vec![0, 2, 1, 3])),
        kv(&[1, 2, 64, 8]).with_view(View::Permuted(vec![0, 2, 1, 3])),
        positions(DType::I64, &[3.0, 4.0, 5.0, 6.0, 7.0]),
    );
    at(
        16,
        q(&[1, 2, 70, 16]),
        kv(&[1, 1, 300, 16]),
        kv(&[1, 1, 300, 16]),
        positions(DType::I32, &(100..170).map(f64::from).collect::<Vec<_>>()),
    );
    // Decoding shapes of real models (head_dim 64 and 128, GQA) in a cache stored
    // [len, kv_heads, dim], with more keys than one pass of the GPU's decoding kernel.
    at(
        64,
        q(&[1, 8, 1, 64]),
        kv(&[1, 2, 600, 64]).with_view(View::Permuted(vec![0, 2, 1, 3])),
        kv(&[1, 2, 600, 64]).with_view(View::Permuted(vec![0, 2, 1, 3])),
        positions(DType::I32, &[517.0]),
    );
    at(
        128,
        q(&[1, 4, 2, 128]),
        kv(&[1, 2, 300, 128]),
        kv(&[1, 2, 300, 128]),
        positions(DType::I64, &[250.0, 251.0]),
    );
    at(
        8,
        q(&[1, 2, 1, 8]),
        kv(&[1, 2, 4097, 8]),
        kv(&[1, 2, 4097, 8]),
        positions(DType::I32, &[0.0]),
    );
}

/// A llama decode step: 9 query heads over 3 kv heads, keys and values read from a cache
/// stored `[keys, heads, dim]`, causal or not.
pub fn decode_attention_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for dtype in DType::FLOATS {
        let q = uniform(&[1, 9, 1, 64], dtype, -3.0, 3.0);
        let kv = Input::uniform(&[1, 3, 41, 64], dtype).with_view(View::Permuted(vec![0, 2, 1, 3]));
        for causal in [false, true] {
            cases.push(Case::new(
                Op::Attention {
                    causal,
                    scale: 0.125,
                },
                vec![q.clone(), kv.clone(), kv.clone()],
                tolerance_for(dtype),
            ));
        }
    }
    cases
}

/// Prefill shapes (the GPU's tensor-core kernel for f16/bf16): row tiles that cross query
/// heads, GQA, q stored `[b, s, h, d]`, and a prefill step after cached tokens at given
/// positions in a cache stored `[len, kv_heads, dim]` with head_dim 128.
pub fn prefill_attention_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for dtype in DType::FLOATS {
        let tol = tolerance_for(dtype);
        let q = |shape: &[usize]| attention_query(shape, dtype);
        let kv = |shape: &[usize]| Input::uniform(shape, dtype);
        let op = attention_op;
        for causal in [false, true] {
            cases.push(Case::new(
                op(causal, 64),
                vec![q(&[1, 4, 80, 64]), kv(&[1, 2, 80, 64]), kv(&[1, 2, 80, 64])],
                tol,
            ));
            cases.push(Case::new(
                op(causal, 64),
                vec![
                    q(&[1, 6, 40, 64]).with_view(View::Permuted(vec![0, 2, 1, 3])),
                    kv(&[1, 2, 100, 64]),
                    kv(&[1, 2, 100, 64]),
                ],
                tol,
            ));
        }
        let cache = || kv(&[1, 2, 300, 128]).with_view(View::Permuted(vec![0, 2, 1, 3]));
        let positions: Vec<f64> = (100..170).map(f64::from).collect();
        cases.push(Case::new(
            op(true, 128),
            vec![
                q(&[1, 4, 70, 128]),
                cache(),
                cache(),
                Input::values(&[positions.len()], DType::I32, &positions),
            ],
            tol,
        ));
    }
    cases
}
