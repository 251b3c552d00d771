//! Recursive components. Datalog components (rules only) run semi-naive: each round joins
//! only the facts new in the last round (the deltas) through the planner, applies `step`,
//! and keeps what is not yet known. Other recursive components are iterated whole until no
//! element moves by more than the tolerance, or the iteration limit is hit.

use super::definitions::{Definition, DefinitionKind};
use super::error::{run_codes, EvalError};
use super::evaluator::Evaluator;
use super::inputs::{DeltaScope, DELTA_PREFIX};
use crate::plan::Plan;
use crate::planner::{plan_rule, ProgramEnv};
use std::collections::HashMap;
use tl_tensor::{ReduceOp, Tensor, UnaryOp};

/// A rule with one body atom read from the delta of a relation of its component.
struct DeltaRule {
    head: String,
    plan: Plan,
    span: crate::span::Span,
}

fn all_axes(tensor: &Tensor) -> Vec<isize> {
    (0..tensor.rank() as isize).collect()
}

fn reduce_all(tensor: &Tensor, op: ReduceOp) -> tl_tensor::Result<f64> {
    if tensor.numel() == 0 {
        return Ok(0.0);
    }
    if tensor.rank() == 0 {
        return tensor.to_scalar();
    }
    tensor.reduce(op, &all_axes(tensor), false)?.to_scalar()
}

impl Evaluator {
    pub(crate) fn run_recursive(
        &mut self,
        names: &[String],
        members: &[&Definition],
    ) -> Result<(), EvalError> {
        let datalog = members
            .iter()
            .all(|d| matches!(d.kind, DefinitionKind::Rule { .. } | DefinitionKind::Facts));
        if datalog {
            self.semi_naive(names, members)
        } else {
            self.iterate(names, members)
        }
    }

    fn semi_naive(&mut self, names: &[String], members: &[&Definition]) -> Result<(), EvalError> {
        let env = ProgramEnv {
            checked: &self.checked,
            environment: &self.files,
        };
        let delta_env = DeltaScope { inner: &env };
        let mut delta_rules: Vec<DeltaRule> = Vec::new();
        for definition in members {
            let DefinitionKind::Rule { rule, .. } = &definition.kind else {
                continue;
            };
            for (position, atom) in rule.body.iter().enumerate() {
                if !names.contains(&atom.relation.text) {
                    continue;
                }
                let mut variant = rule.clone();
                variant.body[position].relation.text =
                    format!("{DELTA_PREFIX}{}", atom.relation.text);
                delta_rules.push(DeltaRule {
                    head: rule.head.relation.text.clone(),
                    plan: plan_rule(&variant, &delta_env)?,
                    span: definition.span,
                });
            }
        }
        // Round 0: every rule on the facts known so far.
        let mut deltas: HashMap<String, Tensor> = HashMap::new();
        for name in names {
            let own: Vec<&Definition> = members
                .iter()
                .copied()
                .filter(|d| &d.target == name)
                .collect();
            let before = self.relations.get(name).map(|r| r.tensor().clone());
            self.define(name, &own, &HashMap::new())?;
            let after = self.relations[name].tensor().clone();
            // Everything is new in the first round, facts included.
            let delta = match before {
                Some(before) => after
                    .sub(&before)
                    .map_err(|e| EvalError::tensor(own[0].span, "a delta", e))?,
                None => after,
            };
            deltas.insert(name.clone(), delta);
        }
        let mut rounds = 1;
        loop {
            let mut any_new = false;
            for delta in deltas.values() {
                if reduce_all(delta, ReduceOp::Max).unwrap_or(0.0) > 0.0 {
                    any_new = true;
                    break;
                }
            }
            if !any_new {
                break;
            }
            rounds += 1;
            let overrides: HashMap<String, Tensor> = deltas
                .iter()
                .map(|(name, delta)| (format!("{DELTA_PREFIX}{name}"), delta.clone()))
                .collect();
            let mut derived: HashMap<String, Tensor> = HashMap::new();
            for rule in &delta_rules {
                let result = self.execute(&rule.plan, &overrides, None, rule.span)?;
                let merged = match derived.remove(&rule.head) {
                    Some(earlier) => earlier
                        .binary(tl_tensor::BinaryOp::Maximum, &result)
                        .map_err(|e| EvalError::tensor(rule.span, "merging derivations", e))?,
                    None => result,
                };
                derived.insert(rule.head.clone(), merged);
            }
            let mut next: HashMap<String, Tensor> = HashMap::new();
            for name in names {
                let span = members
                    .iter()
                    .find(|d| &d.target == name)
                    .map_or(crate::span::Span::new(0, 0), |d| d.span);
                let delta = match derived.get(name) {
                    Some(found) => self.absorb(name, found, span)?.tensor().clone(),
                    None => {
                        let shape = self.relations[name].shape().to_vec();
                        self.device
                            .zeros(&shape, tl_tensor::DType::F32)
                            .map_err(|e| EvalError::tensor(span, "an empty delta", e))?
                    }
                };
                next.insert(name.clone(), delta);
            }
            deltas = next;
        }
        let sizes: Vec<String> = names
            .iter()
            .map(|n| {
                let count = self.relations[n].count().unwrap_or(0);
                format!("{n}: {count} tuples")
            })
            .collect();
        self.log.notes.push(format!(
            "fixpoint of {{{}}} reached in {rounds} semi-naive rounds ({})",
            names.join(", "),
            sizes.join(", ")
        ));
        Ok(())
    }

