//! The CPU backend: owned or memory-mapped buffers, and kernels that run on a rayon pool.

pub mod buffer;
mod copy;
mod creation;
pub mod element;
mod elementwise;
mod index;
mod index_copy;
mod matmul;
mod nn;
mod quant;
mod reduce;
mod sample;
mod strided;
mod transpose;

use crate::backend::{Backend, DeviceKind};
use crate::buffer::Buffer;
use crate::error::{Result, TensorError};
use crate::op::Op;
use crate::tensor::Tensor;

pub use buffer::{BufferPool, CpuBuffer};

#[derive(Debug)]
pub struct CpuBackend {
    pool: rayon::ThreadPool,
    memory: std::sync::Arc<BufferPool>,
}

impl CpuBackend {
    /// A backend with its own pool of `threads` workers (all cores when `None`).
    pub fn new(threads: Option<usize>) -> Self {
        let mut builder = rayon::ThreadPoolBuilder::new().thread_name(|i| format!("tl-cpu-{i}"));
        if let Some(threads) = threads {
            builder = builder.num_threads(threads.max(1));
        }
        // Building a pool fails only when threads cannot be spawned; fall back to one
        // thread, which rayon creates lazily on use.
        let pool = builder
            .build()
            .or_else(|_| rayon::ThreadPoolBuilder::new().num_threads(1).build())
            .expect("a one-thread rayon pool");
        CpuBackend {
            pool,
            memory: Default::default(),
        }
    }

    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }
}

fn backend_error(detail: impl Into<String>) -> TensorError {
    TensorError::Backend {
        backend: "cpu".into(),
        detail: detail.into(),
    }
}

pub(crate) fn cpu_buffer(buffer: &Buffer) -> Result<&CpuBuffer> {
    buffer
        .downcast::<CpuBuffer>()
        .ok_or_else(|| backend_error("the buffer belongs to another backend"))
}

/// The whole buffer behind `tensor` viewed as `T`; index it with the tensor's layout.
pub(crate) fn input_slice<T: bytemuck::Pod>(tensor: &Tensor) -> Result<&[T]> {
    let bytes = cpu_buffer(tensor.buffer())?.bytes();
    let usable = bytes.len() / std::mem::size_of::<T>() * std::mem::size_of::<T>();
    bytemuck::try_cast_slice(&bytes[..usable])
        .map_err(|e| backend_error(format!("misaligned {} buffer: {e}", tensor.dtype())))
}

/// The dense elements of an output tensor, as `T`.
#[allow(clippy::mut_from_ref)]
pub(crate) fn output_slice<T: bytemuck::Pod>(tensor: &Tensor) -> Result<&mut [T]> {
    let bytes = output_bytes(tensor)?;
    bytemuck::try_cast_slice_mut(bytes)
        .map_err(|e| backend_error(format!("misaligned {} output: {e}", tensor.dtype())))
}

/// The dense storage bytes of an output tensor.
#[allow(clippy::mut_from_ref)]
pub(crate) fn output_bytes(tensor: &Tensor) -> Result<&mut [u8]> {
    if !tensor.is_contiguous() {
        return Err(backend_error("outputs must be contiguous"));
    }
    let (start, len) = tensor.byte_range();
    // SAFETY: by the backend contract the op being run owns its outputs exclusively.
    let bytes = unsafe { cpu_buffer(tensor.buffer())?.bytes_mut()? };
    bytes
        .get_mut(start..start + len)
        .ok_or_else(|| backend_error("output view exceeds its buffer"))
}

impl Backend for CpuBackend {
    fn name(&self) -> String {
        format!("cpu ({} threads)", self.threads())
    }

    fn kind(&self) -> DeviceKind {
        DeviceKind::Cpu
    }

    fn alloc(&self, bytes: usize) -> Result<Buffer> {
        Ok(Buffer::new(CpuBuffer::pooled(&self.memory, bytes)?))
    }

    fn upload(&self, bytes: &[u8]) -> Result<Buffer> {
        Ok(Buffer::new(CpuBuffer::from_bytes(bytes)?))
    }

    fn write(&self, buffer: &Buffer, byte_offset: usize, bytes: &[u8]) -> Result<()> {
        // SAFETY: CPU ops run synchronously, so no op is using the buffer now.
        let all = unsafe { cpu_buffer(buffer)?.bytes_mut()? };
        all.get_mut(byte_offset..byte_offset + bytes.len())
            .ok_or_else(|| backend_error("write past the end of the buffer"))?
            .copy_from_slice(bytes);
        Ok(())
    }

