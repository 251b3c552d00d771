//! Checking a parsed program before it runs: names, calls, index forms, and the ranges of
//! indices and shapes of tensors, inferred across all top-level equations.
//!
//! The passes, in order: [`globals`] collects what the program defines; [`names`] resolves
//! every name and call against scopes; [`forms`] checks each equation's index expressions,
//! slices and normalisation dots; [`shapes`] turns top-level statements into constraints
//! between tensor axes; [`solve`] solves them (union–find) and infers Datalog domains.

pub(crate) mod forms;
mod globals;
pub(crate) mod names;
mod scope;
mod shapes;
mod solve;

use crate::ast::Program;
use crate::diagnostic::Diagnostic;
use crate::environment::{Environment, TensorInfo};
use std::collections::{BTreeMap, BTreeSet};
use tl_tensor::DType;

pub(crate) use globals::Globals;

/// Where a global tensor comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The left-hand side of top-level equations (or a top-level `let`).
    Equation,
    /// A `param` declaration.
    Param,
    /// Datalog facts and rules.
    Relation,
    /// Supplied by the host through the [`Environment`].
    Host,
}

/// What checking learned about one global tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorFacts {
    pub origin: Origin,
    /// Number of axes, when known.
    pub rank: Option<usize>,
    /// Each axis's size, where inferred.
    pub sizes: Vec<Option<usize>>,
    /// For each axis, the symbol domain it ranges over (an index into
    /// [`Checked::domains`]), for relations and tensors indexed by symbols.
    pub domains: Vec<Option<usize>>,
}

impl TensorFacts {
    /// The full shape, when every axis's size is known.
    pub fn shape(&self) -> Option<Vec<usize>> {
        let rank = self.rank?;
        if self.sizes.len() != rank {
            return None;
        }
        self.sizes.iter().copied().collect()
    }
}

/// A set of symbols one or more relation positions range over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Domain {
    /// The declared name, or `Relation.position` for a domain inferred from facts.
    pub name: String,
    /// In declaration order, or in order of first appearance; a symbol's position is its
    /// index along the axis.
    pub symbols: Vec<String>,
    pub declared: bool,
}

/// The result of checking: all diagnostics, and what was inferred for planning.
#[derive(Clone, Debug, Default)]
pub struct Checked {
    pub diagnostics: Vec<Diagnostic>,
    pub tensors: BTreeMap<String, TensorFacts>,
    pub domains: Vec<Domain>,
    /// Top-level `let` bindings whose values are numbers known before running.
    pub constants: BTreeMap<String, f64>,
    /// Ground facts of each relation, as positions along its axes.
    pub facts: BTreeMap<String, Vec<Vec<usize>>>,
    /// Top-level `let` names whose values are known only at run time.
    pub runtime_names: BTreeSet<String>,
    /// Every Datalog symbol of the program.
    pub symbols: BTreeSet<String>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.is_error())
    }

    /// Shape and dtype of a global tensor when fully known. Relations hold 0/1 in f32 so
    /// that their joins run as matrix products.
    pub fn tensor_info(&self, name: &str) -> Option<TensorInfo> {
        let facts = self.tensors.get(name)?;
        Some(TensorInfo::new(&facts.shape()?, DType::F32))
    }

    /// The position of `symbol` along `axis` of `tensor`.
    pub fn symbol_position(&self, tensor: &str, axis: usize, symbol: &str) -> Option<usize> {
        let domain = (*self.tensors.get(tensor)?.domains.get(axis)?)?;
        self.domains[domain]
            .symbols
            .iter()
            .position(|s| s == symbol)
    }
}

/// Checks `program`; `environment` answers for host tensors and `load(...)` shapes.
pub fn check(program: &Program, environment: &dyn Environment) -> Checked {
    let mut diagnostics = Vec::new();
    let globals = globals::collect(program, &mut diagnostics);
    names::resolve(program, &globals, environment, &mut diagnostics);
    forms::check(program, &globals, &mut diagnostics);
    let constraints = shapes::collect(program, &globals, environment, &mut diagnostics);
    let solution = solve::solve(&constraints, &globals, &mut diagnostics);
    let mut checked = Checked {
        diagnostics,
        constants: globals.constants.clone().into_iter().collect(),
        runtime_names: globals
            .lets
            .iter()
            .filter(|name| !globals.constants.contains_key(*name))
            .cloned()
            .collect(),
        symbols: globals.symbols.iter().cloned().collect(),
        ..Checked::default()
    };
    solution.fill(&constraints, &globals, &mut checked);
    // One problem found by two passes is reported once.
    let mut seen = std::collections::HashSet::new();
    checked
        .diagnostics
        .retain(|d| seen.insert((d.code, d.primary_span(), d.message.clone())));
    checked
}
