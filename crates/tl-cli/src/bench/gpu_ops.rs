//! `tl bench ops --device cuda`: the ops of a batch-1 decode step on the GPU, each recorded
//! into a graph of many launches and replayed, with weight-streaming ops against the
//! device's copy bandwidth measured in the same run.

use std::time::{Duration, Instant};

use tl_tensor::reference::HostData;
use tl_tensor::{DType, Device, Op, RopeStyle, Tensor};
use tl_testkit::inputs::host_values;
use tl_testkit::Fill;

use super::timing::gb_per_s;

/// Weights each mat-vec shape rotates through: more than the GPU's last-level cache (50 MB
/// on an H200), so every launch streams its matrix from memory.
const ROTATION_BYTES: usize = 512 << 20;

/// Launches recorded into one graph per measurement.
const LAUNCHES: usize = 200;

pub fn run(device: &Device, runs: usize) -> anyhow::Result<()> {
    println!("device: {}", device.name());
    let copy_bw = copy_bandwidth(device, runs)?;
    println!("device copy bandwidth (read + write): {copy_bw:.0} GB/s");
    println!();
    println!(
        "{:<44} {:>10} {:>12} {:>8}",
        "benchmark (per launch, replayed graphs)", "time", "throughput", "ratio"
    );
    // The mat-vecs of a TinyLlama-1.1B decode step: q/k/v joined, o, gate/up joined, down,
    // and the output head.
    let shapes = [
        (2560, 2048, "qkv"),
        (2048, 2048, "o"),
        (11264, 2048, "gate+up"),
        (2048, 5632, "down"),
        (32000, 2048, "head"),
    ];
    for dtype in [
        DType::BF16,
        DType::Q8_0,
        DType::Q4_0,
        DType::Q4_1,
        DType::Q4_K,
        DType::Q6_K,
    ] {
        for &(rows, cols, name) in &shapes {
            let label = format!("matvec {dtype} {rows}x{cols} ({name})");
            match matvec_time(device, dtype, rows, cols, runs) {
                Ok((time, bytes)) => {
                    let bw = gb_per_s(bytes, time);
                    println!(
                        "{label:<44} {:>8.2}µs {:>7.0} GB/s {:>7.2}x",
                        time.as_secs_f64() * 1e6,
                        bw,
                        bw / copy_bw
                    );
                }
                Err(e) => println!("{label:<44} unavailable: {e}"),
            }
        }
    }
    small_ops(device, runs)?;
    println!();
    println!("ratio = weight bytes streamed per second / copy bandwidth (bytes read + written)");
    Ok(())
}

