//! CPU kernels: unary functions, `Affine`, binary arithmetic, comparisons and `Where`, over
//! broadcast operands of any strides.
//!
//! Float math runs in f32 (f16/bf16 widened on load, rounded once on store); `i32`/`i64`
//! arithmetic wraps, and integer division truncates toward zero with `x / 0 = 0`.

pub(super) mod integer;
pub(super) mod math;
mod walk;
pub(super) mod widen;

use half::{bf16, f16};

use self::integer::IntElement;
use self::walk::{map1, map2, map3, widened_map1, widened_map2};
use self::widen::Widen;
use super::backend_error;
use crate::error::{Result, TensorError};
use crate::op::{BinaryOp, CompareOp, Op, UnaryOp};
use crate::tensor::Tensor;
use crate::DType;

pub(super) use self::walk::checked_input;

pub(crate) fn run(op: &Op, inputs: &[&Tensor], output: &Tensor) -> Result<()> {
    match (op, inputs) {
        (Op::Unary(u), [x]) => unary(*u, x, output),
        (Op::Affine { scale, bias }, [x]) => affine(*scale, *bias, x, output),
        (Op::Binary(b), [x, y]) => binary(*b, x, y, output),
        (Op::Compare(c), [x, y]) => compare(*c, x, y, output),
        (Op::Where, [condition, x, y]) => select(condition, x, y, output),
        _ => Err(backend_error(format!(
            "the elementwise kernels cannot run {} on {} inputs",
            op.name(),
            inputs.len()
        ))),
    }
}

fn unsupported(op: impl Into<String>, dtype: DType) -> TensorError {
    TensorError::unsupported_dtype(op.into(), dtype)
}

fn unary(op: UnaryOp, x: &Tensor, out: &Tensor) -> Result<()> {
    crate::with_float_type!(x.dtype(), T => unary_float::<T>(op, x, out), _ => match x.dtype() {
        DType::I32 => unary_int::<i32>(op, x, out),
        DType::I64 => unary_int::<i64>(op, x, out),
        other => Err(unsupported(Op::Unary(op).name(), other)),
    })
}

/// `out = T(f(f32(x)))`.
fn float_map<T: Widen>(
    x: &Tensor,
    out: &Tensor,
    f: impl Fn(f32) -> f32 + Sync + Copy,
) -> Result<()> {
    if T::IS_F32 {
        map1(x, out, move |v: T| T::from_f32(f(v.to_f32())))
    } else {
        widened_map1::<T>(x, out, f)
    }
}

fn unary_float<T: Widen>(op: UnaryOp, x: &Tensor, out: &Tensor) -> Result<()> {
    match op {
        UnaryOp::Neg => float_map::<T>(x, out, |v| -v),
        UnaryOp::Abs => float_map::<T>(x, out, f32::abs),
        UnaryOp::Exp => float_map::<T>(x, out, math::exp),
        UnaryOp::Log => float_map::<T>(x, out, math::ln),
        UnaryOp::Sqrt => float_map::<T>(x, out, f32::sqrt),
        UnaryOp::Rsqrt => float_map::<T>(x, out, |v| 1.0 / v.sqrt()),
        UnaryOp::Recip => float_map::<T>(x, out, |v| 1.0 / v),
        UnaryOp::Sin => float_map::<T>(x, out, f32::sin),
        UnaryOp::Cos => float_map::<T>(x, out, f32::cos),
        UnaryOp::Tanh => float_map::<T>(x, out, math::tanh),
        UnaryOp::Sigmoid => float_map::<T>(x, out, math::sigmoid),
        // NaN stays NaN (it is not below zero).
        UnaryOp::Relu => float_map::<T>(x, out, |v| if v < 0.0 { 0.0 } else { v }),
        UnaryOp::GeluErf => float_map::<T>(x, out, math::gelu_erf),
        UnaryOp::GeluTanh => float_map::<T>(x, out, math::gelu_tanh),
        UnaryOp::Silu => float_map::<T>(x, out, math::silu),
        UnaryOp::Step => float_map::<T>(x, out, |v| if v > 0.0 { 1.0 } else { 0.0 }),
        UnaryOp::Square => float_map::<T>(x, out, |v| v * v),
        UnaryOp::Floor => float_map::<T>(x, out, math::floor),
        UnaryOp::Ceil => float_map::<T>(x, out, math::ceil),
        UnaryOp::Round => float_map::<T>(x, out, math::round_half_even),
    }
}

