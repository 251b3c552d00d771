//! `Tensor`: a strided view of a buffer on a device, with its dtype; views and host I/O.

use std::fmt;

use crate::buffer::Buffer;
use crate::device::Device;
use crate::error::{Result, TensorError};
use crate::host_element::{bytes_to_f64, HostElement};
use crate::layout::{normalize_axis, Layout};
use crate::op::Op;
use crate::signature::TensorSpec;
use crate::DType;

/// A tensor: cheap to clone (clones share the buffer). Views never copy.
#[derive(Clone)]
pub struct Tensor {
    buffer: Buffer,
    layout: Layout,
    dtype: DType,
    device: Device,
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Tensor({:?}, {}, {})",
            self.layout.shape(),
            self.dtype,
            self.device.name()
        )
    }
}

impl Tensor {
    /// Assembles a tensor; the layout must stay inside the buffer (checked for plain dtypes,
    /// and for quantized ones the offset and last stride must address whole blocks).
    pub fn from_parts(buffer: Buffer, layout: Layout, dtype: DType, device: Device) -> Self {
        Tensor {
            buffer,
            layout,
            dtype,
            device,
        }
    }

    /// Like [`Tensor::from_parts`] but checks that the view fits the buffer.
    pub fn try_from_parts(
        buffer: Buffer,
        layout: Layout,
        dtype: DType,
        device: Device,
    ) -> Result<Self> {
        let end_bytes = if dtype.is_quantized() {
            let block = dtype.block_size();
            if !layout.offset().is_multiple_of(block)
                || layout.strides().last().is_some_and(|&s| s != 1)
            {
                return Err(TensorError::bad_shape(
                    "tensor",
                    layout.shape(),
                    "a quantized view must address whole blocks along a dense last axis",
                ));
            }
            layout.span_end().div_ceil(block) * dtype.block_bytes()
        } else {
            layout.span_end() * dtype.block_bytes()
        };
        if end_bytes > buffer.byte_len() {
            return Err(TensorError::bad_shape(
                "tensor",
                layout.shape(),
                format!(
                    "the view needs {end_bytes} bytes but its buffer has {}",
                    buffer.byte_len()
                ),
            ));
        }
        Ok(Tensor::from_parts(buffer, layout, dtype, device))
    }

    pub fn buffer(&self) -> &Buffer {
        &self.buffer
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn shape(&self) -> &[usize] {
        self.layout.shape()
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    pub fn rank(&self) -> usize {
        self.layout.rank()
    }

    pub fn numel(&self) -> usize {
        self.layout.numel()
    }

    pub fn spec(&self) -> TensorSpec {
        TensorSpec::new(self.shape(), self.dtype)
    }

    pub fn is_contiguous(&self) -> bool {
        self.layout.is_contiguous()
    }

    /// Size of `axis` (negative counts from the end).
    pub fn dim(&self, axis: isize) -> Result<usize> {
        self.layout.dim("dim", axis)
    }

    fn with_layout(&self, layout: Layout) -> Result<Tensor> {
        if self.dtype.is_quantized() {
            let block = self.dtype.block_size();
            let last_ok = layout.strides().last().is_none_or(|&s| s == 1)
                && layout.shape().last().is_none_or(|&d| d % block == 0);
            if !layout.offset().is_multiple_of(block) || !last_ok {
                return Err(TensorError::bad_shape(
                    "view",
                    layout.shape(),
                    format!(
                        "a {} view must keep whole blocks of {block} along a dense last axis",
                        self.dtype
                    ),
                ));
            }
        }
        Ok(Tensor {
            buffer: self.buffer.clone(),
            layout,
            dtype: self.dtype,
            device: self.device.clone(),
        })
    }

    /// Applies a view op to the layout (no data moves).
    pub fn view(&self, op: &Op) -> Result<Tensor> {
        match op {
            Op::Reshape { shape } => self.reshape(shape),
            Op::Permute { dims } => self.permute(dims),
            Op::Narrow { axis, start, len } => self.narrow(*axis as isize, *start, *len),
            Op::Expand { shape } => self.expand(shape),
            Op::Squeeze { axis } => self.squeeze(*axis as isize),
            Op::Unsqueeze { axis } => self.unsqueeze(*axis as isize),
            other => Err(TensorError::bad_argument(other.name(), "is not a view op")),
        }
    }

    /// A view with a new shape; copies first when the elements are not dense.
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        match self.layout.reshape(shape)? {
            Some(layout) => self.with_layout(layout),
            None => {
                let dense = self.contiguous()?;
                let layout = dense.layout.reshape(shape)?.ok_or_else(|| {
                    TensorError::bad_shape("reshape", shape, "a dense copy could not be reshaped")
                })?;
                dense.with_layout(layout)
            }
        }
    }

    pub fn permute(&self, dims: &[usize]) -> Result<Tensor> {
        self.with_layout(self.layout.permute(dims)?)
    }

    pub fn transpose(&self, a: isize, b: isize) -> Result<Tensor> {
        self.with_layout(self.layout.transpose(a, b)?)
    }

    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Result<Tensor> {
        self.with_layout(self.layout.narrow(axis, start, len)?)
    }

    pub fn expand(&self, shape: &[usize]) -> Result<Tensor> {
        self.with_layout(self.layout.expand(shape)?)
    }

    pub fn squeeze(&self, axis: isize) -> Result<Tensor> {
        self.with_layout(self.layout.squeeze(axis)?)
    }

    pub fn unsqueeze(&self, axis: isize) -> Result<Tensor> {
        self.with_layout(self.layout.unsqueeze(axis)?)
    }

    /// Normalises `axis` against this tensor's rank.
    pub fn axis(&self, op: &str, axis: isize) -> Result<usize> {
        normalize_axis(op, axis, self.rank())
    }

    /// This tensor if dense, else a dense copy.
    pub fn contiguous(&self) -> Result<Tensor> {
        if self.is_contiguous() {
            return Ok(self.clone());
        }
        self.device.run1(&Op::Contiguous, &[self])
    }

    /// The dense storage bytes (blocks for quantized dtypes); waits for pending work.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let dense = self.contiguous()?;
        let (start, len) = dense.byte_range();
        self.device.backend().read(&dense.buffer, start, len)
    }