/// Median time of one launch of `LAUNCHES` recorded by `record` and replayed `runs` times.
fn replayed(
    device: &Device,
    runs: usize,
    mut record: impl FnMut(usize) -> tl_tensor::Result<()>,
) -> anyhow::Result<Duration> {
    let Some((recording, ())) = device.capture(|| {
        for i in 0..LAUNCHES {
            record(i)?;
        }
        Ok(())
    })?
    else {
        anyhow::bail!("{} cannot record graphs", device.name());
    };
    recording.replay()?;
    device.synchronize()?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        recording.replay()?;
        device.synchronize()?;
        times.push(start.elapsed() / LAUNCHES as u32);
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// Device-to-device copy of 1 GiB, bytes read plus written per second.
fn copy_bandwidth(device: &Device, runs: usize) -> anyhow::Result<f64> {
    let elements = 1 << 28;
    let source = device.zeros(&[elements], DType::F32)?;
    let copy = || -> anyhow::Result<Duration> {
        device.synchronize()?;
        let start = Instant::now();
        device.run1(&Op::Contiguous, &[&source])?;
        device.synchronize()?;
        Ok(start.elapsed())
    };
    copy()?;
    let mut times = (0..runs.max(3))
        .map(|_| copy())
        .collect::<anyhow::Result<Vec<_>>>()?;
    times.sort();
    Ok(gb_per_s(2 * 4 * elements, times[times.len() / 2]))
}

/// One launch's time and the weight bytes it streams.
fn matvec_time(
    device: &Device,
    dtype: DType,
    rows: usize,
    cols: usize,
    runs: usize,
) -> anyhow::Result<(Duration, usize)> {
    let bytes = dtype
        .storage_bytes(rows * cols)
        .ok_or_else(|| anyhow::anyhow!("{cols} columns are not whole {dtype} blocks"))?;
    let count = ROTATION_BYTES.div_ceil(bytes).max(2);
    // Quantized weights are valid random blocks (the conformance suite's), one set copied
    // `count` times: the project quantizes to few of the formats, and values do not change
    // the time.
    let blocks = match host_values(&[rows, cols], dtype, &Fill::Blocks, 1).data {
        HostData::Blocks(blocks) => Some(blocks),
        _ => None,
    };
    let weights = (0..count)
        .map(|seed| match &blocks {
            Some(blocks) => device.from_bytes(blocks, &[rows, cols], dtype),
            None => device.rand_uniform(&[rows, cols], dtype, -1.0, 1.0, seed as u64),
        })
        .collect::<tl_tensor::Result<Vec<Tensor>>>()?;
    let x = device.rand_uniform(&[1, cols], DType::BF16, -1.0, 1.0, 7)?;
    let x = if dtype.is_quantized() {
        x.cast(DType::F32)?
    } else {
        x
    };
    let time = replayed(device, runs, |i| {
        let w = &weights[i % count];
        if dtype.is_quantized() {
            x.qmatmul(w)?;
        } else {
            x.matmul_t(w, false, true)?;
        }
        Ok(())
    })?;
    Ok((time, bytes))
}

/// The small ops around the mat-vecs of one TinyLlama layer, per launch.
fn small_ops(device: &Device, runs: usize) -> anyhow::Result<()> {
    let (hidden, heads, kv_heads, head_dim, ffn, cache) = (2048, 32, 4, 64, 5632, 256);
    let bf16 =
        |shape: &[usize], seed: u64| device.rand_uniform(shape, DType::BF16, -1.0, 1.0, seed);
    let x = bf16(&[1, hidden], 1)?;
    let residual = bf16(&[1, hidden], 2)?;
    let norm = bf16(&[hidden], 3)?;
    let qk = bf16(&[1, heads + kv_heads, head_dim], 4)?;
    let position = device.from_slice(&[150i32], &[1])?;
    let q = bf16(&[1, heads, 1, head_dim], 5)?;
    let keys = bf16(&[1, kv_heads, cache, head_dim], 6)?;
    let values = bf16(&[1, kv_heads, cache, head_dim], 7)?;
    let gate_up = bf16(&[1, 2 * ffn], 8)?;
    let new_keys = bf16(&[1, kv_heads, head_dim], 9)?;
    let cache_rows = bf16(&[cache, kv_heads, head_dim], 10)?;
    let scale = 1.0 / (head_dim as f64).sqrt();
    type Case<'a> = (&'a str, Box<dyn Fn() -> tl_tensor::Result<()> + 'a>);
    let cases: Vec<Case> = vec![
        (
            "rms_norm bf16 [1, 2048]",
            Box::new(|| x.rms_norm(&norm, 1e-5).map(drop)),
        ),
        (
            "add_rms_norm bf16 [1, 2048]",
            Box::new(|| x.add_rms_norm(&residual, &norm, 1e-5).map(drop)),
        ),
        (
            "rope bf16 [1, 36, 64]",
            Box::new(|| {
                qk.rope(&position, RopeStyle::HalfSplit, 10000.0, 1.0)
                    .map(drop)
            }),
        ),
        (
            "index_copy bf16 [1, 4, 64] into a cache",
            Box::new(|| {
                device.run_into(
                    &Op::IndexCopy { axis: 0 },
                    &[&cache_rows, &position, &new_keys],
                    &[&cache_rows],
                )
            }),
        ),
        (
            "attention bf16 32 heads over 151 of 256 keys",
            Box::new(|| q.attention_at(&keys, &values, &position, scale).map(drop)),
        ),
        (
            "swiglu bf16 [1, 5632]",
            Box::new(|| {
                gate_up
                    .narrow(1, 0, ffn)?
                    .swiglu(&gate_up.narrow(1, ffn, ffn)?)
                    .map(drop)
            }),
        ),
    ];
    for (name, op) in &cases {
        let time = replayed(device, runs, |_| op())?;
        println!("{name:<44} {:>8.2}µs", time.as_secs_f64() * 1e6);
    }
    Ok(())
}
