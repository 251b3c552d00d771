//! A conformance case: one op, its seeded inputs (with their views), and a tolerance.

use tl_tensor::{DType, Op};

/// How an input's values are drawn.
#[derive(Clone, Debug, PartialEq)]
pub enum Fill {
    /// Uniform reals in `[low, high)`.
    Uniform { low: f64, high: f64 },
    /// Uniform integers in `[low, high)` (indices, integer operands).
    Integers { low: i64, high: i64 },
    /// Random 0/1 (conditions).
    Bool,
    /// Exactly these values (row-major).
    Values(Vec<f64>),
    /// Valid random blocks of a quantized dtype: random quants, scales in `[0.001, 0.05)`.
    Blocks,
}

/// How the input tensor is laid out on the backend; the logical values are the same.
#[derive(Clone, Debug, PartialEq)]
pub enum View {
    Dense,
    /// Stored with axes in another order, then permuted by `dims` to the logical shape.
    Permuted(Vec<usize>),
    /// Stored with one extra element before and after on every axis, then narrowed.
    Narrowed,
    /// Stored with this shape (size 1 where broadcast), then expanded to the logical shape.
    Broadcast(Vec<usize>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Input {
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub fill: Fill,
    pub view: View,
}

impl Input {
    pub fn new(shape: &[usize], dtype: DType, fill: Fill) -> Input {
        Input {
            shape: shape.to_vec(),
            dtype,
            fill,
            view: View::Dense,
        }
    }

    /// Uniform reals in `[-1, 1)`.
    pub fn uniform(shape: &[usize], dtype: DType) -> Input {
        Input::new(
            shape,
            dtype,
            Fill::Uniform {
                low: -1.0,
                high: 1.0,
            },
        )
    }

    pub fn integers(shape: &[usize], dtype: DType, low: i64, high: i64) -> Input {
        Input::new(shape, dtype, Fill::Integers { low, high })
    }

    pub fn values(shape: &[usize], dtype: DType, values: &[f64]) -> Input {
        Input::new(shape, dtype, Fill::Values(values.to_vec()))
    }

    pub fn with_view(mut self, view: View) -> Input {
        self.view = view;
        self
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    pub op: Op,
    pub inputs: Vec<Input>,
    /// Largest accepted normalised error (relative L2 of the whole output); integer and
    /// boolean outputs must match exactly whatever this says.
    pub tolerance: f64,
    /// What distinguishes this case from others of the same op (dtype, shape, view).
    pub label: String,
}

impl Case {
    pub fn new(op: Op, inputs: Vec<Input>, tolerance: f64) -> Case {
        let label = inputs
            .iter()
            .map(|i| {
                let view = match &i.view {
                    View::Dense => String::new(),
                    View::Permuted(d) => format!(" permuted{d:?}"),
                    View::Narrowed => " narrowed".into(),
                    View::Broadcast(s) => format!(" broadcast{s:?}"),
                };
                format!("{}{:?}{view}", i.dtype, i.shape)
            })
            .collect::<Vec<_>>()
            .join(", ");
        Case {
            op,
            inputs,
            tolerance,
            label,
        }
    }
}

/// Normalised-error tolerance for a float output of `dtype` computed in f32 and rounded once:
/// f32 leaves ~1e-7 relative rounding per operation (1e-5 allows long f32 accumulations);
/// f16 rounds to 11 significant bits (2^-11 ≈ 4.9e-4 relative per element, so the relative
/// L2 of the whole output stays below 1e-3); bf16 keeps 8 bits (2^-8 ≈ 3.9e-3, so 8e-3).
pub fn tolerance_for(dtype: DType) -> f64 {
    match dtype {
        DType::F16 => 1e-3,
        DType::BF16 => 8e-3,
        _ => 1e-5,
    }
}
