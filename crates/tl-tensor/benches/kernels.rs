//! Single-thread timings of the CPU kernels against their in-process peers, for tuning on a
//! shared machine: every figure is the minimum of many runs (interference only adds time),
//! and each kernel is timed next to the peer it replaces.
//!
//! Run: `cargo bench -p tl-tensor --bench kernels`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use tl_tensor::quant::{
    quantize_activation, ActivationBlock, BlockQ4_0, BlockQ4_1, BlockQ8_0, EncodeBlock, Simd,
    ACTIVATION_BLOCK,
};
use tl_tensor::{DType, Device};

/// The fastest of `runs` timings of `f`.
fn min_time(runs: usize, mut f: impl FnMut()) -> Duration {
    f();
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .expect("at least one run")
}

/// Pseudo-random values in [-1, 1).
fn values(seed: u64, len: usize) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// Mat-vec rows of one format, on weights that stay in L2 (the kernel's own speed), with
/// the row kernels of every instruction set.
fn matvec<B: EncodeBlock>(rows: usize, k: usize) {
    let weights: Vec<B> = values(1, rows * k)
        .chunks_exact(32)
        .map(|c| B::encode(c.try_into().expect("32 values")))
        .collect();
    let mut x = vec![ActivationBlock::default(); k / ACTIVATION_BLOCK];
    quantize_activation(&values(2, k), &mut x);
    let mut out = vec![0.0f32; rows];
    let mut line = format!("matvec {:?} {rows}x{k}:", B::DTYPE);
    let mut peer = None;
    for simd in [Simd::Avx2, Simd::Avx512Vnni] {
        if !simd.available() {
            continue;
        }
        // The row kernel one call per row (the dispatch the mat-vec used before `dot_rows`).
        let per_row = min_time(200, || {
            for (o, w) in out.iter_mut().zip(weights.chunks_exact(k / B::WEIGHTS)) {
                *o = B::dot_row(simd, black_box(w), black_box(&x));
            }
        });
        let rows_time = min_time(200, || B::dot_rows(simd, black_box(&weights), &x, &mut out));
        let blocks = (rows * k / 32) as f64;
        let base = *peer.get_or_insert(per_row);
        line += &format!(
            "  {simd:?}: dot_row {:.2} ns/block, dot_rows {:.2} ns/block ({:.2}x the AVX2 row kernel)",
            per_row.as_secs_f64() * 1e9 / blocks,
            rows_time.as_secs_f64() * 1e9 / blocks,
            base.as_secs_f64() / rows_time.as_secs_f64(),
        );
    }
    println!("{line}");
}

/// Streaming ops through a one-thread device against a plain copy of the same bytes.
fn streaming() -> tl_tensor::Result<()> {
    let device = Device::cpu_with_threads(1);
    let n = 16 << 20;
    let x = device.rand_uniform(&[n], DType::F32, -1.0, 1.0, 3)?;
    let host = x.to_vec::<f32>()?;
    let mut copy = vec![0.0f32; n];
    let copy_time = min_time(15, || {
        black_box(&mut copy).copy_from_slice(black_box(&host))
    });
    let softmax = min_time(15, || {
        black_box(
            x.reshape(&[n / 4096, 4096])
                .and_then(|x| x.softmax(1))
                .expect("softmax"),
        );
    });
    let transpose = min_time(15, || {
        black_box(
            x.reshape(&[4096, n / 4096])
                .and_then(|x| x.transpose(0, 1))
                .and_then(|x| x.contiguous())
                .expect("transpose"),
        );
    });
    let exp = min_time(15, || {
        black_box(x.unary(tl_tensor::UnaryOp::Exp).expect("exp"));
    });
    let max = min_time(15, || {
        black_box(
            x.reshape(&[n / 4096, 4096])
                .and_then(|x| x.reduce(tl_tensor::ReduceOp::Max, &[1], false))
                .expect("max"),
        );
    });
    for (name, time) in [
        ("exp (peer of softmax)", exp),
        ("max rows of 4096 (reads only)", max),
        ("softmax rows of 4096", softmax),
        ("transpose 4096x4096", transpose),
    ] {
        println!(
            "{name} f32 16M, 1 thread: {:.2} ms, {:.2}x the time of a copy ({:.2} ms)",
            time.as_secs_f64() * 1e3,
            copy_time.as_secs_f64() / time.as_secs_f64(),
            copy_time.as_secs_f64() * 1e3,
        );
    }
    Ok(())
}

fn main() -> tl_tensor::Result<()> {
    let only_streaming = std::env::args().any(|a| a == "streaming");
    for (rows, k) in [(1536, 576), (576, 1536), (512, 4096)] {
        if only_streaming {
            break;
        }
        matvec::<BlockQ4_0>(rows, k);
        matvec::<BlockQ4_1>(rows, k);
        matvec::<BlockQ8_0>(rows, k);
    }
    streaming()
}
