//! Plans: an equation lowered to a short list of `tl_tensor` ops (views included) over
//! named inputs, in single-assignment form. A plan has fixed shapes; the interpreter runs it
//! with `Device::run` and `Tensor::view`, never looping over index values.

use std::fmt::Write;
use tl_tensor::layout::Layout;
use tl_tensor::signature::{output_specs, TensorSpec};
use tl_tensor::{DType, Op};

/// A value of the plan: `%n`.
pub type ValueId = usize;

/// Where an input value comes from when the plan runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// A tensor by name.
    Tensor(String),
    /// The current value of the equation's own target (for `+=` and partial updates).
    Target(String),
    /// A run-time number (`let`, `for`, function parameter) as a 0-d f32 tensor.
    Scalar(String),
    /// A run-time position `name + offset` as a one-element i64 tensor.
    Position { name: String, offset: i64 },
    /// Numbers written in the program (row-major).
    Literal(Vec<f64>),
    /// A tensor the host reads from a file.
    Load { path: String, name: Option<String> },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Input {
    pub value: ValueId,
    pub source: Source,
    pub shape: Vec<usize>,
    pub dtype: DType,
}

/// One op applied to earlier values.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub value: ValueId,
    pub op: Op,
    pub args: Vec<ValueId>,
    pub shape: Vec<usize>,
    pub dtype: DType,
    /// The index variable along each axis of the result, for explanations; internal axes
    /// (merged groups, unit axes) are named `·`.
    pub axes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The tensor the plan computes the new value of.
    pub target: String,
    /// The equation as written, explicitly grouped.
    pub equation: String,
    pub inputs: Vec<Input>,
    pub steps: Vec<Step>,
    pub output: ValueId,
    pub shape: Vec<usize>,
    pub dtype: DType,
}

/// A plan whose steps do not fit together (a planner bug, or shapes that changed since the
/// plan was made).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("plan step %{value} ({op}): {detail}")]
pub struct PlanInvalid {
    pub value: ValueId,
    pub op: String,
    pub detail: String,
}

/// The shape a view op gives `shape`, using the tensor library's own layout rules.
pub fn view_shape(op: &Op, shape: &[usize]) -> Result<Vec<usize>, String> {
    let layout = Layout::contiguous(shape);
    let result = match op {
        Op::Reshape { shape: new } => match layout.reshape(new) {
            Ok(Some(l)) => Ok(l),
            Ok(None) => Err("reshape of a dense layout failed".to_string()),
            Err(e) => Err(e.to_string()),
        },
        Op::Permute { dims } => layout.permute(dims).map_err(|e| e.to_string()),
        Op::Narrow { axis, start, len } => layout
            .narrow(*axis as isize, *start, *len)
            .map_err(|e| e.to_string()),
        Op::Expand { shape: new } => layout.expand(new).map_err(|e| e.to_string()),
        Op::Squeeze { axis } => layout.squeeze(*axis as isize).map_err(|e| e.to_string()),
        Op::Unsqueeze { axis } => layout.unsqueeze(*axis as isize).map_err(|e| e.to_string()),
        other => return Err(format!("{} is not a view", other.name())),
    }?;
    Ok(result.shape().to_vec())
}

/// The spec of the result of `op` on `args`.
pub fn step_spec(op: &Op, args: &[TensorSpec]) -> Result<TensorSpec, String> {
    if op.is_view() {
        let [arg] = args else {
            return Err(format!("a view takes one input, not {}", args.len()));
        };
        return Ok(TensorSpec::new(&view_shape(op, &arg.shape)?, arg.dtype));
    }
    let mut specs = output_specs(op, args).map_err(|e| e.to_string())?;
    if specs.len() != 1 {
        return Err(format!("has {} outputs, not one", specs.len()));
    }
    Ok(specs.remove(0))
}

impl Plan {
    /// Re-derives every step's shape and dtype with the tensor library's rules and checks
    /// that each value is defined once, before it is used.
    pub fn validate(&self) -> Result<(), PlanInvalid> {
        let mut specs: std::collections::HashMap<ValueId, TensorSpec> = Default::default();
        for input in &self.inputs {
            specs.insert(input.value, TensorSpec::new(&input.shape, input.dtype));
        }
        for step in &self.steps {
            let invalid = |detail: String| PlanInvalid {
                value: step.value,
                op: step.op.name(),
                detail,
            };
            if specs.contains_key(&step.value) {
                return Err(invalid("value defined twice".into()));
            }
            let args: Vec<TensorSpec> = step
                .args
                .iter()
                .map(|a| {
                    specs
                        .get(a)
                        .cloned()
                        .ok_or_else(|| invalid(format!("uses %{a} before it is defined")))
                })
                .collect::<Result<_, _>>()?;
            let spec = step_spec(&step.op, &args).map_err(invalid)?;
            if spec.shape != step.shape || spec.dtype != step.dtype {
                return Err(invalid(format!(
                    "records {:?} {} but computes {:?} {}",
                    step.shape, step.dtype, spec.shape, spec.dtype
                )));
            }
            if step.axes.len() != step.shape.len() {
                return Err(invalid("axis names do not match the rank".into()));
            }
            specs.insert(step.value, spec);
        }
        match specs.get(&self.output) {
            Some(spec) if spec.shape == self.shape && spec.dtype == self.dtype => Ok(()),
            Some(spec) => Err(PlanInvalid {
                value: self.output,
                op: "output".into(),
                detail: format!("is {:?} but the plan promises {:?}", spec.shape, self.shape),
            }),
            None => Err(PlanInvalid {
                value: self.output,
                op: "output".into(),
                detail: "is never defined".into(),
            }),
        }
    }

