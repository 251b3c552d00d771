//! The first pass: what a program defines at top level (tensors, parameters, relations,
//! functions, domains, `let` constants) and every Datalog symbol it mentions.

use crate::ast::*;
use crate::builtins;
use crate::codes;
use crate::constant;
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use std::collections::{HashMap, HashSet};

#[derive(Debug, Default)]
pub(crate) struct Globals {
    /// Tensors defined by top-level equations and `let`s, with their first definition.
    pub tensors: HashMap<String, Span>,
    pub params: HashMap<String, Span>,
    /// Relations defined by facts or rule heads.
    pub relations: HashMap<String, Span>,
    /// User functions: number of parameters and the name's span.
    pub functions: HashMap<String, (usize, Span)>,
    /// Declared domains: their symbols and the name's span.
    pub domains: HashMap<String, (Vec<Name>, Span)>,
    /// Every constant symbol of facts, rules, queries and domains.
    pub symbols: HashSet<String>,
    /// Names bound by top-level `let`.
    pub lets: HashSet<String>,
    /// The `let`s whose values are constant numbers.
    pub constants: HashMap<String, f64>,
}

impl Globals {
    /// Whether `name` is a tensor or relation defined anywhere at top level.
    pub fn defines_value(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
            || self.params.contains_key(name)
            || self.relations.contains_key(name)
            || self.lets.contains(name)
    }
}

pub(crate) fn collect(program: &Program, diagnostics: &mut Vec<Diagnostic>) -> Globals {
    let mut globals = Globals::default();
    collect_statements(&program.statements, &mut globals, diagnostics);
    globals
}

fn duplicate(what: &str, name: &Name, first: Span) -> Diagnostic {
    Diagnostic::error(
        codes::DUPLICATE_DEFINITION,
        format!("{what} `{}` is defined twice", name.text),
        name.span,
        "defined again here",
    )
    .with_secondary(first, "first defined here")
}

fn collect_statements(
    statements: &[Stmt],
    globals: &mut Globals,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for statement in statements {
        match &statement.kind {
            StmtKind::Equation(eq) => {
                globals
                    .tensors
                    .entry(eq.lhs.name.joined())
                    .or_insert(eq.lhs.name.span);
            }
            StmtKind::Let { name, value } => {
                globals.lets.insert(name.text.clone());
                let known = |n: &str| globals.constants.get(n).copied();
                match constant::evaluate(value, &known) {
                    Some(v) => {
                        globals.constants.insert(name.text.clone(), v);
                    }
                    None => {
                        // Rebinding to a non-constant hides an earlier constant.
                        globals.constants.remove(&name.text);
                    }
                }
            }
            StmtKind::Param(param) => {
                if let Some(first) = globals.params.get(&param.name.text) {
                    diagnostics.push(duplicate("parameter", &param.name, *first));
                } else {
                    globals
                        .params
                        .insert(param.name.text.clone(), param.name.span);
                }
            }
            StmtKind::Fact(atom) => {
                globals
                    .relations
                    .entry(atom.relation.text.clone())
                    .or_insert(atom.relation.span);
                add_symbols(atom, globals);
            }
            StmtKind::Rule(rule) => {
                globals
                    .relations
                    .entry(rule.head.relation.text.clone())
                    .or_insert(rule.head.relation.span);
                add_symbols(&rule.head, globals);
                for atom in &rule.body {
                    add_symbols(atom, globals);
                }
            }
            StmtKind::Query(Query::Atom(atom)) => add_symbols(atom, globals),
            StmtKind::Domain(domain) => {
                if let Some((_, first)) = globals.domains.get(&domain.name.text) {
                    diagnostics.push(duplicate("domain", &domain.name, *first));
                } else {
                    for symbol in &domain.symbols {
                        globals.symbols.insert(symbol.text.clone());
                    }
                    globals.domains.insert(
                        domain.name.text.clone(),
                        (domain.symbols.clone(), domain.name.span),
                    );
                }
            }
            StmtKind::Function(function) => {
                if builtins::lookup(&function.name.text).is_some() {
                    diagnostics.push(
                        Diagnostic::error(
                            codes::DUPLICATE_DEFINITION,
                            format!("`{}` is a builtin function", function.name.text),
                            function.name.span,
                            "this would hide the builtin",
                        )
                        .with_help("choose another name"),
                    );
                } else if let Some((_, first)) = globals.functions.get(&function.name.text) {
                    diagnostics.push(duplicate("function", &function.name, *first));
                } else {
                    globals.functions.insert(
                        function.name.text.clone(),
                        (function.params.len(), function.name.span),
                    );
                }
            }
            // Top-level control flow runs once, in order: what it defines is global.
            StmtKind::If(if_statement) => collect_if(if_statement, globals, diagnostics),
            StmtKind::For { body, .. } | StmtKind::While { body, .. } => {
                collect_statements(&body.statements, globals, diagnostics)
            }
            StmtKind::Query(Query::Tensor(_)) | StmtKind::Minimize(_) => {}
            StmtKind::Return(_) | StmtKind::Expr(_) => {}
        }
    }
}

fn collect_if(if_statement: &If, globals: &mut Globals, diagnostics: &mut Vec<Diagnostic>) {
    collect_statements(&if_statement.then_block.statements, globals, diagnostics);
    if let Some(else_block) = &if_statement.else_block {
        collect_statements(&else_block.statements, globals, diagnostics);
    }
}

fn add_symbols(atom: &Atom, globals: &mut Globals) {
    for term in &atom.terms {
        if let Term::Constant(name) = term {
            globals.symbols.insert(name.text.clone());
        }
    }
}
