//! The builtin functions: their names, parameters, meaning, and how a call's arguments bind
//! to the parameters.

use crate::ast::{Call, Expr};
use crate::codes;
use crate::diagnostic::Diagnostic;
use tl_tensor::{BinaryOp, UnaryOp};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitKind {
    Normal,
    Uniform,
    Zeros,
    Ones,
    Full,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimizerKind {
    AdamW,
    Sgd,
}

/// What a builtin does, which decides where it may appear and how it is planned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuiltinKind {
    /// Applied to every element.
    Elementwise(UnaryOp),
    /// Two tensors combined element by element after joining their indices.
    Pairwise(BinaryOp),
    /// Normalises along the normalisation axis (the dotted index): `softmax`, `log_softmax`.
    Normalize { log: bool },
    /// `rms_norm(x, weight, eps)` along the normalisation axis.
    RmsNorm,
    /// `layer_norm(x, weight, bias, eps)` along the normalisation axis.
    LayerNorm,
    /// A parameter's initial value; only in `param` declarations.
    Init(InitKind),
    /// A tensor read by the host from a file.
    Load,
    /// An optimiser; only after `minimize … with`.
    Optimizer(OptimizerKind),
    /// A statement with an effect outside the program (`print`, `save`); only as a statement.
    Output(OutputKind),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    Print,
    Save,
}

/// What an argument must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// Any tensor expression.
    Tensor,
    /// A number known before the program runs (`0.1`, `-1`, `sqrt(2)`, a `let` constant).
    Constant,
    /// A string literal.
    Text,
}

