//! `tl bench ops`: CPU op throughput with ratios to measured memory bandwidth and to the
//! GEMM library called directly; with `--device cuda`, the GPU's decode-step ops
//! (bench/gpu_ops.rs).

use std::process::ExitCode;

use clap::Args;
use rayon::prelude::*;
use tl_tensor::{BinaryOp, DType, Device, DeviceKind, ReduceOp, Tensor, UnaryOp};

use crate::count_flags::{positive_count, thread_count};
use crate::device_choice::DeviceChoice;

use super::timing::{gb_per_s, median_time};

#[derive(Args)]
pub struct OpsArgs {
    /// The device to measure: the CPU's op set, or (cuda) the ops of a GPU decode step.
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceChoice,
    /// CPU threads (all cores by default; at most 1024).
    #[arg(long, value_parser = thread_count)]
    threads: Option<usize>,
    /// Timed runs per measurement (the median is reported).
    #[arg(long, default_value_t = 7, value_parser = positive_count)]
    runs: usize,
}

/// A streaming op under measurement.
type StreamOp<'a> = Box<dyn Fn() -> tl_tensor::Result<Tensor> + 'a>;

/// 16 Mi elements: far larger than any cache, as the targets ask.
const STREAM_ELEMENTS: usize = 16 << 20;

pub fn run(args: &OpsArgs) -> anyhow::Result<ExitCode> {
    let devices = args.device.devices(args.threads)?;
    for device in devices.iter().filter(|d| d.kind() != DeviceKind::Cpu) {
        super::gpu_ops::run(device, args.runs)?;
    }
    if !devices.iter().any(|d| d.kind() == DeviceKind::Cpu) {
        return Ok(ExitCode::SUCCESS);
    }
    let device = match args.threads {
        Some(n) => Device::cpu_with_threads(n),
        None => Device::cpu(),
    };
    let threads = args.threads.unwrap_or_else(rayon::current_num_threads);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    println!("device: {}", device.name());

    let mut copier = Copier::new(pool);
    let copy_bw = copier.bandwidth(args.runs)?;
    println!("memory copy bandwidth (read + write): {copy_bw:.2} GB/s  [measured again next to each streaming op: the ratio uses that figure]");
    println!();
    println!(
        "{:<34} {:>12} {:>14} {:>10}",
        "benchmark", "time", "throughput", "ratio"
    );

    // GEMM through the op against the same library called directly.
    let n = 1024;
    let a = device.rand_uniform(&[n, n], DType::F32, -1.0, 1.0, 1)?;
    let b = device.rand_uniform(&[n, n], DType::F32, -1.0, 1.0, 2)?;
    let op_time = median_time(args.runs, || {
        a.matmul(&b)?;
        Ok(())
    })?;
    let (a_host, b_host) = (a.to_vec::<f32>()?, b.to_vec::<f32>()?);
    let mut c_host = vec![0f32; n * n];
    let direct_time = median_time(args.runs, || {
        gemm_direct(&a_host, &b_host, &mut c_host, n, threads);
        Ok(())
    })?;
    let flops = 2.0 * (n * n * n) as f64;
    println!(
        "{:<34} {:>10.2}ms {:>9.1} GFLOP/s {:>9.2}x  (gemm called directly: {:.1} GFLOP/s; ratio = op time / direct time)",
        "matmul f32 1024x1024x1024",
        op_time.as_secs_f64() * 1e3,
        flops / op_time.as_secs_f64() / 1e9,
        op_time.as_secs_f64() / direct_time.as_secs_f64(),
        flops / direct_time.as_secs_f64() / 1e9,
    );

    // Streaming ops on 16 Mi f32 elements against copy bandwidth.
    let x = device.rand_uniform(&[STREAM_ELEMENTS], DType::F32, -1.0, 1.0, 3)?;
    let y = device.rand_uniform(&[STREAM_ELEMENTS], DType::F32, -1.0, 1.0, 4)?;
    let bytes = STREAM_ELEMENTS * 4;
    let stream_cases: Vec<(&str, StreamOp, usize)> = vec![
        (
            "add f32 16M",
            Box::new(|| x.binary(BinaryOp::Add, &y)),
            3 * bytes,
        ),
        (
            "mul f32 16M",
            Box::new(|| x.binary(BinaryOp::Mul, &y)),
            3 * bytes,
        ),
        ("exp f32 16M", Box::new(|| x.unary(UnaryOp::Exp)), 2 * bytes),
        (
            "silu f32 16M",
            Box::new(|| x.unary(UnaryOp::Silu)),
            2 * bytes,
        ),
        (
            "sum f32 16M (all axes)",
            Box::new(|| x.reduce(ReduceOp::Sum, &[0], false)),
            bytes,
        ),
        (
            "max f32 16M (rows of 4096)",
            Box::new(|| {
                x.reshape(&[STREAM_ELEMENTS / 4096, 4096])?
                    .reduce(ReduceOp::Max, &[1], false)
            }),
            bytes,
        ),
        (
            "softmax f32 16M (rows of 4096)",
            Box::new(|| x.reshape(&[STREAM_ELEMENTS / 4096, 4096])?.softmax(1)),
            2 * bytes,
        ),
        (
            "contiguous f32 16M (transpose)",
            Box::new(|| {
                x.reshape(&[4096, STREAM_ELEMENTS / 4096])?
                    .transpose(0, 1)?
                    .contiguous()
            }),
            2 * bytes,
        ),
    ];
    for (name, f, moved) in &stream_cases {
        let (time, copy_bw) = copier.interleaved(args.runs, || {
            f()?;
            Ok(())
        })?;
        report_stream(name, *moved, copy_bw, Ok(time));
    }

    // Quantized mat-vec: several weight matrices in rotation so they stream from memory,
    // not from the last-level cache.
    for dtype in [DType::Q4_0, DType::Q4_1, DType::Q8_0] {
        let (rows, cols) = (4096, 4096);
        // 32 matrices: 300 MB of Q4_0 or 570 MB of Q8_0, beyond any last-level cache.
        let weights = (0..32)
            .map(|seed| {
                device
                    .rand_uniform(&[rows, cols], DType::F32, -1.0, 1.0, 100 + seed)?
                    .quantize(dtype)
            })
            .collect::<tl_tensor::Result<Vec<_>>>();
        let weights = match weights {
            Ok(w) => w,
            Err(e) => {
                println!(
                    "{:<34} unavailable: {e}",
                    format!("qmatvec {dtype} 4096x4096")
                );
                continue;
            }
        };
        let v = device.rand_uniform(&[1, cols], DType::F32, -1.0, 1.0, 5)?;
        let mut turn = 0;
        let weight_bytes = dtype.storage_bytes(rows * cols).expect("whole blocks");
        let measured = copier.interleaved(args.runs * 4, || {
            turn = (turn + 1) % weights.len();
            v.qmatmul(&weights[turn])?;
            Ok(())
        });
        let (time, copy_bw) = match measured {
            Ok((time, bw)) => (Ok(time), bw),
            Err(e) => (Err(e), copy_bw),
        };
        report_stream(
            &format!("qmatvec {dtype} 4096x4096 (weights)"),
            weight_bytes,
            copy_bw,
            time,
        );
    }
    println!();
    println!("ratio for streaming ops = achieved GB/s / copy bandwidth measured in turns with the op (bytes read + written)");
    Ok(ExitCode::SUCCESS)
}

