//! The einsum planner: each equation, Datalog rule, query and parameter initialiser becomes
//! a [`Plan`] of `tl_tensor` ops with fixed shapes.
//!
//! Plans are made when the shapes of their inputs are known: for top-level statements from
//! what the checker inferred ([`ProgramEnv`]); inside functions, by the interpreter at each
//! call, with the actual argument shapes (any [`PlanEnv`]).

mod builder;
mod contraction;
mod fuse;
mod indexed;
mod whole;

use crate::ast::*;
use crate::builtins::{self, BuiltinKind, InitKind};
use crate::check::forms::is_indexed;
use crate::check::Checked;
use crate::codes;
use crate::constant;
use crate::diagnostic::Diagnostic;
use crate::environment::{Environment, TensorInfo};
use crate::index_form::IndexScope;
use crate::plan::{Plan, Source};
use crate::span::Span;
use builder::Builder;
use tl_tensor::{DType, Op};

/// What the planner needs to know about names where a statement stands.
pub trait PlanEnv {
    /// Shape and dtype of a tensor, if it exists now.
    fn tensor(&self, name: &str) -> Option<TensorInfo>;
    /// The value of a constant bound by `let`.
    fn constant(&self, name: &str) -> Option<f64> {
        let _ = name;
        None
    }
    /// Whether `name` is a run-time variable (`let`, `for`, function parameter): inside
    /// brackets it selects a position; elsewhere it is a number.
    fn is_runtime(&self, name: &str) -> bool {
        let _ = name;
        false
    }
    fn is_symbol(&self, name: &str) -> bool {
        let _ = name;
        false
    }
    /// The position of a Datalog symbol along an axis of a tensor.
    fn symbol_position(&self, tensor: &str, axis: usize, symbol: &str) -> Option<usize> {
        let _ = (tensor, axis, symbol);
        None
    }
    /// The shape of `load(path, name)`.
    fn load(&self, path: &str, name: Option<&str>) -> Option<TensorInfo> {
        let _ = (path, name);
        None
    }
}

/// Reads index expressions with a [`PlanEnv`]'s bindings.
pub(crate) struct EnvScope<'a>(pub &'a dyn PlanEnv);

impl IndexScope for EnvScope<'_> {
    fn constant(&self, name: &str) -> Option<f64> {
        self.0.constant(name)
    }
    fn is_bound(&self, name: &str) -> bool {
        self.0.is_runtime(name)
    }
    fn is_symbol(&self, name: &str) -> bool {
        self.0.is_symbol(name)
    }
}

/// What a plan starts from where an equation sets only some positions of its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OldValue {
    /// The target's current value (equations).
    Target,
    /// Zeros (a rule derives facts; the interpreter combines them with what is known).
    Zeros,
}

/// Top-level names as the checker inferred them, plus the host's tensors and loads.
pub struct ProgramEnv<'a> {
    pub checked: &'a Checked,
    pub environment: &'a dyn Environment,
}

impl PlanEnv for ProgramEnv<'_> {
    fn tensor(&self, name: &str) -> Option<TensorInfo> {
        self.checked
            .tensor_info(name)
            .or_else(|| self.environment.tensor(name))
    }
    fn constant(&self, name: &str) -> Option<f64> {
        self.checked.constants.get(name).copied()
    }
    fn is_runtime(&self, name: &str) -> bool {
        self.checked.runtime_names.contains(name)
    }
    fn is_symbol(&self, name: &str) -> bool {
        self.checked.symbols.contains(name)
    }
    fn symbol_position(&self, tensor: &str, axis: usize, symbol: &str) -> Option<usize> {
        self.checked.symbol_position(tensor, axis, symbol)
    }
    fn load(&self, path: &str, name: Option<&str>) -> Option<TensorInfo> {
        self.environment.load(path, name)
    }
}

/// Plans a tensor equation.
pub fn plan_equation(eq: &Equation, env: &dyn PlanEnv) -> Result<Plan, Diagnostic> {
    let text = format!("{} {} {}", eq.lhs, eq.op.symbol(), eq.rhs);
    let target = eq.lhs.name.joined();
    let plan = if is_indexed(eq, &EnvScope(env)) {
        indexed::plan(eq, env, OldValue::Target, target, text)?
    } else {
        whole::plan(eq, env, target, text)?
    };
    Ok(fuse::optimize(plan))
}

