//! Rules and atoms in the form the sparse engine runs: relation names with argument slots
//! that are numbered variables, symbol ids or wildcards.

use crate::ast::{Atom, Rule, Term};
use crate::span::Span;

use super::error::SparseError;
use super::symbols::SymbolTable;

/// One argument position of an atom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// The rule's variable number `n`.
    Variable(usize),
    Constant(u32),
    /// `_`: any symbol.
    Any,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledAtom {
    pub relation: String,
    pub slots: Vec<Slot>,
    pub span: Span,
}

impl CompiledAtom {
    pub fn arity(&self) -> usize {
        self.slots.len()
    }

    /// Variables in order of first occurrence, each once.
    pub fn variables(&self) -> Vec<usize> {
        let mut variables = Vec::new();
        for slot in &self.slots {
            if let Slot::Variable(v) = *slot {
                if !variables.contains(&v) {
                    variables.push(v);
                }
            }
        }
        variables
    }
}

/// A rule ready to run: head and body over numbered variables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledRule {
    pub head: CompiledAtom,
    pub body: Vec<CompiledAtom>,
    /// Variable names by number.
    pub variable_names: Vec<String>,
    /// The rule as written, for error messages.
    pub text: String,
    pub span: Span,
}

/// The rule's text the way error messages quote it.
pub fn rule_text(rule: &Rule) -> String {
    let body: Vec<String> = rule.body.iter().map(|atom| atom.to_string()).collect();
    format!("{} <- {}.", rule.head, body.join(", "))
}

/// The span from the head to the end of the body.
pub fn rule_span(rule: &Rule) -> Span {
    rule.body
        .iter()
        .fold(rule.head.span.to(rule.arrow_span), |span, atom| {
            span.to(atom.span)
        })
}

/// Numbers the rule's variables, interns its constants and checks that it is range
/// restricted (every head variable occurs in the body) with a head free of `_`.
pub fn compile_rule(rule: &Rule, symbols: &mut SymbolTable) -> Result<CompiledRule, SparseError> {
    let text = rule_text(rule);
    let span = rule_span(rule);
    if rule.body.is_empty() {
        return Err(SparseError::EmptyBody { rule: text, span });
    }
    let mut variable_names: Vec<String> = Vec::new();
    let body: Vec<CompiledAtom> = rule
        .body
        .iter()
        .map(|atom| compile_atom(atom, symbols, &mut variable_names))
        .collect();
    let n_body_variables = variable_names.len();
    let head = compile_atom(&rule.head, symbols, &mut variable_names);
    for (slot, term) in head.slots.iter().zip(&rule.head.terms) {
        match *slot {
            Slot::Any => {
                return Err(SparseError::WildcardInHead {
                    rule: text,
                    span: term.span(),
                })
            }
            Slot::Variable(v) if v >= n_body_variables => {
                return Err(SparseError::UnboundHeadVariable {
                    variable: variable_names[v].clone(),
                    rule: text,
                    span: term.span(),
                })
            }
            _ => {}
        }
    }
    Ok(CompiledRule {
        head,
        body,
        variable_names,
        text,
        span,
    })
}

/// An atom whose variables are numbered in `variables` (extended with new names).
pub fn compile_atom(
    atom: &Atom,
    symbols: &mut SymbolTable,
    variables: &mut Vec<String>,
) -> CompiledAtom {
    let slots = atom
        .terms
        .iter()
        .map(|term| match term {
            Term::Variable(name) => {
                let index = match variables.iter().position(|v| *v == name.text) {
                    Some(index) => index,
                    None => {
                        variables.push(name.text.clone());
                        variables.len() - 1
                    }
                };
                Slot::Variable(index)
            }
            Term::Constant(name) => Slot::Constant(symbols.intern(&name.text)),
            Term::Wildcard(_) => Slot::Any,
        })
        .collect();
    CompiledAtom {
        relation: atom.relation.text.clone(),
        slots,
        span: atom.span,
    }
}

/// The symbol ids of a ground atom (a fact), interning them.
pub fn compile_fact(atom: &Atom, symbols: &mut SymbolTable) -> Result<Vec<u32>, SparseError> {
    atom.terms
        .iter()
        .map(|term| match term {
            Term::Constant(name) => Ok(symbols.intern(&name.text)),
            Term::Variable(name) => Err(SparseError::FactWithVariable {
                fact: format!("{atom}."),
                variable: name.text.clone(),
                span: name.span,
            }),
            Term::Wildcard(span) => Err(SparseError::FactWithWildcard {
                fact: format!("{atom}."),
                span: *span,
            }),
        })
        .collect()
}