fn unary_int<I: IntElement>(op: UnaryOp, x: &Tensor, out: &Tensor) -> Result<()> {
    match op {
        UnaryOp::Neg => map1(x, out, I::wrapping_neg),
        UnaryOp::Abs => map1(x, out, I::wrapping_abs),
        UnaryOp::Square => map1(x, out, |v: I| v.wrapping_mul(v)),
        UnaryOp::Relu => map1(x, out, |v: I| v.max(I::ZERO)),
        _ => Err(unsupported(Op::Unary(op).name(), x.dtype())),
    }
}

fn affine(scale: f64, bias: f64, x: &Tensor, out: &Tensor) -> Result<()> {
    let (scale, bias) = (scale as f32, bias as f32);
    crate::with_float_type!(
        x.dtype(),
        T => float_map::<T>(x, out, move |v| v * scale + bias),
        _ => Err(unsupported("affine", x.dtype()))
    )
}

fn binary(op: BinaryOp, x: &Tensor, y: &Tensor, out: &Tensor) -> Result<()> {
    crate::with_float_type!(x.dtype(), T => binary_float::<T>(op, x, y, out), _ => match x.dtype() {
        DType::I32 => binary_int::<i32>(op, x, y, out),
        DType::I64 => binary_int::<i64>(op, x, y, out),
        other => Err(unsupported(Op::Binary(op).name(), other)),
    })
}

/// `out = T(f(f32(x), f32(y)))`.
fn float_zip<T: Widen>(
    x: &Tensor,
    y: &Tensor,
    out: &Tensor,
    f: impl Fn(f32, f32) -> f32 + Sync + Copy,
) -> Result<()> {
    if T::IS_F32 {
        map2(x, y, out, move |a: T, b: T| {
            T::from_f32(f(a.to_f32(), b.to_f32()))
        })
    } else {
        widened_map2::<T>(x, y, out, f)
    }
}

fn binary_float<T: Widen>(op: BinaryOp, x: &Tensor, y: &Tensor, out: &Tensor) -> Result<()> {
    match op {
        BinaryOp::Add => float_zip::<T>(x, y, out, |a, b| a + b),
        BinaryOp::Sub => float_zip::<T>(x, y, out, |a, b| a - b),
        BinaryOp::Mul => float_zip::<T>(x, y, out, |a, b| a * b),
        BinaryOp::Div => float_zip::<T>(x, y, out, |a, b| a / b),
        BinaryOp::Pow => float_zip::<T>(x, y, out, f32::powf),
        // Both propagate NaN from either side (unlike f32::max), as torch.maximum does.
        BinaryOp::Maximum => {
            float_zip::<T>(x, y, out, |a, b| if a > b || a.is_nan() { a } else { b })
        }
        BinaryOp::Minimum => {
            float_zip::<T>(x, y, out, |a, b| if a < b || a.is_nan() { a } else { b })
        }
    }
}

fn binary_int<I: IntElement>(op: BinaryOp, x: &Tensor, y: &Tensor, out: &Tensor) -> Result<()> {
    match op {
        BinaryOp::Add => map2(x, y, out, I::wrapping_add),
        BinaryOp::Sub => map2(x, y, out, I::wrapping_sub),
        BinaryOp::Mul => map2(x, y, out, I::wrapping_mul),
        BinaryOp::Div => map2(x, y, out, I::division),
        BinaryOp::Maximum => map2(x, y, out, |a: I, b: I| a.max(b)),
        BinaryOp::Minimum => map2(x, y, out, |a: I, b: I| a.min(b)),
        BinaryOp::Pow => Err(unsupported("binary.pow", x.dtype())),
    }
}

