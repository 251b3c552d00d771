//! Which names are bound where: a walk over statements that keeps track of `let`, `for` and
//! function-parameter bindings, for the passes that read index expressions.

use super::Globals;
use crate::ast::*;
use crate::index_form::IndexScope;
use std::collections::HashSet;

pub(crate) struct ScopeChain<'a> {
    pub globals: &'a Globals,
    frames: Vec<HashSet<String>>,
    /// Whether the walk is inside a function body.
    pub in_function: bool,
}

impl IndexScope for ScopeChain<'_> {
    fn constant(&self, name: &str) -> Option<f64> {
        if self.frames.iter().any(|frame| frame.contains(name)) {
            return None;
        }
        self.globals.constants.get(name).copied()
    }

    fn is_bound(&self, name: &str) -> bool {
        self.frames.iter().any(|frame| frame.contains(name)) || self.globals.lets.contains(name)
    }

    fn is_symbol(&self, name: &str) -> bool {
        self.globals.symbols.contains(name)
    }
}

/// Calls `visit` on every statement, inner statements included, with the bindings in force
/// where it stands.
pub(crate) fn walk<'p>(
    statements: &'p [Stmt],
    globals: &Globals,
    visit: &mut dyn FnMut(&'p Stmt, &ScopeChain),
) {
    let mut chain = ScopeChain {
        globals,
        frames: Vec::new(),
        in_function: false,
    };
    walk_statements(statements, &mut chain, visit);
}

fn walk_statements<'p>(
    statements: &'p [Stmt],
    chain: &mut ScopeChain,
    visit: &mut dyn FnMut(&'p Stmt, &ScopeChain),
) {
    for statement in statements {
        visit(statement, chain);
        match &statement.kind {
            StmtKind::Let { name, .. } => {
                if let Some(frame) = chain.frames.last_mut() {
                    frame.insert(name.text.clone());
                }
            }
            StmtKind::Function(function) => {
                let outer = std::mem::replace(&mut chain.in_function, true);
                chain
                    .frames
                    .push(function.params.iter().map(|p| p.text.clone()).collect());
                walk_statements(&function.body.statements, chain, visit);
                chain.frames.pop();
                chain.in_function = outer;
            }
            StmtKind::For { variable, body, .. } => {
                chain.frames.push(HashSet::from([variable.text.clone()]));
                walk_statements(&body.statements, chain, visit);
                chain.frames.pop();
            }
            StmtKind::While { body, .. } => {
                chain.frames.push(HashSet::new());
                walk_statements(&body.statements, chain, visit);
                chain.frames.pop();
            }
            StmtKind::If(if_statement) => walk_if(if_statement, chain, visit),
            _ => {}
        }
    }
}

fn walk_if<'p>(
    if_statement: &'p If,
    chain: &mut ScopeChain,
    visit: &mut dyn FnMut(&'p Stmt, &ScopeChain),
) {
    chain.frames.push(HashSet::new());
    walk_statements(&if_statement.then_block.statements, chain, visit);
    chain.frames.pop();
    if let Some(else_block) = &if_statement.else_block {
        chain.frames.push(HashSet::new());
        walk_statements(&else_block.statements, chain, visit);
        chain.frames.pop();
    }
}
