//! Where a plan's inputs come from while the program runs (current tensors, relations,
//! run-time variables, literals, files), and the [`PlanEnv`]s that plan statements against
//! the values the program holds now.

use super::error::{run_codes, EvalError};
use super::evaluator::{Evaluator, Frame};
use super::execute::{run_plan, tensor_from_numbers};
use super::file_environment::resolve;
use super::tensor_files::load_tensor;
use super::value::Value;
use crate::environment::{Environment, TensorInfo};
use crate::plan::{Input, Plan, Source};
use crate::planner::PlanEnv;
use crate::span::Span;
use std::collections::HashMap;
use tl_tensor::{DType, Tensor};

/// Prefix of the name under which a relation's newest facts (its delta) enter a plan in
/// semi-naive evaluation; `·` cannot appear in a program's names.
pub const DELTA_PREFIX: &str = "Δ·";

impl Evaluator {
    /// The current value of a global tensor or relation, as a tensor.
    pub fn global_tensor(&self, name: &str) -> Option<Tensor> {
        if let Some(relation) = self.relations.get(name) {
            return Some(relation.tensor().clone());
        }
        if let Some(tensor) = self.tensors.get(name) {
            return Some(tensor.clone());
        }
        match self.variables.get(name) {
            Some(Value::Tensor(t)) => Some(t.clone()),
            _ => None,
        }
    }

    /// A name as a value: from the frame (with fields), then the globals.
    pub(crate) fn lookup_value(&self, name: &str, frame: Option<&Frame>) -> Option<Value> {
        let segments: Vec<&str> = name.split('.').collect();
        if let Some(frame) = frame {
            if let Some(value) = frame.get(segments[0]) {
                return value.field(&segments[1..]).cloned();
            }
        }
        if let Some(tensor) = self.global_tensor(name) {
            return Some(Value::Tensor(tensor));
        }
        self.variables
            .get(segments[0])
            .and_then(|v| v.field(&segments[1..]))
            .cloned()
    }

    /// Reads `load(path, name)` once per run (files are resolved against the program's
    /// directory).
    pub(crate) fn load(
        &self,
        path: &str,
        name: Option<&str>,
        span: Span,
    ) -> Result<Tensor, EvalError> {
        let key = (path.to_string(), name.map(str::to_string));
        if let Some(tensor) = self.loads.borrow().get(&key) {
            return Ok(tensor.clone());
        }
        let tensor = load_tensor(&self.device, &resolve(&self.base, path), name).map_err(|e| {
            let code = if e.is_missing_tensor() {
                run_codes::MISSING_TENSOR
            } else {
                run_codes::FILE
            };
            EvalError::new(code, e.to_string(), span, "loaded here")
        })?;
        self.loads.borrow_mut().insert(key, tensor.clone());
        Ok(tensor)
    }

    fn number_of(&self, name: &str, frame: Option<&Frame>, span: Span) -> Result<f64, EvalError> {
        match self.lookup_value(name, frame) {
            Some(Value::Number(v)) => Ok(v),
            Some(Value::Tensor(t)) if t.numel() == 1 => t
                .to_scalar()
                .map_err(|e| EvalError::tensor(span, &format!("reading `{name}`"), e)),
            Some(other) => Err(EvalError::value(
                span,
                format!("`{name}` is {}, not a number", other.kind()),
            )),
            None => Err(EvalError::value(
                span,
                format!("`{name}` has no value here"),
            )),
        }
    }

    /// The tensor for one input of a plan run by the statement at `span`.
    pub(crate) fn input_tensor(
        &self,
        input: &Input,
        overrides: &HashMap<String, Tensor>,
        frame: Option<&Frame>,
        span: Span,
    ) -> Result<Tensor, EvalError> {
        let device_error = |e: tl_tensor::TensorError| EvalError::tensor(span, "an input", e);
        match &input.source {
            Source::Tensor(name) | Source::Target(name) => {
                if let Some(tensor) = overrides.get(name) {
                    return Ok(tensor.clone());
                }
                match self.lookup_value(name, frame) {
                    Some(Value::Tensor(t)) => Ok(t),
                    Some(Value::Number(v)) => {
                        tensor_from_numbers(&self.device, &[v], &[], DType::F32)
                            .and_then(|t| t.expand(&input.shape))
                            .map_err(device_error)
                    }
                    Some(other) => Err(EvalError::value(
                        span,
                        format!("`{name}` is {}, not a tensor", other.kind()),
                    )),
                    None if matches!(input.source, Source::Target(_)) => self
                        .device
                        .zeros(&input.shape, input.dtype)
                        .map_err(device_error),
                    None => Err(EvalError::value(
                        span,
                        format!("`{name}` has no value when this runs"),
                    )
                    .with_help(
                        "define it before it is used (inside functions statements run in order)",
                    )),
                }
            }
            Source::Scalar(name) => {
                let value = self.number_of(name, frame, span)?;
                tensor_from_numbers(&self.device, &[value], &input.shape, input.dtype)
                    .map_err(device_error)
            }
            Source::Position { name, offset } => {
                let value = self.number_of(name, frame, span)? + *offset as f64;
                tensor_from_numbers(&self.device, &[value], &input.shape, input.dtype)
                    .map_err(device_error)
            }
            Source::Literal(values) => {
                tensor_from_numbers(&self.device, values, &input.shape, input.dtype)
                    .map_err(device_error)
            }
            Source::Load { path, name } => self.load(path, name.as_deref(), span),
        }
    }