fn compare(op: CompareOp, x: &Tensor, y: &Tensor, out: &Tensor) -> Result<()> {
    match x.dtype() {
        DType::F32 => compare_by(op, x, y, out, |v: f32| v),
        DType::F16 => compare_by(op, x, y, out, |v: f16| v.to_f32()),
        DType::BF16 => compare_by(op, x, y, out, |v: bf16| v.to_f32()),
        DType::I32 => compare_by(op, x, y, out, |v: i32| v),
        DType::I64 => compare_by(op, x, y, out, |v: i64| v),
        DType::U8 => compare_by(op, x, y, out, |v: u8| v),
        DType::Bool => compare_by(op, x, y, out, |v: u8| v != 0),
        other => Err(unsupported(Op::Compare(op).name(), other)),
    }
}

/// Compares the `key`s of stored elements; writes Bool (0/1 bytes).
fn compare_by<S, K>(
    op: CompareOp,
    x: &Tensor,
    y: &Tensor,
    out: &Tensor,
    key: impl Fn(S) -> K + Sync + Copy,
) -> Result<()>
where
    S: bytemuck::Pod + Sync,
    K: PartialOrd,
{
    match op {
        CompareOp::Eq => map2(x, y, out, move |a: S, b: S| (key(a) == key(b)) as u8),
        CompareOp::Ne => map2(x, y, out, move |a: S, b: S| (key(a) != key(b)) as u8),
        CompareOp::Lt => map2(x, y, out, move |a: S, b: S| (key(a) < key(b)) as u8),
        CompareOp::Le => map2(x, y, out, move |a: S, b: S| (key(a) <= key(b)) as u8),
        CompareOp::Gt => map2(x, y, out, move |a: S, b: S| (key(a) > key(b)) as u8),
        CompareOp::Ge => map2(x, y, out, move |a: S, b: S| (key(a) >= key(b)) as u8),
    }
}

/// `Where` only moves elements, so it is instantiated per element size, not per dtype.
fn select(condition: &Tensor, x: &Tensor, y: &Tensor, out: &Tensor) -> Result<()> {
    fn pick<T: bytemuck::Pod + Send + Sync>(
        condition: &Tensor,
        x: &Tensor,
        y: &Tensor,
        out: &Tensor,
    ) -> Result<()> {
        map3(
            condition,
            x,
            y,
            out,
            |c: u8, a: T, b: T| if c != 0 { a } else { b },
        )
    }
    match x.dtype() {
        DType::I64 => pick::<u64>(condition, x, y, out),
        DType::F32 | DType::I32 => pick::<u32>(condition, x, y, out),
        DType::F16 | DType::BF16 => pick::<u16>(condition, x, y, out),
        DType::U8 | DType::Bool => pick::<u8>(condition, x, y, out),
        other => Err(unsupported("where", other)),
    }
}

#[cfg(test)]
mod tests {
    use crate::{BinaryOp, Device, UnaryOp};

    #[test]
    fn integer_division_truncates_wraps_and_gives_zero_for_zero_divisors() {
        let device = Device::cpu();
        let a = device
            .from_slice(&[7i32, -7, 7, i32::MIN, 5], &[5])
            .unwrap();
        let b = device.from_slice(&[2i32, 2, 0, -1, -3], &[5]).unwrap();
        let q = a
            .binary(BinaryOp::Div, &b)
            .unwrap()
            .to_vec::<i32>()
            .unwrap();
        assert_eq!(q, [3, -3, 0, i32::MIN, -1]);
        let neg = a.unary(UnaryOp::Neg).unwrap().to_vec::<i32>().unwrap();
        assert_eq!(neg, [-7, 7, -7, i32::MIN, -5]);
    }
}
