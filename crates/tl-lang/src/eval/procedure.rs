//! Statements that run in order: function bodies, and the top level's queries, `print`,
//! `save`, loops, conditionals and calls after the definitions are evaluated. An equation
//! here is an assignment.

use super::error::{run_codes, EvalError};
use super::evaluator::{Evaluator, Frame};
use super::file_environment::resolve;
use super::inputs::RunScope;
use super::output::{format_answers, format_tensor, format_value};
use super::relation::{tuples_of, SymbolDomain};
use super::tensor_files::{load_all, save_tensor};
use super::value::Value;
use crate::ast::*;
use crate::builtins::{self, BuiltinKind, OutputKind};
use crate::constant;
use crate::planner::{plan_equation, plan_query, plan_tensor_query};
use crate::span::Span;
use std::collections::HashMap;
use std::sync::Arc;

/// How deeply user functions may call each other.
const MAX_CALL_DEPTH: usize = 200;

/// What running a statement asks of the enclosing block.
pub(crate) enum Flow {
    Next,
    Return(Value),
}

fn truthy(value: &Value, span: Span) -> Result<bool, EvalError> {
    match value {
        Value::Number(v) => Ok(*v != 0.0),
        Value::Tensor(t) if t.numel() == 1 => t
            .to_scalar()
            .map(|v| v != 0.0)
            .map_err(|e| EvalError::tensor(span, "a condition", e)),
        other => Err(EvalError::value(
            span,
            format!("a condition must be a number, not {}", other.kind()),
        )),
    }
}

fn number(value: &Value, span: Span, what: &str) -> Result<f64, EvalError> {
    match value {
        Value::Number(v) => Ok(*v),
        Value::Tensor(t) if t.numel() == 1 => {
            t.to_scalar().map_err(|e| EvalError::tensor(span, what, e))
        }
        other => Err(EvalError::value(
            span,
            format!("{what} must be a number, not {}", other.kind()),
        )),
    }
}

