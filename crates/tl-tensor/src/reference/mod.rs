//! The naive reference: every op as plain loops over f64 values, never optimised.
//!
//! It is the oracle of the conformance suite. It shares no kernel code with any backend;
//! it only shares the op definitions and [`crate::signature::output_specs`].

mod copy;
mod creation;
mod elementwise;
mod index;
mod linear;
mod matmul;
mod nn;
mod quant;
mod reduce;
mod sample;

use crate::error::{Result, TensorError};
use crate::host_element::{bytes_to_f64, f64_to_bytes};
use crate::layout::Layout;
use crate::op::Op;
use crate::signature::{output_specs, TensorSpec};
use crate::DType;

/// The values of a host tensor: f64 for plain dtypes (already rounded to the dtype when
/// they are inputs; exact when they are reference outputs), raw blocks for quantized ones.
#[derive(Clone, Debug, PartialEq)]
pub enum HostData {
    Values(Vec<f64>),
    Blocks(Vec<u8>),
}

/// A dense row-major tensor on the host, as the reference sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub data: HostData,
}

impl HostTensor {
    pub fn from_values(shape: &[usize], dtype: DType, values: Vec<f64>) -> HostTensor {
        HostTensor {
            shape: shape.to_vec(),
            dtype,
            data: HostData::Values(values),
        }
    }

    /// Decodes dense storage bytes (as a backend stores them).
    pub fn from_bytes(shape: &[usize], dtype: DType, bytes: &[u8]) -> HostTensor {
        let data = match bytes_to_f64(dtype, bytes) {
            Some(values) => HostData::Values(values),
            None => HostData::Blocks(bytes.to_vec()),
        };
        HostTensor {
            shape: shape.to_vec(),
            dtype,
            data,
        }
    }

    /// Encodes as dense storage bytes of the tensor's dtype.
    pub fn to_bytes(&self) -> Vec<u8> {
        match &self.data {
            HostData::Values(v) => f64_to_bytes(self.dtype, v).expect("plain dtype"),
            HostData::Blocks(b) => b.clone(),
        }
    }

    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn spec(&self) -> TensorSpec {
        TensorSpec::new(&self.shape, self.dtype)
    }

    /// The f64 values; quantized tensors are decoded with the reference decoder.
    pub fn values(&self) -> Vec<f64> {
        match &self.data {
            HostData::Values(v) => v.clone(),
            HostData::Blocks(b) => quant::decode(self.dtype, b),
        }
    }

    /// Rounds every value to what the dtype can store (for building inputs).
    pub fn rounded(mut self) -> HostTensor {
        if let HostData::Values(v) = &self.data {
            let bytes = f64_to_bytes(self.dtype, v).expect("plain dtype");
            self.data = HostData::Values(bytes_to_f64(self.dtype, &bytes).expect("plain dtype"));
        }
        self
    }

    /// Applies a view op (reshape, permute, …) and materialises it.
    pub fn view(&self, op: &Op) -> Result<HostTensor> {
        let layout = Layout::contiguous(&self.shape);
        let layout = match op {
            Op::Reshape { shape } => layout.reshape(shape)?.expect("dense layouts reshape"),
            Op::Permute { dims } => layout.permute(dims)?,
            Op::Narrow { axis, start, len } => layout.narrow(*axis as isize, *start, *len)?,
            Op::Expand { shape } => layout.expand(shape)?,
            Op::Squeeze { axis } => layout.squeeze(*axis as isize)?,
            Op::Unsqueeze { axis } => layout.unsqueeze(*axis as isize)?,
            other => return Err(TensorError::bad_argument(other.name(), "is not a view op")),
        };
        self.gather_layout(&layout)
    }

    /// The elements a layout over this tensor's dense storage selects.
    pub fn gather_layout(&self, layout: &Layout) -> Result<HostTensor> {
        let data = match &self.data {
            HostData::Values(v) => HostData::Values(layout.offsets().map(|o| v[o]).collect()),
            HostData::Blocks(b) => {
                let (block, bytes) = (self.dtype.block_size(), self.dtype.block_bytes());
                let last = layout.shape().last().copied().unwrap_or(1);
                let mut out = Vec::new();
                for (i, o) in layout.offsets().enumerate() {
                    if i % last % block == 0 {
                        let start = o / block * bytes;
                        out.extend_from_slice(&b[start..start + bytes]);
                    }
                }
                HostData::Blocks(out)
            }
        };
        Ok(HostTensor {
            shape: layout.shape().to_vec(),
            dtype: self.dtype,
            data,
        })
    }
}