    fn iterate(&mut self, names: &[String], members: &[&Definition]) -> Result<(), EvalError> {
        let span_of = |name: &str| {
            members
                .iter()
                .find(|d| d.target == name)
                .map_or(crate::span::Span::new(0, 0), |d| d.span)
        };
        // Tensors of the component start at zero, relations at their facts.
        for name in names {
            let is_relation = members.iter().any(|d| {
                &d.target == name
                    && matches!(d.kind, DefinitionKind::Facts | DefinitionKind::Rule { .. })
            });
            if is_relation || self.global_tensor(name).is_some() {
                continue;
            }
            if let Some(info) = self.checked.tensor_info(name) {
                let zeros = self
                    .device
                    .zeros(&info.shape, info.dtype)
                    .map_err(|e| EvalError::tensor(span_of(name), "starting a recursion", e))?;
                self.tensors.insert(name.clone(), zeros);
            }
        }
        let mut last_change = f64::INFINITY;
        for round in 1..=self.options.max_iterations {
            let before: HashMap<String, Option<Tensor>> = names
                .iter()
                .map(|n| (n.clone(), self.global_tensor(n)))
                .collect();
            for name in names {
                let own: Vec<&Definition> = members
                    .iter()
                    .copied()
                    .filter(|d| &d.target == name)
                    .collect();
                self.define(name, &own, &HashMap::new())?;
            }
            let mut change: f64 = 0.0;
            let mut scale: f64 = 1.0;
            for name in names {
                let (Some(Some(old)), Some(new)) = (before.get(name), self.global_tensor(name))
                else {
                    change = f64::INFINITY;
                    continue;
                };
                if old.shape() != new.shape() {
                    change = f64::INFINITY;
                    continue;
                }
                let span = span_of(name);
                let measure = |t: tl_tensor::Result<Tensor>| {
                    t.and_then(|t| reduce_all(&t.unary(UnaryOp::Abs)?, ReduceOp::Max))
                        .map_err(|e| EvalError::tensor(span, "measuring convergence", e))
                };
                change = change.max(measure(new.sub(old))?);
                scale = scale.max(measure(Ok(new.clone()))?);
            }
            last_change = change;
            if change.is_finite() && change <= self.options.tolerance * scale {
                self.log.notes.push(format!(
                    "{{{}}} converged after {round} iterations (last change {change:.3e})",
                    names.join(", ")
                ));
                return Ok(());
            }
        }
        let first = &names[0];
        Err(EvalError::new(
            run_codes::NOT_CONVERGED,
            format!(
                "the recursive definition of {} did not converge within {} iterations (last change {last_change:.3e})",
                names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
                self.options.max_iterations
            ),
            span_of(first),
            "this equation keeps changing",
        )
        .with_help("raise the limit (`tl run --max-iterations N`) or make the recursion contract"))
    }
}