fn term_expr(term: &Term, wildcards: &mut usize) -> Expr {
    let name = match term {
        Term::Variable(name) | Term::Constant(name) => name.clone(),
        Term::Wildcard(span) => {
            *wildcards += 1;
            Name {
                text: format!("_{wildcards}"),
                span: *span,
            }
        }
    };
    let span = name.span;
    Expr {
        kind: ExprKind::Tensor(TensorRef {
            name: Path {
                segments: vec![name],
                span,
            },
            indices: None,
            span,
        }),
        span,
    }
}

fn atom_ref(atom: &Atom, wildcards: &mut usize) -> TensorRef {
    let items = atom
        .terms
        .iter()
        .map(|term| Index {
            kind: IndexKind::Expr(term_expr(term, wildcards)),
            dotted: false,
            span: term.span(),
        })
        .collect();
    TensorRef {
        name: Path {
            segments: vec![atom.relation.clone()],
            span: atom.relation.span,
        },
        indices: Some(IndexList {
            items,
            span: atom.span,
        }),
        span: atom.span,
    }
}

fn tensor_expr(tensor: TensorRef) -> Expr {
    let span = tensor.span;
    Expr {
        kind: ExprKind::Tensor(tensor),
        span,
    }
}

fn step_of(argument: Expr) -> Expr {
    let span = argument.span;
    Expr {
        kind: ExprKind::Call(Call {
            callee: Name {
                text: "step".into(),
                span,
            },
            args: vec![Arg {
                name: None,
                value: argument,
            }],
            args_span: span,
        }),
        span,
    }
}