/// Evaluates `op` on dense host inputs. Outputs have the dtypes the signature gives, with
/// exact (unrounded) f64 values for plain dtypes.
pub fn evaluate(op: &Op, inputs: &[HostTensor]) -> Result<Vec<HostTensor>> {
    if op.is_view() {
        let [input] = inputs else {
            return Err(TensorError::Arity {
                op: op.name(),
                expected: 1,
                got: inputs.len(),
            });
        };
        return Ok(vec![input.view(op)?]);
    }
    let specs: Vec<TensorSpec> = inputs.iter().map(HostTensor::spec).collect();
    let out_specs = output_specs(op, &specs)?;
    let outputs = match op {
        Op::Full { .. } | Op::Arange { .. } | Op::RandUniform { .. } | Op::RandNormal { .. } => {
            creation::evaluate(op, &out_specs[0])?
        }
        Op::Contiguous | Op::Cast { .. } | Op::Concat { .. } => {
            copy::evaluate(op, inputs, &out_specs[0])?
        }
        Op::Unary(_) | Op::Affine { .. } | Op::Binary(_) | Op::Compare(_) | Op::Where => {
            elementwise::evaluate(op, inputs, &out_specs[0])?
        }
        Op::Reduce { .. } | Op::ArgReduce { .. } => reduce::evaluate(op, inputs, &out_specs[0])?,
        Op::IndexSelect { .. }
        | Op::Gather { .. }
        | Op::ScatterAdd { .. }
        | Op::IndexAdd { .. }
        | Op::IndexCopy { .. }
        | Op::EmbeddingBag { .. } => index::evaluate(op, inputs, &out_specs[0])?,
        Op::MatMul { .. } => matmul::evaluate(op, inputs, &out_specs[0])?,
        Op::Softmax { .. }
        | Op::LogSoftmax { .. }
        | Op::RmsNorm { .. }
        | Op::AddRmsNorm { .. }
        | Op::LayerNorm { .. }
        | Op::Rope { .. }
        | Op::SwiGlu
        | Op::Attention { .. }
        | Op::RopeAttention { .. } => nn::evaluate(op, inputs, &out_specs)?,
        Op::Dequantize { .. } | Op::Quantize { .. } | Op::QMatMul => {
            quant::evaluate(op, inputs, &out_specs[0])?
        }
        Op::Linear { norm, gated } => linear::evaluate_linear((*norm, *gated), inputs, &out_specs)?,
        Op::Sample { .. } | Op::RepetitionPenalty { .. } => {
            sample::evaluate(op, inputs, &out_specs[0])?
        }
        _ => unreachable!("view ops handled above"),
    };
    // Integer and boolean outputs are compared exactly: store them as the dtype would.
    Ok(outputs
        .into_iter()
        .map(|t| if t.dtype.is_float() { t } else { t.rounded() })
        .collect())
}

/// The reference value of a float elementwise function at `x` (also used to fold constants).
pub fn unary_value(op: crate::op::UnaryOp, x: f64) -> f64 {
    elementwise::unary(op, DType::F32, x)
}

/// Multi-index of flat row-major position `flat` in `shape`.
pub(crate) fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for axis in (0..shape.len()).rev() {
        index[axis] = flat % shape[axis];
        flat /= shape[axis];
    }
    index
}

/// Flat row-major position of a multi-index in `shape`.
pub(crate) fn ravel(index: &[usize], shape: &[usize]) -> usize {
    index.iter().zip(shape).fold(0, |acc, (&i, &d)| acc * d + i)
}

/// Value of a broadcast operand at an output multi-index.
pub(crate) fn broadcast_value(input: &HostTensor, values: &[f64], out_index: &[usize]) -> f64 {
    let lead = out_index.len() - input.shape.len();
    let index: Vec<usize> = input
        .shape
        .iter()
        .enumerate()
        .map(|(i, &d)| if d == 1 { 0 } else { out_index[lead + i] })
        .collect();
    values[ravel(&index, &input.shape)]
}
