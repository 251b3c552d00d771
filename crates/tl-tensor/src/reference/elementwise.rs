//! Reference: unary functions, affine, binary arithmetic, comparisons and `Where`, element
//! by element in f64 with numpy broadcasting. Integer arithmetic is done exactly in i128 and
//! then wrapped to the dtype's width.

use super::{broadcast_value, unravel, HostTensor};
use crate::error::{Result, TensorError};
use crate::op::{BinaryOp, Op, UnaryOp};
use crate::signature::{compare_f64, TensorSpec};
use crate::DType;

pub(super) fn evaluate(
    op: &Op,
    inputs: &[HostTensor],
    spec: &TensorSpec,
) -> Result<Vec<HostTensor>> {
    let values: Vec<Vec<f64>> = inputs.iter().map(HostTensor::values).collect();
    let dtype = inputs
        .last()
        .map(|t| t.dtype)
        .ok_or_else(|| TensorError::bad_argument(op.name(), "needs inputs"))?;
    let mut out = Vec::with_capacity(spec.numel());
    for flat in 0..spec.numel() {
        let index = unravel(flat, &spec.shape);
        let args: Vec<f64> = inputs
            .iter()
            .zip(&values)
            .map(|(t, v)| broadcast_value(t, v, &index))
            .collect();
        out.push(match op {
            Op::Unary(u) => unary(*u, dtype, args[0]),
            Op::Affine { scale, bias } => args[0] * scale + bias,
            Op::Binary(b) => binary(*b, dtype, args[0], args[1]),
            Op::Compare(c) => compare_f64(*c, args[0], args[1]) as u8 as f64,
            Op::Where => {
                if args[0] != 0.0 {
                    args[1]
                } else {
                    args[2]
                }
            }
            other => {
                return Err(TensorError::bad_argument(
                    other.name(),
                    "is not elementwise",
                ))
            }
        });
    }
    Ok(vec![HostTensor::from_values(&spec.shape, spec.dtype, out)])
}

/// Wraps an exact integer result to the two's-complement width of `dtype`.
fn wrap(v: i128, dtype: DType) -> f64 {
    match dtype {
        DType::I32 => v as i32 as f64,
        _ => v as i64 as f64,
    }
}

pub(crate) fn unary(op: UnaryOp, dtype: DType, x: f64) -> f64 {
    if !dtype.is_float() {
        let v = x as i128;
        return wrap(
            match op {
                UnaryOp::Neg => -v,
                UnaryOp::Abs => v.abs(),
                UnaryOp::Square => v * v,
                _ => v.max(0),
            },
            dtype,
        );
    }
    let sigmoid = |t: f64| 1.0 / (1.0 + (-t).exp());
    match op {
        UnaryOp::Neg => -x,
        UnaryOp::Abs => x.abs(),
        UnaryOp::Exp => x.exp(),
        UnaryOp::Log => x.ln(),
        UnaryOp::Sqrt => x.sqrt(),
        UnaryOp::Rsqrt => 1.0 / x.sqrt(),
        UnaryOp::Recip => 1.0 / x,
        UnaryOp::Sin => x.sin(),
        UnaryOp::Cos => x.cos(),
        UnaryOp::Tanh => x.tanh(),
        UnaryOp::Sigmoid => sigmoid(x),
        UnaryOp::Relu => {
            if x < 0.0 {
                0.0
            } else {
                x
            }
        }
        UnaryOp::GeluErf => x * 0.5 * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)),
        UnaryOp::GeluTanh => {
            let u = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x);
            0.5 * x * (1.0 + u.tanh())
        }
        UnaryOp::Silu => x * sigmoid(x),
        UnaryOp::Step => {
            if x > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        UnaryOp::Square => x * x,
        UnaryOp::Floor => x.floor(),
        UnaryOp::Ceil => x.ceil(),
        UnaryOp::Round => x.round_ties_even(),
    }
}

fn binary(op: BinaryOp, dtype: DType, a: f64, b: f64) -> f64 {
    if !dtype.is_float() {
        let (x, y) = (a as i128, b as i128);
        return wrap(
            match op {
                BinaryOp::Add => x + y,
                BinaryOp::Sub => x - y,
                BinaryOp::Mul => x * y,
                // Truncating division; dividing by zero is defined as 0.
                BinaryOp::Div => {
                    if y == 0 {
                        0
                    } else {
                        x / y
                    }
                }
                BinaryOp::Maximum => x.max(y),
                BinaryOp::Minimum => x.min(y),
                // The signature accepts `Pow` on floats only.
                BinaryOp::Pow => return f64::NAN,
            },
            dtype,
        );
    }
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Pow => a.powf(b),
        BinaryOp::Maximum | BinaryOp::Minimum if a.is_nan() || b.is_nan() => f64::NAN,
        BinaryOp::Maximum => a.max(b),
        BinaryOp::Minimum => a.min(b),
    }
}