    /// Runs `plan` for the statement at `span`.
    pub(crate) fn execute(
        &self,
        plan: &Plan,
        overrides: &HashMap<String, Tensor>,
        frame: Option<&Frame>,
        span: Span,
    ) -> Result<Tensor, EvalError> {
        let mut failure: Option<EvalError> = None;
        let result = run_plan(plan, &self.device, &mut |input| {
            self.input_tensor(input, overrides, frame, span)
                .map_err(|e| {
                    let message = e.message.clone();
                    failure = Some(e);
                    message
                })
        });
        match (result, failure) {
            (Ok(tensor), _) => Ok(tensor),
            (Err(_), Some(error)) => Err(error),
            (Err(message), None) => Err(EvalError::tensor(
                span,
                &format!("running the plan of `{}`", plan.target),
                message,
            )),
        }
    }
}

/// Plans statements against what the program holds now: the frame of the running
/// function (or the top-level variables), then the globals, then what checking inferred.
pub(crate) struct RunScope<'a> {
    pub eval: &'a Evaluator,
    pub frame: Option<&'a Frame>,
}

fn info_of(tensor: &Tensor) -> TensorInfo {
    TensorInfo::new(tensor.shape(), DType::F32)
}

impl PlanEnv for RunScope<'_> {
    fn tensor(&self, name: &str) -> Option<TensorInfo> {
        match self.eval.lookup_value(name, self.frame) {
            Some(Value::Tensor(t)) => Some(info_of(&t)),
            Some(_) => None,
            None => self.eval.checked.tensor_info(name),
        }
    }
    fn constant(&self, name: &str) -> Option<f64> {
        if self.frame.is_some_and(|f| f.contains_key(name)) {
            return None;
        }
        self.eval.checked.constants.get(name).copied()
    }
    fn is_runtime(&self, name: &str) -> bool {
        matches!(
            self.eval.lookup_value(name, self.frame),
            Some(Value::Number(_))
        ) || (self.frame.is_none() && self.eval.checked.runtime_names.contains(name))
    }
    fn is_symbol(&self, name: &str) -> bool {
        self.eval.checked.symbols.contains(name)
            && self.eval.lookup_value(name, self.frame).is_none()
    }
    fn symbol_position(&self, tensor: &str, axis: usize, symbol: &str) -> Option<usize> {
        self.eval.checked.symbol_position(tensor, axis, symbol)
    }
    fn load(&self, path: &str, name: Option<&str>) -> Option<TensorInfo> {
        self.eval.files.load(path, name)
    }
}

/// Plans semi-naive variants of rules: a name with [`DELTA_PREFIX`] is the relation's
/// delta, of the relation's shape and domains.
pub(crate) struct DeltaScope<'a> {
    pub inner: &'a dyn PlanEnv,
}

fn strip(name: &str) -> &str {
    name.strip_prefix(DELTA_PREFIX).unwrap_or(name)
}

impl PlanEnv for DeltaScope<'_> {
    fn tensor(&self, name: &str) -> Option<TensorInfo> {
        self.inner.tensor(strip(name))
    }
    fn constant(&self, name: &str) -> Option<f64> {
        self.inner.constant(name)
    }
    fn is_runtime(&self, name: &str) -> bool {
        self.inner.is_runtime(name)
    }
    fn is_symbol(&self, name: &str) -> bool {
        self.inner.is_symbol(name)
    }
    fn symbol_position(&self, tensor: &str, axis: usize, symbol: &str) -> Option<usize> {
        self.inner.symbol_position(strip(tensor), axis, symbol)
    }
    fn load(&self, path: &str, name: Option<&str>) -> Option<TensorInfo> {
        self.inner.load(path, name)
    }
}