/// Whether an argument may be left out, and its value then.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Default {
    Required,
    Optional,
    Value(f64),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamSpec {
    pub name: &'static str,
    pub kind: ArgKind,
    pub default: Default,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Builtin {
    pub name: &'static str,
    pub kind: BuiltinKind,
    pub params: &'static [ParamSpec],
    pub summary: &'static str,
}

const fn tensor(name: &'static str) -> ParamSpec {
    ParamSpec {
        name,
        kind: ArgKind::Tensor,
        default: Default::Required,
    }
}

const fn constant(name: &'static str, default: Default) -> ParamSpec {
    ParamSpec {
        name,
        kind: ArgKind::Constant,
        default,
    }
}

const X: &[ParamSpec] = &[tensor("x")];
const AB: &[ParamSpec] = &[tensor("a"), tensor("b")];

const fn elementwise(name: &'static str, op: UnaryOp, summary: &'static str) -> Builtin {
    Builtin {
        name,
        kind: BuiltinKind::Elementwise(op),
        params: X,
        summary,
    }
}

/// Every builtin, in the order the reference lists them.
pub const BUILTINS: &[Builtin] = &[
    elementwise("abs", UnaryOp::Abs, "|x|"),
    elementwise("exp", UnaryOp::Exp, "e^x"),
    elementwise("log", UnaryOp::Log, "natural logarithm"),
    elementwise("sqrt", UnaryOp::Sqrt, "square root"),
    elementwise("rsqrt", UnaryOp::Rsqrt, "1 / sqrt(x)"),
    elementwise("recip", UnaryOp::Recip, "1 / x"),
    elementwise("sin", UnaryOp::Sin, "sine"),
    elementwise("cos", UnaryOp::Cos, "cosine"),
    elementwise("tanh", UnaryOp::Tanh, "hyperbolic tangent"),
    elementwise("sigmoid", UnaryOp::Sigmoid, "1 / (1 + e^-x)"),
    elementwise("relu", UnaryOp::Relu, "max(x, 0)"),
    elementwise(
        "gelu",
        UnaryOp::GeluErf,
        "x Φ(x), with the exact normal CDF",
    ),
    elementwise(
        "gelu_tanh",
        UnaryOp::GeluTanh,
        "the tanh approximation of gelu",
    ),
    elementwise("silu", UnaryOp::Silu, "x sigmoid(x)"),
    elementwise(
        "step",
        UnaryOp::Step,
        "Heaviside step: 1 where x > 0, else 0 (the Datalog nonlinearity)",
    ),
    elementwise("square", UnaryOp::Square, "x²"),
    elementwise("floor", UnaryOp::Floor, "round down"),
    elementwise("ceil", UnaryOp::Ceil, "round up"),
    elementwise("round", UnaryOp::Round, "round half to even"),
    Builtin {
        name: "max",
        kind: BuiltinKind::Pairwise(BinaryOp::Maximum),
        params: AB,
        summary: "the larger of a and b, element by element",
    },
    Builtin {
        name: "min",
        kind: BuiltinKind::Pairwise(BinaryOp::Minimum),
        params: AB,
        summary: "the smaller of a and b, element by element",
    },
    Builtin {
        name: "pow",
        kind: BuiltinKind::Pairwise(BinaryOp::Pow),
        params: AB,
        summary: "a^b, element by element (the same as `a ^ b`)",
    },
    Builtin {
        name: "softmax",
        kind: BuiltinKind::Normalize { log: false },
        params: X,
        summary: "e^x normalised to sum 1 along the normalisation axis",
    },
    Builtin {
        name: "log_softmax",
        kind: BuiltinKind::Normalize { log: true },
        params: X,
        summary: "the logarithm of softmax, computed stably",
    },
    Builtin {
        name: "rms_norm",
        kind: BuiltinKind::RmsNorm,
        params: &[
            tensor("x"),
            tensor("weight"),
            constant("eps", Default::Value(1e-5)),
        ],
        summary: "x / sqrt(mean(x²) + eps) · weight along the normalisation axis",
    },
    Builtin {
        name: "layer_norm",
        kind: BuiltinKind::LayerNorm,
        params: &[
            tensor("x"),
            tensor("weight"),
            tensor("bias"),
            constant("eps", Default::Value(1e-5)),
        ],
        summary: "(x − mean) / sqrt(var + eps) · weight + bias along the normalisation axis",
    },
    Builtin {
        name: "normal",
        kind: BuiltinKind::Init(InitKind::Normal),
        params: &[
            constant("mean", Default::Value(0.0)),
            constant("std", Default::Value(1.0)),
            constant("seed", Default::Optional),
        ],
        summary: "samples from a normal distribution (parameters only)",
    },
    Builtin {
        name: "uniform",
        kind: BuiltinKind::Init(InitKind::Uniform),
        params: &[
            constant("low", Default::Value(0.0)),
            constant("high", Default::Value(1.0)),
            constant("seed", Default::Optional),
        ],
        summary: "samples uniformly from [low, high) (parameters only)",
    },
    Builtin {
        name: "zeros",
        kind: BuiltinKind::Init(InitKind::Zeros),
        params: &[],
        summary: "all zeros (parameters only)",
    },
    Builtin {
        name: "ones",
        kind: BuiltinKind::Init(InitKind::Ones),
        params: &[],
        summary: "all ones (parameters only)",
    },
    Builtin {
        name: "full",
        kind: BuiltinKind::Init(InitKind::Full),
        params: &[constant("value", Default::Required)],
        summary: "every element `value` (parameters only)",
    },
    Builtin {
        name: "load",
        kind: BuiltinKind::Load,
        params: &[
            ParamSpec {
                name: "path",
                kind: ArgKind::Text,
                default: Default::Required,
            },
            ParamSpec {
                name: "name",
                kind: ArgKind::Text,
                default: Default::Optional,
            },
        ],
        summary: "a tensor from a .npy, .safetensors, .gguf or .csv file, read by the host",
    },
    Builtin {
        name: "save",
        kind: BuiltinKind::Output(OutputKind::Save),
        params: &[
            ParamSpec {
                name: "path",
                kind: ArgKind::Text,
                default: Default::Required,
            },
            tensor("x"),
        ],
        summary: "writes a tensor to a .npy or .safetensors file (a statement)",
    },
    Builtin {
        name: "print",
        kind: BuiltinKind::Output(OutputKind::Print),
        params: X,
        summary: "prints a value (a statement)",
    },
    Builtin {
        name: "adamw",
        kind: BuiltinKind::Optimizer(OptimizerKind::AdamW),
        params: &[
            constant("lr", Default::Required),
            constant("beta1", Default::Value(0.9)),
            constant("beta2", Default::Value(0.999)),
            constant("eps", Default::Value(1e-8)),
            constant("weight_decay", Default::Value(0.01)),
        ],
        summary: "Adam with decoupled weight decay (after `minimize … with`)",
    },
    Builtin {
        name: "sgd",
        kind: BuiltinKind::Optimizer(OptimizerKind::Sgd),
        params: &[
            constant("lr", Default::Required),
            constant("momentum", Default::Value(0.0)),
        ],
        summary: "stochastic gradient descent with momentum (after `minimize … with`)",
    },
];

pub fn lookup(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|builtin| builtin.name == name)
}