/// Plans one derivation of a Datalog rule: its body as a join, summed over the variables
/// not in the head, then `step` (Boolean "or" over the ways to derive a fact). Constants
/// select positions in the body and fix positions in the head.
pub fn plan_rule(rule: &Rule, env: &dyn PlanEnv) -> Result<Plan, Diagnostic> {
    let mut wildcards = 0;
    let lhs = atom_ref(&rule.head, &mut wildcards);
    let body: Vec<Expr> = rule
        .body
        .iter()
        .map(|atom| tensor_expr(atom_ref(atom, &mut wildcards)))
        .collect();
    let span = body
        .iter()
        .map(|e| e.span)
        .reduce(Span::to)
        .unwrap_or(rule.arrow_span);
    let join = if body.len() == 1 {
        body.into_iter().next().unwrap_or(Expr {
            kind: ExprKind::Error,
            span,
        })
    } else {
        Expr {
            kind: ExprKind::Join(body),
            span,
        }
    };
    let eq = Equation {
        lhs,
        op: AssignOp::Assign,
        op_span: rule.arrow_span,
        rhs: step_of(join),
    };
    let text = format!(
        "{} <- {}",
        rule.head,
        rule.body
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let target = rule.head.relation.text.clone();
    let plan = indexed::plan(&eq, env, OldValue::Zeros, target, text)?;
    Ok(fuse::optimize(plan))
}

/// Plans a Datalog query: the relation with its constants selected, over the query's
/// variables in order of appearance (a 0/1 tensor; a scalar when there are none).
pub fn plan_query(atom: &Atom, env: &dyn PlanEnv) -> Result<Plan, Diagnostic> {
    let mut wildcards = 0;
    let rhs_ref = atom_ref(atom, &mut wildcards);
    let mut variables: Vec<Name> = Vec::new();
    for term in &atom.terms {
        if let Term::Variable(name) = term {
            if !variables.iter().any(|v| v.text == name.text) {
                variables.push(name.clone());
            }
        }
    }
    let target = format!("{}?", atom.relation.text);
    let lhs = TensorRef {
        name: Path {
            segments: vec![Name {
                text: target.clone(),
                span: atom.relation.span,
            }],
            span: atom.relation.span,
        },
        indices: (!variables.is_empty()).then(|| IndexList {
            items: variables
                .iter()
                .map(|v| Index {
                    kind: IndexKind::Expr(term_expr(&Term::Variable(v.clone()), &mut 0)),
                    dotted: false,
                    span: v.span,
                })
                .collect(),
            span: atom.span,
        }),
        span: atom.span,
    };
    let mut rhs = tensor_expr(rhs_ref);
    if wildcards > 0 {
        rhs = step_of(rhs);
    }
    let eq = Equation {
        lhs,
        op: AssignOp::Assign,
        op_span: atom.span,
        rhs,
    };
    let text = format!("{atom}?");
    let plan = if is_indexed(&eq, &EnvScope(env)) {
        indexed::plan(&eq, env, OldValue::Zeros, target, text)?
    } else {
        whole::plan(&eq, env, target, text)?
    };
    Ok(fuse::optimize(plan))
}

/// Plans a tensor query: `Y?` is the whole tensor; `W[0, j]?` the part over the query's
/// index variables, in order of appearance.
pub fn plan_tensor_query(tensor: &TensorRef, env: &dyn PlanEnv) -> Result<Plan, Diagnostic> {
    let scope = EnvScope(env);
    let target = format!("{}?", tensor.name.joined());
    let mut variables: Vec<Index> = Vec::new();
    for index in tensor.indices.iter().flat_map(|l| l.items.iter()) {
        if let IndexKind::Expr(expr) = &index.kind {
            if let Some(var) = crate::index_form::classify(expr, &scope).var() {
                if !variables.iter().any(|v| matches!(&v.kind, IndexKind::Expr(e) if crate::index_form::bare_name(e) == Some(var))) {
                    variables.push(Index {
                        kind: IndexKind::Expr(term_expr(
                            &Term::Variable(Name {
                                text: var.to_string(),
                                span: index.span,
                            }),
                            &mut 0,
                        )),
                        dotted: false,
                        span: index.span,
                    });
                }
            }
        }
    }
    let lhs = TensorRef {
        name: Path {
            segments: vec![Name {
                text: target.clone(),
                span: tensor.name.span,
            }],
            span: tensor.name.span,
        },
        indices: (!variables.is_empty()).then_some(IndexList {
            items: variables,
            span: tensor.span,
        }),
        span: tensor.span,
    };
    let eq = Equation {
        lhs,
        op: AssignOp::Assign,
        op_span: tensor.span,
        rhs: tensor_expr(tensor.clone()),
    };
    let text = format!("{tensor}?");
    let plan = if is_indexed(&eq, &scope) {
        indexed::plan(&eq, env, OldValue::Zeros, target, text)?
    } else {
        whole::plan(&eq, env, target, text)?
    };
    Ok(fuse::optimize(plan))
}

/// A stable seed from a parameter's name (FNV-1a), so that a program initialises the same
/// way every run unless it asks for a seed.
fn name_seed(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Plans a parameter's initial value with the shape checking inferred for it.
pub fn plan_param(param: &ParamDecl, env: &dyn PlanEnv) -> Result<Plan, Diagnostic> {
    let name = param.name.text.clone();
    let info = env.tensor(&name).ok_or_else(|| {
        Diagnostic::error(
            codes::UNKNOWN_INDEX_SIZE,
            format!("the shape of parameter `{name}` is not known"),
            param.name.span,
            "shape not inferred",
        )
        .with_help("declare the sizes: `param W[o: 4, i: 3] = …`")
    })?;
    let shape = info.shape.clone();
    let axes: Vec<String> = if param.indices.len() == shape.len() {
        param.indices.iter().map(|i| i.name.text.clone()).collect()
    } else {
        (0..shape.len()).map(|a| format!("#{a}")).collect()
    };
    let mut b = Builder::new(param.name.span.to(param.init.span));
    let text = format!("param {} = {}", name, param.init);
    let constant_of = |e: &Expr| constant::evaluate(e, &|n| env.constant(n));
    let invalid = |span: Span, what: &str| {
        Diagnostic::error(
            codes::INVALID_INIT,
            format!("parameter `{name}` {what}"),
            span,
            "here",
        )
    };
    let value = match &param.init.kind {
        ExprKind::Call(call) => {
            let builtin = builtins::lookup(&call.callee.text)
                .ok_or_else(|| invalid(call.callee.span, "needs an initialiser"))?;
            let bound = builtins::bind(builtin, call)?;
            let number = |key: &str, default: f64| -> Result<f64, Diagnostic> {
                match bound.get(key) {
                    Some(e) => {
                        constant_of(e).ok_or_else(|| invalid(e.span, "needs constant settings"))
                    }
                    None => Ok(default),
                }
            };
            let seed = match bound.get("seed") {
                Some(e) => constant::evaluate_integer(e, &|n| env.constant(n))
                    .filter(|&s| s >= 0)
                    .ok_or_else(|| invalid(e.span, "needs a whole, non-negative seed"))?
                    as u64,
                None => name_seed(&name),
            };
            match builtin.kind {
                BuiltinKind::Init(InitKind::Normal) => b.emit(
                    Op::RandNormal {
                        shape: shape.clone(),
                        dtype: DType::F32,
                        mean: number("mean", 0.0)?,
                        std: number("std", 1.0)?,
                        seed,
                    },
                    &[],
                    axes,
                )?,
                BuiltinKind::Init(InitKind::Uniform) => b.emit(
                    Op::RandUniform {
                        shape: shape.clone(),
                        dtype: DType::F32,
                        low: number("low", 0.0)?,
                        high: number("high", 1.0)?,
                        seed,
                    },
                    &[],
                    axes,
                )?,
                BuiltinKind::Init(InitKind::Zeros) => b.full(&shape, 0.0, axes)?,
                BuiltinKind::Init(InitKind::Ones) => b.full(&shape, 1.0, axes)?,
                BuiltinKind::Init(InitKind::Full) => b.full(&shape, number("value", 0.0)?, axes)?,
                BuiltinKind::Load => {
                    let text_arg = |key: &str| match bound.get(key).map(|e| &e.kind) {
                        Some(ExprKind::Str(s)) => Some(s.clone()),
                        _ => None,
                    };
                    let path = text_arg("path")
                        .ok_or_else(|| invalid(call.args_span, "needs a file path"))?;
                    let file_name = text_arg("name");
                    let loaded = env.load(&path, file_name.as_deref()).ok_or_else(|| {
                        Diagnostic::error(
                            codes::UNKNOWN_INDEX_SIZE,
                            "the shape of this load is not known",
                            call.args_span,
                            "here",
                        )
                    })?;
                    if loaded.shape != shape {
                        return Err(Diagnostic::error(
                            codes::SHAPE_MISMATCH,
                            format!(
                                "parameter `{name}` is {:?} but the file holds {:?}",
                                shape, loaded.shape
                            ),
                            param.init.span,
                            "loaded here",
                        ));
                    }
                    b.input(
                        Source::Load {
                            path,
                            name: file_name,
                        },
                        &shape,
                        DType::F32,
                        axes,
                    )
                }
                _ => return Err(invalid(call.callee.span, "needs an initialiser")),
            }
        }
        ExprKind::List(_) => {
            let (literal_shape, values) = whole::flatten_literal(&param.init, env)?;
            if literal_shape != shape {
                return Err(Diagnostic::error(
                    codes::SHAPE_MISMATCH,
                    format!("parameter `{name}` is {shape:?} but its literal is {literal_shape:?}"),
                    param.init.span,
                    "this literal",
                ));
            }
            b.input(Source::Literal(values), &shape, DType::F32, axes)
        }
        _ => {
            let value = constant_of(&param.init)
                .ok_or_else(|| invalid(param.init.span, "needs an initialiser"))?;
            b.full(&shape, value, axes)?
        }
    };
    Ok(b.finish(name, text, &value))
}

/// One planned top-level statement.
#[derive(Debug)]
pub struct PlannedStatement {
    /// The statement's span.
    pub span: Span,
    pub plan: Result<Plan, Diagnostic>,
}

/// Plans every top-level equation, rule, parameter and query of a checked program, in
/// order.
pub fn plan_program(
    program: &Program,
    checked: &Checked,
    environment: &dyn Environment,
) -> Vec<PlannedStatement> {
    let env = ProgramEnv {
        checked,
        environment,
    };
    program
        .statements
        .iter()
        .filter_map(|statement| {
            let plan = match &statement.kind {
                StmtKind::Equation(eq) => plan_equation(eq, &env),
                StmtKind::Rule(rule) => plan_rule(rule, &env),
                StmtKind::Param(param) => plan_param(param, &env),
                StmtKind::Query(Query::Atom(atom)) => plan_query(atom, &env),
                StmtKind::Query(Query::Tensor(tensor)) => plan_tensor_query(tensor, &env),
                _ => return None,
            };
            Some(PlannedStatement {
                span: statement.span,
                plan,
            })
        })
        .collect()
}
