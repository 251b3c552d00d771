//! A Datalog program over sparse relations: rules and base facts, run to their least
//! fixpoint component by component (dependencies first, each recursive component
//! semi-naive), and queried.

use std::collections::HashMap;

use crate::ast::{Atom, Program, Rule, StmtKind};

use super::compiled::{compile_atom, compile_fact, compile_rule, CompiledAtom, CompiledRule};
use super::components::strongly_connected_components;
use super::error::SparseError;
use super::limits::FixpointLimits;
use super::query::QueryAnswer;
use super::relation::SparseRelation;
use super::semi_naive::Component;
use super::symbols::SymbolTable;

#[derive(Clone, Debug)]
pub struct SparseProgram {
    rules: Vec<CompiledRule>,
    facts: HashMap<String, SparseRelation>,
    symbols: SymbolTable,
    /// Every relation met (facts, heads, bodies) and its arity.
    arities: HashMap<String, usize>,
}

impl SparseProgram {
    /// Compiles `rules` against base `facts` (relation name → tuples of ids from
    /// `symbols`); constants of the rules are added to `symbols`. Fails on a rule that is
    /// not range restricted, a `_` in a head, or a relation used with two arities.
    pub fn new(
        rules: &[Rule],
        facts: HashMap<String, SparseRelation>,
        mut symbols: SymbolTable,
    ) -> Result<SparseProgram, SparseError> {
        let mut arities: HashMap<String, usize> = facts
            .iter()
            .map(|(name, relation)| (name.clone(), relation.arity()))
            .collect();
        let mut compiled = Vec::with_capacity(rules.len());
        for rule in rules {
            let rule = compile_rule(rule, &mut symbols)?;
            for atom in std::iter::once(&rule.head).chain(&rule.body) {
                record_arity(&mut arities, atom, &rule.text)?;
            }
            compiled.push(rule);
        }
        Ok(SparseProgram {
            rules: compiled,
            facts,
            symbols,
            arities,
        })
    }

    /// The top-level facts and rules of `program` (everything else is ignored), with
    /// symbols numbered in order of first appearance in the facts.
    pub fn from_program(program: &Program) -> Result<SparseProgram, SparseError> {
        let mut symbols = SymbolTable::new();
        let mut flat: HashMap<String, (usize, Vec<u32>, usize)> = HashMap::new();
        let mut rules = Vec::new();
        for statement in &program.statements {
            match &statement.kind {
                StmtKind::Fact(atom) => {
                    let ids = compile_fact(atom, &mut symbols)?;
                    let name = &atom.relation.text;
                    let entry = flat
                        .entry(name.clone())
                        .or_insert_with(|| (ids.len(), Vec::new(), 0));
                    if entry.0 != ids.len() {
                        return Err(SparseError::ArityMismatch {
                            relation: name.clone(),
                            expected: entry.0,
                            found: ids.len(),
                            rule: format!("{atom}."),
                            span: atom.span,
                        });
                    }
                    entry.1.extend_from_slice(&ids);
                    entry.2 += 1;
                }
                StmtKind::Rule(rule) => rules.push(rule.clone()),
                _ => {}
            }
        }
        let facts = flat
            .into_iter()
            .map(|(name, (arity, ids, count))| {
                let relation = if arity == 0 {
                    Some(SparseRelation::proposition(count > 0))
                } else {
                    SparseRelation::from_flat(arity, ids)
                };
                let relation = relation.ok_or(SparseError::RaggedFacts {
                    relation: name.clone(),
                    arity,
                })?;
                Ok((name, relation))
            })
            .collect::<Result<HashMap<_, _>, SparseError>>()?;
        SparseProgram::new(&rules, facts, symbols)
    }

    /// The symbols of the facts and the rules' constants.
    pub fn symbols(&self) -> &SymbolTable {
        &self.symbols
    }

    /// The arity of every relation the program mentions.
    pub fn arities(&self) -> &HashMap<String, usize> {
        &self.arities
    }

    /// Every relation's tuples at the least fixpoint: the facts and everything the rules
    /// derive from them. Relations without facts or derivations are present and empty.
    pub fn fixpoint(
        &self,
        limits: &FixpointLimits,
    ) -> Result<HashMap<String, SparseRelation>, SparseError> {
        let mut names: Vec<&String> = self.arities.keys().collect();
        names.sort();
        let number: HashMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(i, name)| (name.as_str(), i))
            .collect();
        let mut successors: Vec<Vec<usize>> = vec![Vec::new(); names.len()];
        for rule in &self.rules {
            let head = number[rule.head.relation.as_str()];
            for atom in &rule.body {
                let body = number[atom.relation.as_str()];
                if !successors[head].contains(&body) {
                    successors[head].push(body);
                }
            }
        }
        let mut done: HashMap<String, SparseRelation> = HashMap::new();
        for component in strongly_connected_components(&successors) {
            let members: Vec<String> = component.iter().map(|&i| names[i].clone()).collect();
            let rules: Vec<&CompiledRule> = self
                .rules
                .iter()
                .filter(|rule| members.contains(&rule.head.relation))
                .collect();
            if rules.is_empty() {
                for name in members {
                    let relation = self
                        .facts
                        .get(&name)
                        .cloned()
                        .unwrap_or_else(|| SparseRelation::empty(self.arities[&name]));
                    done.insert(name, relation);
                }
                continue;
            }
            let results = Component {
                members: &members,
                rules: &rules,
                arities: &self.arities,
                facts: &self.facts,
                earlier: &done,
            }
            .evaluate(limits)?;
            done.extend(results);
        }
        Ok(done)
    }

    /// The answers to `query` in `relations` (what [`fixpoint`](Self::fixpoint) returned):
    /// the distinct values of its variables, in order of first appearance, for which the
    /// atom holds. A symbol the program never met matches nothing.
    pub fn answer(
        &self,
        relations: &HashMap<String, SparseRelation>,
        query: &Atom,
    ) -> Result<QueryAnswer, SparseError> {
        // Symbols new to the program cannot occur in any tuple: give them ids past the
        // table's end in a scratch copy, so that they select nothing.
        let mut symbols = self.symbols.clone();
        let mut variables = Vec::new();
        let atom: CompiledAtom = compile_atom(query, &mut symbols, &mut variables);
        let relation =
            relations
                .get(&atom.relation)
                .ok_or_else(|| SparseError::UnknownRelation {
                    relation: atom.relation.clone(),
                    span: query.relation.span,
                })?;
        if relation.arity() != atom.arity() {
            return Err(SparseError::ArityMismatch {
                relation: atom.relation.clone(),
                expected: relation.arity(),
                found: atom.arity(),
                rule: format!("{query}?"),
                span: query.span,
            });
        }
        Ok(QueryAnswer::of(&atom, variables, relation))
    }
}

fn record_arity(
    arities: &mut HashMap<String, usize>,
    atom: &CompiledAtom,
    rule: &str,
) -> Result<(), SparseError> {
    let expected = *arities.entry(atom.relation.clone()).or_insert(atom.arity());
    if expected != atom.arity() {
        return Err(SparseError::ArityMismatch {
            relation: atom.relation.clone(),
            expected,
            found: atom.arity(),
            rule: rule.to_string(),
            span: atom.span,
        });
    }
    Ok(())
}