    /// Byte range of a dense tensor inside its buffer.
    pub(crate) fn byte_range(&self) -> (usize, usize) {
        let block = self.dtype.block_size();
        let start = self.layout.offset() / block * self.dtype.block_bytes();
        let len = self.dtype.storage_bytes(self.numel()).unwrap_or(0);
        (start, len)
    }

    /// Overwrites the elements of this dense tensor with `data` (row-major, of its dtype),
    /// after pending work that reads or writes it.
    pub fn write_slice<T: HostElement>(&self, data: &[T]) -> Result<()> {
        self.check_host_element::<T>("write_slice")?;
        if !self.is_contiguous() || data.len() != self.numel() {
            return Err(TensorError::bad_shape(
                "write_slice",
                self.shape(),
                format!("needs a dense tensor of {} elements", data.len()),
            ));
        }
        let (start, _) = self.byte_range();
        self.device
            .backend()
            .write(&self.buffer, start, bytemuck::cast_slice(data))
    }

    /// The elements in row-major order as `T`, which must match the dtype.
    pub fn to_vec<T: HostElement>(&self) -> Result<Vec<T>> {
        self.check_host_element::<T>("to_vec")?;
        Ok(host_elements(&self.to_bytes()?))
    }

    /// An error unless `T` is the host type of this tensor's dtype.
    fn check_host_element<T: HostElement>(&self, op: &str) -> Result<()> {
        if T::DTYPE != self.dtype {
            return Err(TensorError::DTypeMismatch {
                op: op.into(),
                lhs: self.dtype,
                rhs: T::DTYPE,
            });
        }
        Ok(())
    }

    /// Starts copying the elements to the host after the work enqueued so far, without
    /// waiting (see [`crate::Backend::read_later`]); later ops may overwrite the tensor
    /// meanwhile.
    pub fn to_vec_later<T: HostElement>(&self) -> Result<PendingVec<T>> {
        self.check_host_element::<T>("to_vec_later")?;
        let dense = self.contiguous()?;
        let (start, len) = dense.byte_range();
        Ok(PendingVec {
            read: self
                .device
                .backend()
                .read_later(&dense.buffer, start, len)?,
            element: std::marker::PhantomData,
        })
    }

    /// The elements as f64 (plain dtypes only; dequantize first otherwise).
    pub fn to_f64_vec(&self) -> Result<Vec<f64>> {
        let bytes = self.to_bytes()?;
        bytes_to_f64(self.dtype, &bytes).ok_or_else(|| TensorError::UnsupportedDType {
            op: "to_f64_vec".into(),
            dtype: self.dtype,
            detail: " (dequantize first)".into(),
        })
    }

    /// The single element of a one-element tensor, as f64.
    pub fn to_scalar(&self) -> Result<f64> {
        if self.numel() != 1 {
            return Err(TensorError::bad_shape(
                "to_scalar",
                self.shape(),
                "expects exactly one element",
            ));
        }
        Ok(self.to_f64_vec()?[0])
    }
}

/// Bytes read from a device as elements of `T`.
fn host_elements<T: HostElement>(bytes: &[u8]) -> Vec<T> {
    bytes
        .chunks_exact(std::mem::size_of::<T>())
        .map(bytemuck::pod_read_unaligned)
        .collect()
}

/// Elements on their way to the host ([`Tensor::to_vec_later`]).
pub struct PendingVec<T> {
    read: Box<dyn crate::backend::PendingRead>,
    element: std::marker::PhantomData<fn() -> T>,
}

impl<T: HostElement> PendingVec<T> {
    /// Waits for the copy.
    pub fn wait(self) -> Result<Vec<T>> {
        Ok(host_elements(&self.read.wait()?))
    }
}
