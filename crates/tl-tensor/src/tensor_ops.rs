//! Convenience methods on `Tensor` for every non-view op; each builds an `Op` and runs it.

use crate::error::Result;
use crate::op::{
    ArgReduceOp, BagMode, BinaryOp, CompareOp, LinearNorm, Op, ReduceOp, RopeStyle, UnaryOp,
};
use crate::tensor::Tensor;
use crate::DType;

impl Tensor {
    fn run1(&self, op: Op, others: &[&Tensor]) -> Result<Tensor> {
        let mut inputs = vec![self];
        inputs.extend_from_slice(others);
        self.device().run1(&op, &inputs)
    }

    pub fn unary(&self, op: UnaryOp) -> Result<Tensor> {
        self.run1(Op::Unary(op), &[])
    }

    pub fn affine(&self, scale: f64, bias: f64) -> Result<Tensor> {
        self.run1(Op::Affine { scale, bias }, &[])
    }

    pub fn cast(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        self.run1(Op::Cast { dtype }, &[])
    }

    pub fn binary(&self, op: BinaryOp, rhs: &Tensor) -> Result<Tensor> {
        self.run1(Op::Binary(op), &[rhs])
    }

    pub fn add(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Add, rhs)
    }

    pub fn sub(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Sub, rhs)
    }

    pub fn mul(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Mul, rhs)
    }

    pub fn div(&self, rhs: &Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Div, rhs)
    }

    pub fn compare(&self, op: CompareOp, rhs: &Tensor) -> Result<Tensor> {
        self.run1(Op::Compare(op), &[rhs])
    }

    /// `self` is the Bool condition.
    pub fn where_cond(&self, if_true: &Tensor, if_false: &Tensor) -> Result<Tensor> {
        self.run1(Op::Where, &[if_true, if_false])
    }

    /// Reduces the given axes (negative counts from the end; any order).
    pub fn reduce(&self, op: ReduceOp, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        let mut resolved = axes
            .iter()
            .map(|&a| self.axis(op.name(), a))
            .collect::<Result<Vec<_>>>()?;
        resolved.sort_unstable();
        resolved.dedup();
        self.run1(
            Op::Reduce {
                op,
                axes: resolved,
                keepdim,
            },
            &[],
        )
    }

    pub fn sum(&self, axes: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Sum, axes, keepdim)
    }

    pub fn arg_reduce(&self, op: ArgReduceOp, axis: isize, keepdim: bool) -> Result<Tensor> {
        let axis = self.axis("argreduce", axis)?;
        self.run1(Op::ArgReduce { op, axis, keepdim }, &[])
    }

    pub fn matmul(&self, rhs: &Tensor) -> Result<Tensor> {
        self.matmul_t(rhs, false, false)
    }

    pub fn matmul_t(
        &self,
        rhs: &Tensor,
        transpose_lhs: bool,
        transpose_rhs: bool,
    ) -> Result<Tensor> {
        self.run1(
            Op::MatMul {
                transpose_lhs,
                transpose_rhs,
            },
            &[rhs],
        )
    }

    pub fn softmax(&self, axis: isize) -> Result<Tensor> {
        let axis = self.axis("softmax", axis)?;
        self.run1(Op::Softmax { axis }, &[])
    }

    pub fn log_softmax(&self, axis: isize) -> Result<Tensor> {
        let axis = self.axis("log_softmax", axis)?;
        self.run1(Op::LogSoftmax { axis }, &[])
    }

    pub fn rms_norm(&self, weight: &Tensor, eps: f64) -> Result<Tensor> {
        self.run1(Op::RmsNorm { eps }, &[weight])
    }

    /// Returns `(self + residual, rms_norm(self + residual) · weight)`.
    pub fn add_rms_norm(
        &self,
        residual: &Tensor,
        weight: &Tensor,
        eps: f64,
    ) -> Result<(Tensor, Tensor)> {
        let mut out = self
            .device()
            .run(&Op::AddRmsNorm { eps }, &[self, residual, weight])?;
        let normed = out.pop().expect("two outputs");
        let sum = out.pop().expect("two outputs");
        Ok((sum, normed))
    }

    pub fn layer_norm(&self, weight: &Tensor, bias: &Tensor, eps: f64) -> Result<Tensor> {
        self.run1(Op::LayerNorm { eps }, &[weight, bias])
    }

    pub fn rope(
        &self,
        positions: &Tensor,
        style: RopeStyle,
        base: f64,
        position_scale: f64,
    ) -> Result<Tensor> {
        self.run1(
            Op::Rope {
                style,
                base,
                position_scale,
            },
            &[positions],
        )
    }

    /// `silu(self) · up`.
    pub fn swiglu(&self, up: &Tensor) -> Result<Tensor> {
        self.run1(Op::SwiGlu, &[up])
    }

    /// `self` is q; see [`Op::Attention`].
    pub fn attention(&self, k: &Tensor, v: &Tensor, causal: bool, scale: f64) -> Result<Tensor> {
        self.run1(Op::Attention { causal, scale }, &[k, v])
    }

    /// `self` is q `[b, hq, sq, d]`, its queries at `positions [sq]` of a whole KV cache `k`,
    /// `v`; see [`Op::Attention`].
    pub fn attention_at(
        &self,
        k: &Tensor,
        v: &Tensor,
        positions: &Tensor,
        scale: f64,
    ) -> Result<Tensor> {
        self.run1(
            Op::Attention {
                causal: true,
                scale,
            },
            &[k, v, positions],
        )
    }

    pub fn concat(tensors: &[&Tensor], axis: isize) -> Result<Tensor> {
        let first = tensors.first().ok_or_else(|| {
            crate::TensorError::bad_argument("concat", "needs at least one tensor")
        })?;
        let axis = first.axis("concat", axis)?;
        first.device().run1(&Op::Concat { axis }, tensors)
    }

    pub fn index_select(&self, axis: isize, indices: &Tensor) -> Result<Tensor> {
        let axis = self.axis("index_select", axis)?;
        self.run1(Op::IndexSelect { axis }, &[indices])
    }

    pub fn gather(&self, axis: isize, index: &Tensor) -> Result<Tensor> {
        let axis = self.axis("gather", axis)?;
        self.run1(Op::Gather { axis }, &[index])
    }

    pub fn scatter_add(&self, axis: isize, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        let axis = self.axis("scatter_add", axis)?;
        self.run1(Op::ScatterAdd { axis }, &[index, src])
    }

    pub fn index_add(&self, axis: isize, indices: &Tensor, src: &Tensor) -> Result<Tensor> {
        let axis = self.axis("index_add", axis)?;
        self.run1(Op::IndexAdd { axis }, &[indices, src])
    }

    pub fn embedding_bag(&self, indices: &Tensor, mode: BagMode) -> Result<Tensor> {
        self.run1(Op::EmbeddingBag { mode }, &[indices])
    }

    pub fn dequantize(&self, dtype: DType) -> Result<Tensor> {
        self.run1(Op::Dequantize { dtype }, &[])
    }

    pub fn quantize(&self, dtype: DType) -> Result<Tensor> {
        self.run1(Op::Quantize { dtype }, &[])
    }

    /// `self · wᵀ` with `w` quantized `[n, k]`.
    pub fn qmatmul(&self, w: &Tensor) -> Result<Tensor> {
        self.run1(Op::QMatMul, &[w])
    }

    /// `self` is x of [`Op::Linear`]: `norm_inputs` are the norm's (the residual for
    /// `AddRms`, then its weight), `weights` are w, or w and w_up for the gated form.
    /// Returns the sum (`AddRms` only) and the product.
    pub fn linear(
        &self,
        norm: LinearNorm,
        norm_inputs: &[&Tensor],
        weights: &[&Tensor],
    ) -> Result<(Option<Tensor>, Tensor)> {
        let op = Op::Linear {
            norm,
            gated: weights.len() == 2,
        };
        let inputs: Vec<&Tensor> = [self]
            .into_iter()
            .chain(norm_inputs.iter().copied())
            .chain(weights.iter().copied())
            .collect();
        let mut outputs = self.device().run(&op, &inputs)?;
        let y = outputs.pop().expect("an output");
        Ok((outputs.pop(), y))
    }
}