fn report_stream(
    name: &str,
    bytes: usize,
    copy_bw: f64,
    time: anyhow::Result<std::time::Duration>,
) {
    match time {
        Ok(t) => {
            let bw = gb_per_s(bytes, t);
            println!(
                "{name:<34} {:>10.2}ms {:>9.2} GB/s {:>9.2}x",
                t.as_secs_f64() * 1e3,
                bw,
                bw / copy_bw
            );
        }
        Err(e) => println!("{name:<34} unavailable: {e}"),
    }
}

/// Copy bandwidth of this machine: 1 GiB copied by all threads of its own pool (far
/// beyond any last-level cache, some of which exceed 256 MiB), bytes read plus written.
/// Other processes change it from second to second, so each op is timed in turns with it.
struct Copier {
    src: Vec<u8>,
    dst: Vec<u8>,
    /// The pool that copies: as many threads as the device's.
    pool: rayon::ThreadPool,
}

impl Copier {
    fn new(pool: rayon::ThreadPool) -> Copier {
        let len = 1 << 30;
        Copier {
            src: vec![1u8; len],
            dst: vec![0u8; len],
            pool,
        }
    }

    /// Time of one parallel copy of the whole buffer.
    fn copy_once(&mut self) -> std::time::Duration {
        let chunk = self.src.len() / (self.pool.current_num_threads() * 4);
        let (src, dst) = (&self.src, &mut self.dst);
        let start = std::time::Instant::now();
        self.pool.install(|| {
            dst.par_chunks_mut(chunk)
                .zip(src.par_chunks(chunk))
                .for_each(|(d, s)| d.copy_from_slice(s))
        });
        start.elapsed()
    }

    fn gb_per_s(&self, time: std::time::Duration) -> f64 {
        gb_per_s(2 * self.src.len(), time)
    }

    fn bandwidth(&mut self, runs: usize) -> anyhow::Result<f64> {
        let time = median_time(runs, || {
            self.copy_once();
            Ok(())
        })?;
        Ok(self.gb_per_s(time))
    }

    /// Median time of `op` and median copy bandwidth, the two timed in turns (one copy
    /// per `op` run, after one warm-up of each).
    fn interleaved(
        &mut self,
        runs: usize,
        mut op: impl FnMut() -> anyhow::Result<()>,
    ) -> anyhow::Result<(std::time::Duration, f64)> {
        op()?;
        self.copy_once();
        let (mut op_times, mut copy_times) = (Vec::new(), Vec::new());
        for _ in 0..runs.max(1) {
            let start = std::time::Instant::now();
            op()?;
            op_times.push(start.elapsed());
            copy_times.push(self.copy_once());
        }
        op_times.sort();
        copy_times.sort();
        let copy_bw = self.gb_per_s(copy_times[copy_times.len() / 2]);
        Ok((op_times[op_times.len() / 2], copy_bw))
    }
}

/// C = A·B through the `gemm` crate directly, row-major, on `threads` threads.
fn gemm_direct(a: &[f32], b: &[f32], c: &mut [f32], n: usize, threads: usize) {
    // SAFETY: the pointers cover n×n row-major matrices with the strides given.
    unsafe {
        gemm::gemm(
            n,
            n,
            n,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            n as isize,
            b.as_ptr(),
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::Rayon(threads),
        );
    }
}