    fn read(&self, buffer: &Buffer, byte_offset: usize, len: usize) -> Result<Vec<u8>> {
        cpu_buffer(buffer)?
            .bytes()
            .get(byte_offset..byte_offset + len)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| backend_error("read past the end of the buffer"))
    }

    fn execute(&self, op: &Op, inputs: &[&Tensor], outputs: &[&Tensor]) -> Result<()> {
        self.pool.install(|| match op {
            Op::Full { .. }
            | Op::Arange { .. }
            | Op::RandUniform { .. }
            | Op::RandNormal { .. } => creation::run(op, outputs[0]),
            Op::Contiguous | Op::Cast { .. } | Op::Concat { .. } => {
                copy::run(op, inputs, outputs[0])
            }
            Op::Unary(_) | Op::Affine { .. } | Op::Binary(_) | Op::Compare(_) | Op::Where => {
                elementwise::run(op, inputs, outputs[0])
            }
            Op::Reduce { .. } | Op::ArgReduce { .. } => reduce::run(op, inputs, outputs[0]),
            Op::IndexSelect { .. }
            | Op::Gather { .. }
            | Op::ScatterAdd { .. }
            | Op::IndexAdd { .. }
            | Op::IndexCopy { .. }
            | Op::EmbeddingBag { .. } => index::run(op, inputs, outputs[0]),
            Op::MatMul { .. } => matmul::run(op, inputs, outputs[0]),
            Op::Softmax { .. }
            | Op::LogSoftmax { .. }
            | Op::RmsNorm { .. }
            | Op::AddRmsNorm { .. }
            | Op::LayerNorm { .. }
            | Op::Rope { .. }
            | Op::SwiGlu
            | Op::Attention { .. } => nn::run(op, inputs, outputs),
            Op::RopeAttention {
                style,
                base,
                position_scale,
                scale,
            } => crate::rope_attention::rope_attention_composed(
                inputs[0].device(),
                (*style, *base, *position_scale, *scale),
                inputs,
                outputs,
            ),
            Op::Dequantize { .. } | Op::Quantize { .. } | Op::QMatMul => {
                quant::run(op, inputs, outputs[0])
            }
            Op::Linear { norm, gated } => {
                crate::linear::linear_composed(inputs[0].device(), (*norm, *gated), inputs, outputs)
            }
            Op::Sample { .. } | Op::RepetitionPenalty { .. } => sample::run(op, inputs, outputs[0]),
            Op::Reshape { .. }
            | Op::Permute { .. }
            | Op::Narrow { .. }
            | Op::Expand { .. }
            | Op::Squeeze { .. }
            | Op::Unsqueeze { .. } => Err(backend_error(format!("{} is a view op", op.name()))),
        })
    }

    fn synchronize(&self) -> Result<()> {
        Ok(())
    }

    fn run_scoped(&self, work: &mut (dyn FnMut() + Send)) {
        self.pool.install(|| keep_workers_awake(work))
    }
}

/// Runs `work` on this pool thread while the pool's other workers wait for its jobs awake,
/// taking them as they appear, instead of falling asleep between two ops and being woken by
/// the next. A decode step's parallel ops come every few microseconds; on 2 threads the
/// futex sleeps and wake-ups took about 15% of decode time and delayed every parallel op
/// (decode 12 to 25% faster without them on a 2-vCPU machine).
///
/// A waiting worker spins for `SPIN_IDLE`, then also yields its core to other processes
/// between looks, and returns to rayon's own idle loop when `work` returns or after
/// `AWAKE_IDLE` without a job. That bound matters beyond CPU time: a worker that takes its
/// waiting task while it is itself inside one of `work`'s jobs (possible with three or more
/// threads) would otherwise hold that job until `work` ends, which needs the job. The
/// driving thread never waits in one.
fn keep_workers_awake(work: &mut (dyn FnMut() + Send)) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let driver = rayon::current_thread_index();
    let done = AtomicBool::new(false);
    rayon::scope(|scope| {
        for _ in 1..rayon::current_num_threads() {
            scope.spawn(|_| {
                if rayon::current_thread_index() == driver {
                    return;
                }
                let mut last_job = std::time::Instant::now();
                while !done.load(Ordering::Acquire) {
                    if rayon::yield_now() == Some(rayon::Yield::Executed) {
                        last_job = std::time::Instant::now();
                        continue;
                    }
                    let idle = last_job.elapsed();
                    if idle > AWAKE_IDLE {
                        return;
                    }
                    if idle > SPIN_IDLE {
                        std::thread::yield_now();
                    } else {
                        std::hint::spin_loop();
                    }
                }
            });
        }
        work();
        done.store(true, Ordering::Release);
    });
}

/// How long a worker kept awake by [`keep_workers_awake`] spins without a job before it
/// also yields its core between looks: longer than the gaps between a decode step's
/// parallel ops.
const SPIN_IDLE: std::time::Duration = std::time::Duration::from_micros(200);

/// How long such a worker waits for a job before it goes back to sleeping (2 ms ended the
/// wait inside some decodes on this 2-vCPU machine: 138 against 151 tok/s).
const AWAKE_IDLE: std::time::Duration = std::time::Duration::from_millis(50);