/// A call's arguments matched to a builtin's parameters: `args[i]` is the expression given
/// for `params[i]`, if any.
#[derive(Debug)]
pub struct BoundArgs<'a> {
    pub builtin: &'static Builtin,
    pub args: Vec<Option<&'a Expr>>,
}

impl<'a> BoundArgs<'a> {
    /// The expression given for the parameter called `name`.
    pub fn get(&self, name: &str) -> Option<&'a Expr> {
        let index = self.builtin.params.iter().position(|p| p.name == name)?;
        self.args[index]
    }
}

fn parameter_list(builtin: &Builtin) -> String {
    if builtin.params.is_empty() {
        return "no arguments".into();
    }
    let names: Vec<String> = builtin
        .params
        .iter()
        .map(|p| match p.default {
            Default::Required => p.name.to_string(),
            _ => format!("{}?", p.name),
        })
        .collect();
    format!("`{}({})`", builtin.name, names.join(", "))
}

/// Matches positional then named arguments to parameters; every missing, surplus, unknown
/// or repeated argument is a diagnostic.
pub fn bind<'a>(builtin: &'static Builtin, call: &'a Call) -> Result<BoundArgs<'a>, Diagnostic> {
    let params = builtin.params;
    let mut args: Vec<Option<&'a Expr>> = vec![None; params.len()];
    let mut given_at = vec![None; params.len()];
    let positional = call.args.iter().filter(|a| a.name.is_none()).count();
    if positional > params.len() {
        let surplus = &call.args[params.len().min(call.args.len())..];
        let span = surplus
            .iter()
            .map(|a| a.value.span)
            .reduce(|a, b| a.to(b))
            .unwrap_or(call.args_span);
        let takes = match params.len() {
            1 => "1 argument".to_string(),
            n => format!("{n} arguments"),
        };
        return Err(Diagnostic::error(
            codes::WRONG_ARGUMENT_COUNT,
            format!(
                "`{}` takes {takes} but {} were given",
                builtin.name,
                call.args.len()
            ),
            span,
            "surplus arguments",
        )
        .with_secondary(
            call.callee.span,
            format!("`{}` is {}", builtin.name, builtin.summary),
        )
        .with_help(format!("call it as {}", parameter_list(builtin))));
    }
    let mut next_positional = 0;
    for arg in &call.args {
        let index = match &arg.name {
            None => {
                let index = next_positional;
                next_positional += 1;
                index
            }
            Some(name) => match params.iter().position(|p| p.name == name.text) {
                Some(index) => index,
                None => {
                    return Err(Diagnostic::error(
                        codes::UNKNOWN_ARGUMENT,
                        format!("`{}` has no parameter `{}`", builtin.name, name.text),
                        name.span,
                        "unknown parameter",
                    )
                    .with_help(format!(
                        "`{}` takes {}",
                        builtin.name,
                        parameter_list(builtin)
                    )))
                }
            },
        };
        if let Some(first) = given_at[index] {
            return Err(Diagnostic::error(
                codes::DUPLICATE_ARGUMENT,
                format!("argument `{}` given twice", params[index].name),
                arg.name.as_ref().map(|n| n.span).unwrap_or(arg.value.span),
                "given again here",
            )
            .with_secondary(first, "first given here"));
        }
        given_at[index] = Some(arg.name.as_ref().map(|n| n.span).unwrap_or(arg.value.span));
        args[index] = Some(&arg.value);
    }
    if let Some(missing) = params
        .iter()
        .zip(&args)
        .find(|(p, a)| p.default == Default::Required && a.is_none())
    {
        return Err(Diagnostic::error(
            codes::WRONG_ARGUMENT_COUNT,
            format!("`{}` needs the argument `{}`", builtin.name, missing.0.name),
            call.args_span,
            format!("`{}` missing", missing.0.name),
        )
        .with_help(format!("call it as {}", parameter_list(builtin))));
    }
    Ok(BoundArgs { builtin, args })
}

/// Evaluates an elementwise function on a number known before run time, with the naive
/// reference's definition (the one every backend is checked against).
pub fn fold_unary(op: UnaryOp, x: f64) -> f64 {
    tl_tensor::reference::unary_value(op, x)
}

/// Evaluates a pairwise function on two numbers.
pub fn fold_binary(op: BinaryOp, a: f64, b: f64) -> f64 {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Pow => a.powf(b),
        BinaryOp::Maximum => a.max(b),
        BinaryOp::Minimum => a.min(b),
    }
}
