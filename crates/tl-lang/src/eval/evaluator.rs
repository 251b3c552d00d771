//! The evaluator: runs a checked program on a [`Device`]. Top-level definitions form a set
//! evaluated component by component in dependency order; then the procedural statements
//! (queries, `print`, `save`, loops, calls) run in program order.

use super::definitions::{collect, Definition, DefinitionKind};
use super::error::{run_codes, EvalError};
use super::file_environment::FileEnvironment;
use super::inputs::RunScope;
use super::relation::{dense_elements, Relation, SymbolDomain};
use super::schedule::components;
use super::value::Value;
use crate::ast::{Function, Program, StmtKind};
use crate::check::Checked;
use crate::plan::Source;
use crate::planner::plan_equation;
use crate::span::Span;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tl_tensor::{Device, Tensor};

/// A function's (or the top level's) run-time variables.
pub type Frame = HashMap<String, Value>;

#[derive(Clone, Debug)]
pub struct EvalOptions {
    /// The most rounds a recursive real-valued component may take to converge.
    pub max_iterations: usize,
    /// A recursive component has converged when no element changes by more than
    /// `tolerance × max(1, largest magnitude)` in a round.
    pub tolerance: f64,
}

impl Default for EvalOptions {
    fn default() -> EvalOptions {
        EvalOptions {
            max_iterations: 1000,
            tolerance: 1e-6,
        }
    }
}

/// What a run printed and noted, in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunLog {
    /// Query answers and `print` output.
    pub output: Vec<String>,
    /// How recursive components ended (`converged after n rounds`, fixpoint sizes).
    pub notes: Vec<String>,
}

pub struct Evaluator {
    pub(crate) device: Device,
    pub(crate) options: EvalOptions,
    pub(crate) base: PathBuf,
    pub(crate) files: FileEnvironment,
    pub(crate) checked: Checked,
    pub(crate) tensors: HashMap<String, Tensor>,
    pub(crate) relations: HashMap<String, Relation>,
    pub(crate) variables: Frame,
    pub(crate) functions: HashMap<String, Function>,
    pub(crate) loads: RefCell<HashMap<(String, Option<String>), Tensor>>,
    pub(crate) log: RunLog,
    /// Output of statements that start before this byte offset is not recorded (the REPL
    /// re-runs earlier input but shows only the answers to the new).
    pub(crate) quiet_before: usize,
    pub(crate) call_depth: usize,
}

impl Evaluator {
    /// An evaluator whose `load` and `save` paths resolve against `base`.
    pub fn new(device: Device, base: &Path, options: EvalOptions) -> Evaluator {
        Evaluator {
            device,
            options,
            base: base.to_path_buf(),
            files: FileEnvironment::new(base),
            checked: Checked::default(),
            tensors: HashMap::new(),
            relations: HashMap::new(),
            variables: Frame::new(),
            functions: HashMap::new(),
            loads: RefCell::default(),
            log: RunLog::default(),
            quiet_before: 0,
            call_depth: 0,
        }
    }