impl Evaluator {
    /// The top level's ordered statements, after the definitions have been evaluated.
    pub(crate) fn run_procedural(
        &mut self,
        statements: &[Stmt],
        frame: &mut Frame,
    ) -> Result<(), EvalError> {
        for statement in statements {
            match &statement.kind {
                // Definitions were evaluated as a set.
                StmtKind::Equation(_)
                | StmtKind::Fact(_)
                | StmtKind::Rule(_)
                | StmtKind::Param(_)
                | StmtKind::Domain(_)
                | StmtKind::Function(_)
                | StmtKind::Let { .. } => {}
                StmtKind::Minimize(minimize) => {
                    return Err(EvalError::new(
                        run_codes::WRONG_VALUE,
                        "`minimize` needs gradients, which this evaluator does not compute",
                        minimize.target.span,
                        "training is not run",
                    )
                    .with_help("remove the `minimize` line to run the forward equations"))
                }
                _ => {
                    if let Flow::Return(_) = self.run_statement(statement, frame, false)? {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    pub(crate) fn run_block(
        &mut self,
        block: &Block,
        frame: &mut Frame,
        in_function: bool,
    ) -> Result<Flow, EvalError> {
        for statement in &block.statements {
            if let Flow::Return(value) = self.run_statement(statement, frame, in_function)? {
                return Ok(Flow::Return(value));
            }
        }
        Ok(Flow::Next)
    }

    fn run_statement(
        &mut self,
        statement: &Stmt,
        frame: &mut Frame,
        in_function: bool,
    ) -> Result<Flow, EvalError> {
        let span = statement.span;
        match &statement.kind {
            StmtKind::Equation(eq) => {
                let plan = plan_equation(
                    eq,
                    &RunScope {
                        eval: self,
                        frame: Some(frame),
                    },
                )?;
                let value = self.execute(&plan, &HashMap::new(), Some(frame), span)?;
                let target = eq.lhs.name.joined();
                if in_function || frame.contains_key(&target) {
                    frame.insert(target, Value::Tensor(value));
                } else {
                    self.tensors.insert(target, value);
                }
            }
            StmtKind::Let { name, value } => {
                let value = self.eval_expr(value, frame)?;
                frame.insert(name.text.clone(), value);
            }
            StmtKind::Query(query) => self.answer(query, frame, span)?,
            StmtKind::If(branch) => return self.run_if(branch, frame, in_function),
            StmtKind::For {
                variable,
                start,
                end,
                body,
            } => {
                let start_value = self.eval_expr(start, frame)?;
                let end_value = self.eval_expr(end, frame)?;
                let first = number(&start_value, start.span, "a range bound")?.round() as i64;
                let last = number(&end_value, end.span, "a range bound")?.round() as i64;
                for position in first..last {
                    frame.insert(variable.text.clone(), Value::Number(position as f64));
                    if let Flow::Return(value) = self.run_block(body, frame, in_function)? {
                        return Ok(Flow::Return(value));
                    }
                }
            }
            StmtKind::While { condition, body } => loop {
                let value = self.eval_expr(condition, frame)?;
                if !truthy(&value, condition.span)? {
                    break;
                }
                if let Flow::Return(value) = self.run_block(body, frame, in_function)? {
                    return Ok(Flow::Return(value));
                }
            },
            StmtKind::Return(value) => {
                let value = match value {
                    Some(expr) => self.eval_expr(expr, frame)?,
                    None => Value::Nothing,
                };
                return Ok(Flow::Return(value));
            }
            StmtKind::Expr(expr) => {
                self.eval_statement_call(expr, frame)?;
            }
            StmtKind::Fact(_)
            | StmtKind::Rule(_)
            | StmtKind::Param(_)
            | StmtKind::Domain(_)
            | StmtKind::Function(_)
            | StmtKind::Minimize(_) => {
                return Err(EvalError::value(
                    span,
                    "facts, rules and declarations belong at the top level of a program",
                ))
            }
        }
        Ok(Flow::Next)
    }

    fn run_if(
        &mut self,
        branch: &If,
        frame: &mut Frame,
        in_function: bool,
    ) -> Result<Flow, EvalError> {
        let condition = self.eval_expr(&branch.condition, frame)?;
        if truthy(&condition, branch.condition.span)? {
            self.run_block(&branch.then_block, frame, in_function)
        } else if let Some(other) = &branch.else_block {
            self.run_block(other, frame, in_function)
        } else {
            Ok(Flow::Next)
        }
    }

    /// A call standing as a statement: `print`, `save` or a user function.
    fn eval_statement_call(&mut self, expr: &Expr, frame: &mut Frame) -> Result<(), EvalError> {
        if let ExprKind::Call(call) = &expr.kind {
            if !self.functions.contains_key(&call.callee.text) {
                if let Some(builtin) = builtins::lookup(&call.callee.text) {
                    if let BuiltinKind::Output(kind) = builtin.kind {
                        let bound = builtins::bind(builtin, call)?;
                        return match kind {
                            OutputKind::Print => {
                                let argument = bound.get("x").ok_or_else(|| {
                                    EvalError::value(call.args_span, "`print` needs a value")
                                })?;
                                let value = self.eval_expr(argument, frame)?;
                                self.emit(expr.span, format_value(&value));
                                Ok(())
                            }
                            OutputKind::Save => self.save(&bound, call, frame),
                        };
                    }
                }
            }
        }
        self.eval_expr(expr, frame)?;
        Ok(())
    }

    fn save(
        &mut self,
        bound: &builtins::BoundArgs,
        call: &Call,
        frame: &mut Frame,
    ) -> Result<(), EvalError> {
        let (Some(path_expr), Some(value_expr)) = (bound.get("path"), bound.get("x")) else {
            return Err(EvalError::value(
                call.args_span,
                "`save` needs a path and a tensor",
            ));
        };
        let ExprKind::Str(path) = &path_expr.kind else {
            return Err(EvalError::value(
                path_expr.span,
                "the path must be a string",
            ));
        };
        let name = match &value_expr.kind {
            ExprKind::Tensor(t) => t.name.joined(),
            _ => "tensor".to_string(),
        };
        let tensor = match self.eval_expr(value_expr, frame)? {
            Value::Tensor(t) => t,
            Value::Number(v) => self
                .device
                .full(&[], tl_tensor::DType::F32, v)
                .map_err(|e| EvalError::tensor(value_expr.span, "saving", e))?,
            other => {
                return Err(EvalError::value(
                    value_expr.span,
                    format!("`save` writes tensors, not {}", other.kind()),
                ))
            }
        };
        save_tensor(&resolve(&self.base, path), &name, &tensor).map_err(|e| {
            EvalError::new(
                run_codes::FILE,
                e.to_string(),
                path_expr.span,
                "written here",
            )
        })
    }

    /// Prints the answer to a query.
    fn answer(&mut self, query: &Query, frame: &Frame, span: Span) -> Result<(), EvalError> {
        let scope = RunScope {
            eval: self,
            frame: Some(frame),
        };
        match query {
            Query::Atom(atom) => {
                let plan = plan_query(atom, &scope)?;
                let tensor = self.execute(&plan, &HashMap::new(), Some(frame), span)?;
                let relation_domains = self.axis_domains(&atom.relation.text);
                let mut variables: Vec<String> = Vec::new();
                let mut domains: Vec<SymbolDomain> = Vec::new();
                for (position, term) in atom.terms.iter().enumerate() {
                    if let Term::Variable(name) = term {
                        if !variables.contains(&name.text) {
                            variables.push(name.text.clone());
                            domains.push(
                                relation_domains
                                    .get(position)
                                    .filter(|d| !d.is_empty())
                                    .cloned()
                                    .unwrap_or_else(|| Arc::new(Vec::new())),
                            );
                        }
                    }
                }
                let tuples = tuples_of(&tensor, &domains)
                    .map_err(|e| EvalError::tensor(span, "reading the answers", e))?;
                let text = format!("{atom}?");
                self.emit(span, format_answers(&text, &variables, &tuples));
            }
            Query::Tensor(tensor_ref) => {
                let plan = plan_tensor_query(tensor_ref, &scope)?;
                let tensor = self.execute(&plan, &HashMap::new(), Some(frame), span)?;
                let values = format_tensor(&tensor);
                let separator = if values.contains('\n') { "\n" } else { " " };
                self.emit(span, format!("{tensor_ref}?{separator}{values}"));
            }
        }
        Ok(())
    }

    /// Evaluates an expression outside an equation (`let`, conditions, arguments).
    pub(crate) fn eval_expr(&mut self, expr: &Expr, frame: &mut Frame) -> Result<Value, EvalError> {
        match &expr.kind {
            ExprKind::Int(v) => return Ok(Value::Number(*v as f64)),
            ExprKind::Float(v) => return Ok(Value::Number(*v)),
            ExprKind::Bool(v) => return Ok(Value::Number(f64::from(u8::from(*v)))),
            ExprKind::Str(s) => return Ok(Value::Text(s.clone())),
            ExprKind::Paren(inner) => return self.eval_expr(inner, frame),
            ExprKind::Tensor(tensor) if tensor.indices.is_none() => {
                let name = tensor.name.joined();
                if let Some(value) = self.lookup_value(&name, Some(frame)) {
                    return Ok(value);
                }
                if let Some(value) = self.checked.constants.get(&name) {
                    return Ok(Value::Number(*value));
                }
                return Err(EvalError::value(
                    expr.span,
                    format!("`{name}` has no value here"),
                ));
            }
            ExprKind::Call(call)
                if call.callee.text == "load" && !self.functions.contains_key("load") =>
            {
                return self.load_value(call);
            }
            ExprKind::Call(call) if self.functions.contains_key(&call.callee.text) => {
                let mut arguments = Vec::with_capacity(call.args.len());
                for arg in &call.args {
                    arguments.push(self.eval_expr(&arg.value, frame)?);
                }
                return self.call_function(&call.callee.text, arguments, expr.span);
            }
            _ => {}
        }
        let scalar = |name: &str| match frame.get(name) {
            Some(Value::Number(v)) => Some(*v),
            Some(_) => None,
            None => self.checked.constants.get(name).copied(),
        };
        if let Some(value) = constant::evaluate(expr, &scalar) {
            return Ok(Value::Number(value));
        }
        // Anything else is planned as a whole equation with an anonymous left side.
        let span = expr.span;
        let equation = Equation {
            lhs: TensorRef {
                name: Path {
                    segments: vec![Name {
                        text: "value".into(),
                        span,
                    }],
                    span,
                },
                indices: None,
                span,
            },
            op: AssignOp::Assign,
            op_span: span,
            rhs: expr.clone(),
        };
        let plan = plan_equation(
            &equation,
            &RunScope {
                eval: self,
                frame: Some(frame),
            },
        )?;
        let tensor = self.execute(&plan, &HashMap::new(), Some(frame), span)?;
        Ok(Value::Tensor(tensor))
    }

    /// `load(path, name)` as a value; without a name, a file of several tensors becomes a
    /// record whose fields are the stored names (`w.blk.0.attn_q`).
    fn load_value(&self, call: &Call) -> Result<Value, EvalError> {
        let builtin = builtins::lookup("load")
            .ok_or_else(|| EvalError::value(call.callee.span, "no `load` builtin"))?;
        let bound = builtins::bind(builtin, call)?;
        let text = |key: &str| match bound.get(key).map(|e| &e.kind) {
            Some(ExprKind::Str(s)) => Some(s.clone()),
            _ => None,
        };
        let span = call.callee.span.to(call.args_span);
        let path =
            text("path").ok_or_else(|| EvalError::value(span, "the path must be a string"))?;
        if let Some(name) = text("name") {
            return Ok(Value::Tensor(self.load(&path, Some(&name), span)?));
        }
        let all = load_all(&self.device, &resolve(&self.base, &path))
            .map_err(|e| EvalError::new(run_codes::FILE, e.to_string(), span, "loaded here"))?;
        if let [(_, tensor)] = all.as_slice() {
            return Ok(Value::Tensor(tensor.clone()));
        }
        Ok(Value::Record(
            all.into_iter()
                .map(|(name, tensor)| (name, Value::Tensor(tensor)))
                .collect(),
        ))
    }

    pub(crate) fn call_function(
        &mut self,
        name: &str,
        arguments: Vec<Value>,
        span: Span,
    ) -> Result<Value, EvalError> {
        let function = self
            .functions
            .get(name)
            .cloned()
            .ok_or_else(|| EvalError::value(span, format!("no function `{name}`")))?;
        if arguments.len() != function.params.len() {
            return Err(EvalError::value(
                span,
                format!(
                    "`{name}` takes {} arguments but {} were given",
                    function.params.len(),
                    arguments.len()
                ),
            ));
        }
        if self.call_depth >= MAX_CALL_DEPTH {
            return Err(EvalError::value(
                span,
                format!("calls nested more than {MAX_CALL_DEPTH} deep (endless recursion?)"),
            ));
        }
        let mut frame: Frame = function
            .params
            .iter()
            .map(|p| p.text.clone())
            .zip(arguments)
            .collect();
        self.call_depth += 1;
        let result = self.run_block(&function.body, &mut frame, true);
        self.call_depth -= 1;
        match result? {
            Flow::Return(value) => Ok(value),
            Flow::Next => Ok(Value::Nothing),
        }
    }
}