    /// Number of steps that run kernels (views are free).
    pub fn kernel_count(&self) -> usize {
        self.steps.iter().filter(|s| !s.op.is_view()).count()
    }
}

fn shape_text(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}

/// How an op reads in explanations: its name and parameters.
pub fn describe_op(op: &Op) -> String {
    match op {
        Op::Full { shape, value, .. } => format!("full {} value={value}", shape_text(shape)),
        Op::Arange {
            start,
            step,
            len,
            dtype,
        } => format!("arange start={start} step={step} len={len} {dtype}"),
        Op::RandUniform {
            shape,
            low,
            high,
            seed,
            ..
        } => format!(
            "rand_uniform {} low={low} high={high} seed={seed}",
            shape_text(shape)
        ),
        Op::RandNormal {
            shape,
            mean,
            std,
            seed,
            ..
        } => format!(
            "rand_normal {} mean={mean} std={std} seed={seed}",
            shape_text(shape)
        ),
        Op::Reshape { shape } => format!("reshape {}", shape_text(shape)),
        Op::Permute { dims } => format!("permute {}", shape_text(dims)),
        Op::Narrow { axis, start, len } => format!("narrow axis={axis} start={start} len={len}"),
        Op::Expand { shape } => format!("expand {}", shape_text(shape)),
        Op::Squeeze { axis } => format!("squeeze axis={axis}"),
        Op::Unsqueeze { axis } => format!("unsqueeze axis={axis}"),
        Op::Concat { axis }
        | Op::IndexSelect { axis }
        | Op::Gather { axis }
        | Op::ScatterAdd { axis }
        | Op::IndexAdd { axis } => format!("{} axis={axis}", op.name()),
        Op::Affine { scale, bias } => format!("affine scale={scale} bias={bias}"),
        Op::Cast { dtype } => format!("cast {dtype}"),
        Op::Reduce { axes, keepdim, .. } => {
            let keep = if *keepdim { " keepdim" } else { "" };
            format!("{} axes={}{keep}", op.name(), shape_text(axes))
        }
        Op::MatMul {
            transpose_lhs,
            transpose_rhs,
        } => {
            let mut text = "matmul".to_string();
            if *transpose_lhs {
                text.push_str(" lhsᵀ");
            }
            if *transpose_rhs {
                text.push_str(" rhsᵀ");
            }
            text
        }
        Op::Softmax { axis } | Op::LogSoftmax { axis } => format!("{} axis={axis}", op.name()),
        Op::RmsNorm { eps } | Op::LayerNorm { eps } => format!("{} eps={eps}", op.name()),
        other => other.name(),
    }
}

fn source_text(source: &Source) -> String {
    match source {
        Source::Tensor(name) => name.clone(),
        Source::Target(name) => format!("{name} (current value)"),
        Source::Scalar(name) => format!("scalar {name}"),
        Source::Position { name, offset: 0 } => format!("position {name}"),
        Source::Position { name, offset } => format!("position {name}{offset:+}"),
        Source::Literal(values) => {
            let shown: Vec<String> = values.iter().take(8).map(|v| format!("{v}")).collect();
            let more = if values.len() > 8 { ", …" } else { "" };
            format!("literal [{}{more}]", shown.join(", "))
        }
        Source::Load { path, name: None } => format!("load({path:?})"),
        Source::Load {
            path,
            name: Some(name),
        } => format!("load({path:?}, {name:?})"),
    }
}

/// A readable listing of a plan: one line per input and step, with shapes and the index
/// variable of every axis.
pub fn explain(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "plan {}", plan.equation);
    for input in &plan.inputs {
        let line = format!("%{} = {}", input.value, source_text(&input.source));
        let _ = writeln!(
            out,
            "  {line:<44} {} {}",
            shape_text(&input.shape),
            input.dtype
        );
    }
    for step in &plan.steps {
        let args: Vec<String> = step.args.iter().map(|a| format!("%{a}")).collect();
        let view = if step.op.is_view() { " (view)" } else { "" };
        let line = format!(
            "%{} = {} {}{view}",
            step.value,
            describe_op(&step.op),
            args.join(" ")
        );
        let _ = writeln!(
            out,
            "  {line:<44} {} ({})",
            shape_text(&step.shape),
            step.axes.join(", ")
        );
    }
    let views = plan.steps.len() - plan.kernel_count();
    let _ = writeln!(
        out,
        "  result %{} {} → {}   ({} kernels, {} views)",
        plan.output,
        shape_text(&plan.shape),
        plan.target,
        plan.kernel_count(),
        views
    );
    out
}