    /// Supplies a tensor the program reads by name (checking must have been told its shape,
    /// through the environment).
    pub fn set_tensor(&mut self, name: &str, tensor: Tensor) {
        self.tensors.insert(name.to_string(), tensor);
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Records output only for statements from byte `offset` on.
    pub fn set_quiet_before(&mut self, offset: usize) {
        self.quiet_before = offset;
    }

    pub fn log(&self) -> &RunLog {
        &self.log
    }

    /// A global tensor (or a relation's 0/1 tensor) after the run.
    pub fn tensor(&self, name: &str) -> Option<Tensor> {
        self.global_tensor(name)
    }

    pub fn relation(&self, name: &str) -> Option<&Relation> {
        self.relations.get(name)
    }

    /// A top-level variable.
    pub fn variable(&self, name: &str) -> Option<&Value> {
        self.variables.get(name)
    }

    pub(crate) fn emit(&mut self, span: Span, text: String) {
        if span.start >= self.quiet_before {
            self.log.output.push(text);
        }
    }

    /// The symbols each axis of `tensor` ranges over, where it has a domain.
    pub(crate) fn axis_domains(&self, tensor: &str) -> Vec<SymbolDomain> {
        let Some(facts) = self.checked.tensors.get(tensor) else {
            return Vec::new();
        };
        facts
            .domains
            .iter()
            .map(|d| {
                Arc::new(
                    d.and_then(|d| self.checked.domains.get(d))
                        .map(|d| d.symbols.clone())
                        .unwrap_or_default(),
                )
            })
            .collect()
    }

    /// The relation `name` holding only its facts.
    pub(crate) fn base_relation(&self, name: &str, span: Span) -> Result<Relation, EvalError> {
        let domains = self.axis_domains(name);
        let shape = self
            .checked
            .tensor_info(name)
            .map(|i| i.shape)
            .unwrap_or_else(|| domains.iter().map(|d| d.len()).collect());
        // An axis without a symbol domain (numbers used as positions) keeps its size.
        let domains: Vec<SymbolDomain> = shape
            .iter()
            .enumerate()
            .map(|(axis, &size)| match domains.get(axis) {
                Some(d) if d.len() == size => Arc::clone(d),
                _ => Arc::new((0..size).map(|p| p.to_string()).collect()),
            })
            .collect();
        dense_elements(&shape).map_err(|e| {
            EvalError::new(
                run_codes::TOO_LARGE,
                format!("relation `{name}`: {e}"),
                span,
                "defined here",
            )
            .with_help("relations over large domains need the sparse representation")
        })?;
        let facts = self.checked.facts.get(name).cloned().unwrap_or_default();
        Relation::from_facts(&self.device, domains, &facts)
            .map_err(|e| EvalError::tensor(span, &format!("relation `{name}`"), e))
    }

    /// Runs a parsed and checked program. Diagnostics of checking must have been handled by
    /// the caller: this only runs programs without errors.
    pub fn run(&mut self, program: &Program, checked: &Checked) -> Result<(), EvalError> {
        self.checked = checked.clone();
        for statement in &program.statements {
            if let StmtKind::Function(function) = &statement.kind {
                self.functions
                    .insert(function.name.text.clone(), function.clone());
            }
        }
        let definitions = collect(program, self)?;
        let mut names: Vec<String> = Vec::new();
        let mut reads: HashMap<String, Vec<String>> = HashMap::new();
        for definition in &definitions {
            if !names.contains(&definition.target) {
                names.push(definition.target.clone());
            }
            reads
                .entry(definition.target.clone())
                .or_default()
                .extend(definition.reads.iter().cloned());
        }
        for component in components(&names, &reads) {
            let members: Vec<&Definition> = definitions
                .iter()
                .filter(|d| component.names.contains(&d.target))
                .collect();
            if component.recursive {
                self.run_recursive(&component.names, &members)?;
            } else {
                for name in &component.names {
                    let own: Vec<&Definition> = members
                        .iter()
                        .copied()
                        .filter(|d| &d.target == name)
                        .collect();
                    self.define(name, &own, &HashMap::new())?;
                }
            }
        }
        let mut frame = std::mem::take(&mut self.variables);
        let result = self.run_procedural(&program.statements, &mut frame);
        self.variables = frame;
        result
    }

    /// Computes `name` from its definitions once, reading the current values of everything
    /// else (and of `name` itself for `+=` and partial updates).
    pub(crate) fn define(
        &mut self,
        name: &str,
        definitions: &[&Definition],
        overrides: &HashMap<String, Tensor>,
    ) -> Result<(), EvalError> {
        let is_relation = definitions
            .iter()
            .any(|d| matches!(d.kind, DefinitionKind::Facts | DefinitionKind::Rule { .. }));
        if is_relation && !self.relations.contains_key(name) {
            let span = definitions.first().map_or(Span::new(0, 0), |d| d.span);
            let relation = self.base_relation(name, span)?;
            self.relations.insert(name.to_string(), relation);
        }
        let mut fresh: Option<Tensor> = None;
        for definition in definitions {
            match &definition.kind {
                DefinitionKind::Facts => {}
                DefinitionKind::Rule { plan, .. } => {
                    let derived = self.execute(plan, overrides, None, definition.span)?;
                    self.absorb(name, &derived, definition.span)?;
                }
                DefinitionKind::Param { plan } => {
                    let value = self.execute(plan, overrides, None, definition.span)?;
                    self.tensors.insert(name.to_string(), value);
                }
                DefinitionKind::Equation { plan, equation } => {
                    let late_plan;
                    let plan = match plan {
                        Some(plan) => plan,
                        None => {
                            let scope = RunScope {
                                eval: self,
                                frame: None,
                            };
                            late_plan = plan_equation(equation, &scope)?;
                            &late_plan
                        }
                    };
                    let reads_target = plan
                        .inputs
                        .iter()
                        .any(|i| matches!(i.source, Source::Target(_)));
                    let value = self.execute(plan, overrides, None, definition.span)?;
                    if is_relation {
                        self.absorb(name, &value, definition.span)?;
                        continue;
                    }
                    // Equations with the same left side are summed; one that reads its
                    // target (`+=`, partial updates) already includes what came before.
                    let value = match fresh.take() {
                        Some(earlier) if !reads_target => earlier.add(&value).map_err(|e| {
                            EvalError::tensor(definition.span, "summing equations", e)
                        })?,
                        _ => value,
                    };
                    self.tensors.insert(name.to_string(), value.clone());
                    fresh = Some(value);
                }
                DefinitionKind::Let { value } => {
                    let mut frame = std::mem::take(&mut self.variables);
                    let result = self.eval_expr(value, &mut frame);
                    self.variables = frame;
                    let result = result?;
                    self.variables.insert(name.to_string(), result);
                }
            }
        }
        Ok(())
    }

    pub(crate) fn absorb(
        &mut self,
        name: &str,
        derived: &Tensor,
        span: Span,
    ) -> Result<Relation, EvalError> {
        let relation = self
            .relations
            .get_mut(name)
            .ok_or_else(|| EvalError::value(span, format!("`{name}` is not a relation")))?;
        if relation.shape() != derived.shape() {
            return Err(EvalError::tensor(
                span,
                &format!("deriving `{name}`"),
                format!(
                    "the rule gives shape {:?} but the relation is {:?}",
                    derived.shape(),
                    relation.shape()
                ),
            ));
        }
        relation
            .absorb(derived)
            .map_err(|e| EvalError::tensor(span, &format!("deriving `{name}`"), e))
    }
}
