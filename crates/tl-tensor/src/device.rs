//! `Device`: a passed-around handle to a backend, and the one path by which ops run.

use std::fmt;
use std::sync::Arc;

use crate::backend::{Backend, DeviceKind, Replay};
use crate::error::{Result, TensorError};
use crate::layout::Layout;
use crate::op::Op;
use crate::signature::{output_specs, TensorSpec};
use crate::tensor::Tensor;
use crate::DType;

/// A handle to one backend instance. There is no global device: create one and pass it.
#[derive(Clone)]
pub struct Device {
    backend: Arc<dyn Backend>,
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Device({})", self.backend.name())
    }
}

impl Device {
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Device { backend }
    }

    /// A CPU device using every available core.
    pub fn cpu() -> Self {
        Device::new(Arc::new(crate::cpu::CpuBackend::new(None)))
    }

    /// A CPU device restricted to `threads` worker threads.
    pub fn cpu_with_threads(threads: usize) -> Self {
        Device::new(Arc::new(crate::cpu::CpuBackend::new(Some(threads))))
    }

    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    pub fn name(&self) -> String {
        self.backend.name()
    }

    pub fn kind(&self) -> DeviceKind {
        self.backend.kind()
    }

    pub fn same_as(&self, other: &Device) -> bool {
        Arc::ptr_eq(&self.backend, &other.backend)
    }

    /// Runs a non-view op: validates inputs, allocates dense outputs, enqueues the work.
    pub fn run(&self, op: &Op, inputs: &[&Tensor]) -> Result<Vec<Tensor>> {
        for input in inputs {
            if !input.device().same_as(self) {
                return Err(TensorError::DeviceMismatch {
                    lhs: self.name(),
                    rhs: input.device().name(),
                });
            }
        }
        let specs: Vec<TensorSpec> = inputs.iter().map(|t| t.spec()).collect();
        let out_specs = output_specs(op, &specs)?;
        let outputs = out_specs
            .iter()
            .map(|spec| self.empty(&spec.shape, spec.dtype))
            .collect::<Result<Vec<_>>>()?;
        let output_refs: Vec<&Tensor> = outputs.iter().collect();
        self.backend.execute(op, inputs, &output_refs)?;
        Ok(outputs)
    }

    /// Runs a non-view op writing into existing tensors (for in-place updates such as a KV
    /// cache row). Each output must be a dense view of the op's output shape and dtype on
    /// this device, and must not share memory with any input, except that `IndexCopy` may
    /// write into its destination input itself, and `RopeAttention` into its caches.
    pub fn run_into(&self, op: &Op, inputs: &[&Tensor], outputs: &[&Tensor]) -> Result<()> {
        for tensor in inputs.iter().chain(outputs) {
            if !tensor.device().same_as(self) {
                return Err(TensorError::DeviceMismatch {
                    lhs: self.name(),
                    rhs: tensor.device().name(),
                });
            }
        }
        let specs: Vec<TensorSpec> = inputs.iter().map(|t| t.spec()).collect();
        let out_specs = output_specs(op, &specs)?;
        if out_specs.len() != outputs.len() {
            return Err(TensorError::bad_argument(
                op.name(),
                format!("has {} outputs, {} given", out_specs.len(), outputs.len()),
            ));
        }
        for (o, (spec, out)) in out_specs.iter().zip(outputs).enumerate() {
            if out.spec() != *spec || !out.is_contiguous() {
                return Err(TensorError::bad_shape(
                    op.name(),
                    out.shape(),
                    format!("the output must be a dense {}{:?}", spec.dtype, spec.shape),
                ));
            }
            // IndexCopy may write its destination in place, and RopeAttention its caches:
            // only the copied slices change.
            let in_place = |(i, input): (usize, &&Tensor)| {
                let destination = match op {
                    Op::IndexCopy { .. } => i == 0,
                    Op::RopeAttention { .. } => (o, i) == (1, 3) || (o, i) == (2, 4),
                    _ => false,
                };
                destination && input.layout() == out.layout()
            };
            if inputs
                .iter()
                .enumerate()
                .any(|(i, input)| input.buffer().same_memory(out.buffer()) && !in_place((i, input)))
            {
                return Err(TensorError::bad_argument(
                    op.name(),
                    "an output shares memory with an input",
                ));
            }
        }
        self.backend.execute(op, inputs, outputs)
    }

    /// Runs an op with exactly one output.
    pub fn run1(&self, op: &Op, inputs: &[&Tensor]) -> Result<Tensor> {
        let mut outputs = self.run(op, inputs)?;
        if outputs.len() != 1 {
            return Err(TensorError::bad_argument(
                op.name(),
                format!("has {} outputs, not one", outputs.len()),
            ));
        }
        Ok(outputs.remove(0))
    }

    /// A dense tensor with unspecified contents.
    pub fn empty(&self, shape: &[usize], dtype: DType) -> Result<Tensor> {
        let numel = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| TensorError::bad_shape("empty", shape, "the element count overflows"))?;
        let bytes = dtype.storage_bytes(numel).ok_or_else(|| {
            TensorError::bad_shape(
                "empty",
                shape,
                format!("not a whole number of {dtype} blocks"),
            )
        })?;
        let buffer = self.backend.alloc(bytes)?;
        Ok(Tensor::from_parts(
            buffer,
            Layout::contiguous(shape),
            dtype,
            self.clone(),
        ))
    }

    pub fn full(&self, shape: &[usize], dtype: DType, value: f64) -> Result<Tensor> {
        self.run1(
            &Op::Full {
                shape: shape.to_vec(),
                dtype,
                value,
            },
            &[],
        )
    }

    pub fn zeros(&self, shape: &[usize], dtype: DType) -> Result<Tensor> {
        self.full(shape, dtype, 0.0)
    }

    pub fn ones(&self, shape: &[usize], dtype: DType) -> Result<Tensor> {
        self.full(shape, dtype, 1.0)
    }

    pub fn arange(&self, start: f64, step: f64, len: usize, dtype: DType) -> Result<Tensor> {
        self.run1(
            &Op::Arange {
                start,
                step,
                len,
                dtype,
            },
            &[],
        )
    }

    pub fn rand_uniform(
        &self,
        shape: &[usize],
        dtype: DType,
        low: f64,
        high: f64,
        seed: u64,
    ) -> Result<Tensor> {
        self.run1(
            &Op::RandUniform {
                shape: shape.to_vec(),
                dtype,
                low,
                high,
                seed,
            },
            &[],
        )
    }

    pub fn rand_normal(
        &self,
        shape: &[usize],
        dtype: DType,
        mean: f64,
        std: f64,
        seed: u64,
    ) -> Result<Tensor> {
        self.run1(
            &Op::RandNormal {
                shape: shape.to_vec(),
                dtype,
                mean,
                std,
                seed,
            },
            &[],
        )
    }

    /// A tensor holding a copy of `bytes`, which must be exactly the storage of `shape` in
    /// `dtype` (blocks for quantized dtypes).
    pub fn from_bytes(&self, bytes: &[u8], shape: &[usize], dtype: DType) -> Result<Tensor> {
        let numel: usize = shape.iter().product();
        let expected = dtype.storage_bytes(numel).ok_or_else(|| {
            TensorError::bad_shape(
                "from_bytes",
                shape,
                format!("not a whole number of {dtype} blocks"),
            )
        })?;
        if bytes.len() != expected {
            return Err(TensorError::HostDataSize {
                shape: shape.to_vec(),
                dtype,
                expected,
                got: bytes.len(),
            });
        }
        let buffer = self.backend.upload(bytes)?;
        Ok(Tensor::from_parts(
            buffer,
            Layout::contiguous(shape),
            dtype,
            self.clone(),
        ))
    }

    pub fn from_slice<T: crate::HostElement>(&self, data: &[T], shape: &[usize]) -> Result<Tensor> {
        self.from_bytes(bytemuck::cast_slice(data), shape, T::DTYPE)
    }

    /// Runs `work` where this device's ops are cheapest to issue from (see
    /// [`Backend::run_scoped`]): wrap a loop of many small ops, such as a decode loop, in it.
    pub fn scoped<R: Send>(&self, work: impl FnOnce() -> R + Send) -> R {
        let mut work = Some(work);
        let mut result = None;
        self.backend.run_scoped(&mut || {
            if let Some(work) = work.take() {
                result = Some(work());
            }
        });
        result.expect("run_scoped runs its work exactly once")
    }

    pub fn synchronize(&self) -> Result<()> {
        self.backend.synchronize()
    }

    /// Records the ops `work` issues into a [`Recording`] instead of running them, when the
    /// backend can (CUDA graphs); `Ok(None)` without calling `work` when it cannot. While
    /// recording nothing runs, so `work` must not read tensors back; tensors it allocates
    /// keep fixed addresses, and each replay rewrites them.
    pub fn capture<T>(&self, work: impl FnOnce() -> Result<T>) -> Result<Option<(Recording, T)>> {
        if !self.backend.begin_capture()? {
            return Ok(None);
        }
        let result = work();
        // Recording must end even when `work` failed, or the backend stays in it.
        let recording = self.backend.end_capture();
        let value = result?;
        Ok(Some((Recording(recording?), value)))
    }
}

/// Work recorded by [`Device::capture`].
pub struct Recording(Box<dyn Replay>);

impl Recording {
    /// Enqueues the recorded work once more (asynchronously, like any op).
    pub fn replay(&self) -> Result<()> {
        self.0.replay()
    }
}
