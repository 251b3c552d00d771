//! Turns the top-level statements into constraints between tensor axes: "axis 1 of `W` and
//! axis 0 of `X` have one size (index `j` joins them)", "axis 0 of `W` has size 4 (this
//! literal)", "this position holds the symbol `Alice`". [`super::solve`] solves them.
//!
//! Function bodies are not constrained here: their shapes depend on the arguments of each
//! call and are checked when the planner sees them.

use super::forms::{is_indexed, visit_tensor_refs};
use super::scope::{walk, ScopeChain};
use super::{Globals, Origin};
use crate::ast::*;
use crate::builtins::{self, BuiltinKind};
use crate::codes;
use crate::constant;
use crate::diagnostic::Diagnostic;
use crate::environment::Environment;
use crate::index_form::{classify, IndexForm, IndexScope};
use crate::span::Span;
use std::collections::{HashMap, HashSet};

pub(crate) type Node = usize;

/// Two nodes have one size; `what` describes `b` for messages ("axis 0 of `X`").
#[derive(Debug)]
pub(crate) struct Link {
    pub a: Node,
    pub b: Node,
    pub span: Span,
    pub var: Option<String>,
    pub what: String,
}

/// A node's size is known; `label` says where from, as a label message.
#[derive(Debug)]
pub(crate) struct SizeFact {
    pub node: Node,
    pub size: usize,
    pub span: Span,
    pub label: String,
}

/// Sizes that follow from others by index arithmetic or slicing.
#[derive(Debug)]
pub(crate) enum Derived {
    /// `Pool[x/2]`: the slot is the variable's range divided by `factor`.
    Pool {
        slot: Node,
        var: Node,
        factor: usize,
        span: Span,
    },
    /// `X[x/2]` on the right: a variable seen only this way ranges over `factor` × the slot.
    Repeat {
        var: Node,
        slot: Node,
        factor: usize,
    },
    /// `X[t+1]` on the right: a variable seen only shifted ranges over the slot.
    Shifted { var: Node, slot: Node },
    /// `X[s:]`: the slice is the slot minus `start`.
    SliceFrom {
        out: Node,
        slot: Node,
        start: usize,
        span: Span,
    },
}

/// A constant position that must lie inside an axis.
#[derive(Debug)]
pub(crate) struct Bound {
    pub slot: Node,
    pub position: i64,
    pub span: Span,
    pub what: String,
}

/// A node whose size must be inferred, or the program is in error.
#[derive(Debug)]
pub(crate) struct Need {
    pub node: Node,
    pub span: Span,
    pub what: String,
}

#[derive(Debug, Default)]
pub(crate) struct Constraints {
    pub node_count: usize,
    pub slots: HashMap<(String, usize), Node>,
    /// Each tensor's rank and the span that first showed it.
    pub ranks: HashMap<String, (usize, Span)>,
    pub origins: HashMap<String, Origin>,
    /// Tensors whose shapes are decided at run time (opaque loads, function results).
    pub opaque: HashSet<String>,
    pub links: Vec<Link>,
    pub sizes: Vec<SizeFact>,
    /// `(node, symbol, span)`: the symbol occurs at this relation position.
    pub symbols: Vec<(Node, String, Span)>,
    /// `(node, domain, span)`: a parameter axis declared over a domain.
    pub domain_members: Vec<(Node, String, Span)>,
    pub derived: Vec<Derived>,
    pub bounds: Vec<Bound>,
    pub needs: Vec<Need>,
    /// Losses of `minimize`, which must be scalars.
    pub scalar_targets: Vec<(String, Span)>,
    /// Tensors used bare in indexed equations, which must be scalars.
    pub bare_uses: Vec<(String, Span)>,
    /// Ground facts as symbols, by relation.
    pub facts: Vec<(String, Vec<String>)>,
}

impl Constraints {
    pub fn node(&mut self) -> Node {
        self.node_count += 1;
        self.node_count - 1
    }

    pub fn slot(&mut self, tensor: &str, axis: usize) -> Node {
        if let Some(&node) = self.slots.get(&(tensor.to_string(), axis)) {
            return node;
        }
        let node = self.node();
        self.slots.insert((tensor.to_string(), axis), node);
        node
    }

    /// The tensor and axis a node stands for, if it is a slot.
    pub fn slot_of(&self, node: Node) -> Option<(&str, usize)> {
        self.slots
            .iter()
            .find(|(_, &n)| n == node)
            .map(|((t, a), _)| (t.as_str(), *a))
    }
}

/// Whole-tensor shapes of expressions without index variables.
#[derive(Clone, Debug)]
enum Shape {
    Scalar,
    Axes(Vec<Node>),
    /// Known only at run time.
    Opaque,
}

/// A whole-tensor expression mentions a tensor whose rank is not known yet.
struct Deferred;

pub(crate) fn collect(
    program: &Program,
    globals: &Globals,
    environment: &dyn Environment,
    diagnostics: &mut Vec<Diagnostic>,
) -> Constraints {
    let mut collector = Collector {
        c: Constraints::default(),
        environment,
        diagnostics,
        seeded: HashSet::new(),
    };
    let mut deferred: Vec<(TensorRef, &Expr, Vec<String>)> = Vec::new();
    walk(&program.statements, globals, &mut |statement, scope| {
        if scope.in_function {
            return;
        }
        match &statement.kind {
            StmtKind::Equation(eq) if is_indexed(eq, scope) => {
                collector.indexed_equation(eq, scope)
            }
            StmtKind::Equation(eq)
                if collector.whole_equation(&eq.lhs, &eq.rhs, scope).is_err() =>
            {
                deferred.push((eq.lhs.clone(), &eq.rhs, bound_names(scope, &eq.rhs)));
            }
            StmtKind::Param(param) => collector.param(param, scope),
            StmtKind::Fact(atom) => collector.fact(atom),
            StmtKind::Rule(rule) => {
                let mut vars = HashMap::new();
                collector.atom(&rule.head, &mut vars);
                for atom in &rule.body {
                    collector.atom(atom, &mut vars);
                }
            }
            StmtKind::Query(Query::Atom(atom)) => collector.atom(atom, &mut HashMap::new()),
            StmtKind::Query(Query::Tensor(tensor)) => collector.query(tensor, scope),
            StmtKind::Minimize(minimize) => collector
                .c
                .scalar_targets
                .push((minimize.target.text.clone(), minimize.target.span)),
            _ => {}
        }
        if let StmtKind::Let { name, value } = &statement.kind {
            let target = TensorRef {
                name: Path {
                    segments: vec![name.clone()],
                    span: name.span,
                },
                indices: None,
                span: name.span,
            };
            if collector.whole_let(&target, value, scope).is_err() {
                deferred.push((target, value, bound_names(scope, value)));
            }
        }
    });
    // Whole-tensor equations that mention tensors defined further down.
    let mut progress = true;
    while progress && !deferred.is_empty() {
        progress = false;
        let mut still = Vec::new();
        for (lhs, rhs, bound) in deferred {
            let scope = FixedScope {
                globals,
                bound: &bound,
            };
            if collector.whole_equation(&lhs, rhs, &scope).is_ok() {
                progress = true;
            } else {
                still.push((lhs, rhs, bound));
            }
        }
        deferred = still;
    }
    for (lhs, _, _) in deferred {
        collector.c.opaque.insert(lhs.name.joined());
    }
    collector.c
}

/// Calls `visit` on every bare name inside an index expression.
fn visit_names(expr: &Expr, visit: &mut dyn FnMut(&str)) {
    match &expr.kind {
        ExprKind::Tensor(TensorRef {
            name,
            indices: None,
            ..
        }) => visit(&name.joined()),
        ExprKind::Paren(inner) | ExprKind::Unary { operand: inner, .. } => {
            visit_names(inner, visit)
        }
        ExprKind::Binary { lhs, rhs, .. } => {
            visit_names(lhs, visit);
            visit_names(rhs, visit);
        }
        ExprKind::Join(items) | ExprKind::List(items) => {
            for item in items {
                visit_names(item, visit);
            }
        }
        ExprKind::Call(call) => {
            for arg in &call.args {
                visit_names(&arg.value, visit);
            }
        }
        _ => {}
    }
}

/// The run-time variables bound where an equation stands, kept for a later retry.
fn bound_names(scope: &ScopeChain, expr: &Expr) -> Vec<String> {
    let mut names = Vec::new();
    visit_tensor_refs(expr, &mut |tensor, _| {
        if let Some(name) = tensor.name.simple() {
            if scope.is_bound(&name.text) {
                names.push(name.text.clone());
            }
        }
    });
    names
}

/// A scope rebuilt for a deferred equation: the globals plus the names bound around it.
struct FixedScope<'a> {
    globals: &'a Globals,
    bound: &'a [String],
}

impl IndexScope for FixedScope<'_> {
    fn constant(&self, name: &str) -> Option<f64> {
        if self.bound.iter().any(|b| b == name) {
            return None;
        }
        self.globals.constants.get(name).copied()
    }

    fn is_bound(&self, name: &str) -> bool {
        self.bound.iter().any(|b| b == name) || self.globals.lets.contains(name)
    }

    fn is_symbol(&self, name: &str) -> bool {
        self.globals.symbols.contains(name)
    }
}

struct Collector<'a> {
    c: Constraints,
    environment: &'a dyn Environment,
    diagnostics: &'a mut Vec<Diagnostic>,
    /// Host tensors whose shapes have been recorded.
    seeded: HashSet<String>,
}

fn describe_shape(shape: &[usize]) -> String {
    if shape.is_empty() {
        return "a scalar".into();
    }
    shape
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(" × ")
}

impl Collector<'_> {
    /// Records the rank of `tensor`, or reports that it differs from an earlier use.
    fn rank(&mut self, tensor: &str, rank: usize, span: Span) -> bool {
        self.seed_host(tensor, span);
        match self.c.ranks.get(tensor) {
            Some(&(known, first)) if known != rank => {
                let plural = |n: usize| if n == 1 { "index" } else { "indices" };
                self.diagnostics.push(
                    Diagnostic::error(
                        codes::RANK_MISMATCH,
                        format!(
                            "`{tensor}` is used with {rank} {} here but {known} elsewhere",
                            plural(rank)
                        ),
                        span,
                        format!("{rank} {}", plural(rank)),
                    )
                    .with_secondary(first, format!("{known} {}", plural(known)))
                    .with_help(
                        "a tensor has one number of axes; give every use of it that many indices",
                    ),
                );
                false
            }
            Some(_) => true,
            None => {
                self.c.ranks.insert(tensor.to_string(), (rank, span));
                true
            }
        }
    }

    /// The first time a host tensor is met, its shape becomes a fact.
    fn seed_host(&mut self, tensor: &str, span: Span) {
        if self.seeded.contains(tensor) {
            return;
        }
        self.seeded.insert(tensor.to_string());
        let Some(info) = self.environment.tensor(tensor) else {
            return;
        };
        self.c
            .origins
            .entry(tensor.to_string())
            .or_insert(Origin::Host);
        self.c
            .ranks
            .entry(tensor.to_string())
            .or_insert((info.rank(), span));
        for (axis, &size) in info.shape.iter().enumerate() {
            let node = self.c.slot(tensor, axis);
            self.c.sizes.push(SizeFact {
                node,
                size,
                span,
                label: format!(
                    "`{tensor}` is {} (given by the host)",
                    describe_shape(&info.shape)
                ),
            });
        }
    }

    fn known_rank(&mut self, tensor: &str, span: Span) -> Option<usize> {
        self.seed_host(tensor, span);
        self.c.ranks.get(tensor).map(|&(rank, _)| rank)
    }

    fn link(&mut self, a: Node, b: Node, span: Span, var: Option<&str>, what: String) {
        self.c.links.push(Link {
            a,
            b,
            span,
            var: var.map(str::to_string),
            what,
        });
    }

    fn indexed_equation(&mut self, eq: &Equation, scope: &ScopeChain) {
        let lhs_name = eq.lhs.name.joined();
        self.c.origins.entry(lhs_name).or_insert(Origin::Equation);
        let mut vars: HashMap<String, (Node, Span)> = HashMap::new();
        if eq.lhs.indices.is_none() {
            // `Loss avg= …`: everything is projected away.
            self.rank(&eq.lhs.name.joined(), 0, eq.lhs.span);
        }
        self.indexed_ref(&eq.lhs, true, scope, &mut vars);
        let mut refs = Vec::new();
        visit_tensor_refs(&eq.rhs, &mut |tensor, _| refs.push(tensor.clone()));
        for tensor in &refs {
            self.indexed_ref(tensor, false, scope, &mut vars);
        }
        // Variables inside unsupported index arithmetic are reported there already.
        let mut tainted: HashSet<String> = HashSet::new();
        for tensor in std::iter::once(&eq.lhs).chain(refs.iter()) {
            for index in tensor.indices.iter().flat_map(|l| l.items.iter()) {
                if let IndexKind::Expr(expr) = &index.kind {
                    if classify(expr, scope) == IndexForm::Unsupported {
                        visit_names(expr, &mut |name| {
                            tainted.insert(name.to_string());
                        });
                    }
                }
            }
        }
        let mut vars: Vec<_> = vars
            .into_iter()
            .filter(|(var, _)| !tainted.contains(var))
            .collect();
        vars.sort_by_key(|(_, (_, span))| *span);
        for (var, (node, span)) in vars {
            self.c.needs.push(Need {
                node,
                span,
                what: format!("the range of index `{var}`"),
            });
        }
    }

    fn indexed_ref(
        &mut self,
        tensor: &TensorRef,
        is_lhs: bool,
        scope: &ScopeChain,
        vars: &mut HashMap<String, (Node, Span)>,
    ) {
        let name = tensor.name.joined();
        let Some(list) = &tensor.indices else {
            if !is_lhs && !scope.is_bound(&name) && scope.constant(&name).is_none() {
                self.c.bare_uses.push((name, tensor.span));
            }
            return;
        };
        // Fields of run-time values (`w.gate`) have shapes known only at run time.
        if tensor.name.segments.len() > 1 && scope.is_bound(&tensor.name.segments[0].text) {
            return;
        }
        if !self.rank(&name, list.items.len(), list.span) {
            return;
        }
        for (axis, index) in list.items.iter().enumerate() {
            let IndexKind::Expr(expr) = &index.kind else {
                continue;
            };
            let slot = self.c.slot(&name, axis);
            let what = format!("axis {axis} of `{name}`");
            let mut var_node = |c: &mut Constraints, var: &str| {
                vars.entry(var.to_string())
                    .or_insert_with(|| (c.node(), index.span))
                    .0
            };
            match classify(expr, scope) {
                IndexForm::Var(var) => {
                    let node = var_node(&mut self.c, &var);
                    self.link(node, slot, index.span, Some(&var), what);
                }
                IndexForm::Shift { var, .. } => {
                    let node = var_node(&mut self.c, &var);
                    if is_lhs {
                        self.link(node, slot, index.span, Some(&var), what);
                    } else {
                        self.c.derived.push(Derived::Shifted { var: node, slot });
                    }
                }
                IndexForm::Pool { var, factor } => {
                    let node = var_node(&mut self.c, &var);
                    let factor = factor as usize;
                    self.c.derived.push(if is_lhs {
                        Derived::Pool {
                            slot,
                            var: node,
                            factor,
                            span: index.span,
                        }
                    } else {
                        Derived::Repeat {
                            var: node,
                            slot,
                            factor,
                        }
                    });
                }
                IndexForm::Const(position) => self.c.bounds.push(Bound {
                    slot,
                    position,
                    span: index.span,
                    what,
                }),
                IndexForm::Symbol(symbol) => self.c.symbols.push((slot, symbol, index.span)),
                IndexForm::Runtime { .. } | IndexForm::Unsupported => {}
            }
        }
    }

    fn query(&mut self, tensor: &TensorRef, scope: &ScopeChain) {
        // `Y?` prints the whole tensor, whatever its rank.
        if tensor.indices.is_none() {
            return;
        }
        let mut vars = HashMap::new();
        self.indexed_ref(tensor, false, scope, &mut vars);
    }

    fn whole_let(
        &mut self,
        target: &TensorRef,
        value: &Expr,
        scope: &ScopeChain,
    ) -> Result<(), Deferred> {
        self.c
            .origins
            .entry(target.name.joined())
            .or_insert(Origin::Equation);
        self.whole_equation(target, value, scope)
    }

    /// `T = expr` without index variables: shapes combine axis by axis.
    fn whole_equation(
        &mut self,
        lhs: &TensorRef,
        rhs: &Expr,
        scope: &dyn IndexScope,
    ) -> Result<(), Deferred> {
        let shape = self.shape(rhs, scope)?;
        let name = lhs.name.joined();
        self.c
            .origins
            .entry(name.clone())
            .or_insert(Origin::Equation);
        let span = lhs.span;
        match shape {
            Shape::Scalar => {
                self.rank(&name, 0, span);
            }
            Shape::Axes(nodes) => {
                if self.rank(&name, nodes.len(), span) {
                    for (axis, node) in nodes.into_iter().enumerate() {
                        let slot = self.c.slot(&name, axis);
                        self.link(
                            node,
                            slot,
                            rhs.span,
                            None,
                            format!("axis {axis} of the right-hand side"),
                        );
                    }
                }
            }
            Shape::Opaque => {
                self.c.opaque.insert(name);
            }
        }
        Ok(())
    }

    fn shape(&mut self, expr: &Expr, scope: &dyn IndexScope) -> Result<Shape, Deferred> {
        Ok(match &expr.kind {
            ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Bool(_) => Shape::Scalar,
            ExprKind::Str(_) | ExprKind::Error => Shape::Opaque,
            ExprKind::List(_) => self.literal(expr),
            ExprKind::Tensor(tensor) => self.whole_ref(tensor, scope)?,
            ExprKind::Call(call) => self.call_shape(call, scope)?,
            ExprKind::Unary { operand, .. } => self.shape(operand, scope)?,
            ExprKind::Paren(inner) => self.shape(inner, scope)?,
            ExprKind::Binary { lhs, rhs, .. } => {
                let a = self.shape(lhs, scope)?;
                let b = self.shape(rhs, scope)?;
                self.combine(a, b, expr.span)
            }
            ExprKind::Join(factors) => {
                let mut shape = Shape::Scalar;
                for factor in factors {
                    let next = self.shape(factor, scope)?;
                    shape = self.combine(shape, next, expr.span);
                }
                shape
            }
        })
    }

    fn combine(&mut self, a: Shape, b: Shape, span: Span) -> Shape {
        match (a, b) {
            (Shape::Scalar, other) | (other, Shape::Scalar) => other,
            (Shape::Opaque, _) | (_, Shape::Opaque) => Shape::Opaque,
            (Shape::Axes(p), Shape::Axes(q)) => {
                if p.len() != q.len() {
                    self.diagnostics.push(
                        Diagnostic::error(
                            codes::SHAPE_MISMATCH,
                            format!(
                                "whole tensors of rank {} and {} cannot be combined",
                                p.len(),
                                q.len()
                            ),
                            span,
                            "combined here",
                        )
                        .with_help("combine tensors of different ranks with index notation: `Y[i, j] = A[i, j] + B[j]`"),
                    );
                    return Shape::Opaque;
                }
                for (axis, (&x, &y)) in p.iter().zip(&q).enumerate() {
                    self.link(
                        x,
                        y,
                        span,
                        None,
                        format!("axis {axis} of the right operand"),
                    );
                }
                Shape::Axes(p)
            }
        }
    }

    /// The dimensions of a nested list literal, each a fresh node of known size.
    fn literal(&mut self, expr: &Expr) -> Shape {
        fn dims(expr: &Expr, out: &mut Vec<Result<Vec<usize>, Span>>) -> Option<Vec<usize>> {
            match &expr.kind {
                ExprKind::List(items) => {
                    let mut inner: Option<Vec<usize>> = None;
                    for item in items {
                        let d = dims(item, out)?;
                        match &inner {
                            None => inner = Some(d),
                            Some(first) if *first != d => {
                                out.push(Err(item.span));
                                return None;
                            }
                            _ => {}
                        }
                    }
                    let mut shape = vec![items.len()];
                    shape.extend(inner.unwrap_or_default());
                    Some(shape)
                }
                ExprKind::Paren(inner) => dims(inner, out),
                _ => Some(Vec::new()),
            }
        }
        let mut problems = Vec::new();
        let Some(shape) = dims(expr, &mut problems) else {
            if let Some(Err(span)) = problems.first() {
                self.diagnostics.push(
                    Diagnostic::error(
                        codes::SHAPE_MISMATCH,
                        "the rows of a list literal have different shapes",
                        *span,
                        "this row differs from the first",
                    )
                    .with_secondary(expr.span, "in this literal")
                    .with_help("every row of a literal needs the same length"),
                );
            }
            return Shape::Opaque;
        };
        let nodes = shape
            .iter()
            .enumerate()
            .map(|(axis, &size)| {
                let node = self.c.node();
                self.c.sizes.push(SizeFact {
                    node,
                    size,
                    span: expr.span,
                    label: format!("axis {axis} of this literal has size {size}"),
                });
                node
            })
            .collect();
        Shape::Axes(nodes)
    }

    fn whole_ref(&mut self, tensor: &TensorRef, scope: &dyn IndexScope) -> Result<Shape, Deferred> {
        let name = tensor.name.joined();
        if tensor.name.segments.len() > 1 && scope.is_bound(&tensor.name.segments[0].text) {
            return Ok(Shape::Opaque);
        }
        if self.c.opaque.contains(&name) {
            return Ok(Shape::Opaque);
        }
        if scope.constant(&name).is_some() {
            return Ok(Shape::Scalar);
        }
        let Some(rank) = self.known_rank(&name, tensor.span) else {
            return Err(Deferred);
        };
        let items: &[Index] = tensor
            .indices
            .as_ref()
            .map(|l| l.items.as_slice())
            .unwrap_or(&[]);
        if items.len() > rank {
            let span = tensor
                .indices
                .as_ref()
                .map(|l| l.span)
                .unwrap_or(tensor.span);
            let first = self.c.ranks.get(&name).map(|&(_, s)| s).unwrap_or(span);
            self.diagnostics.push(
                Diagnostic::error(
                    codes::RANK_MISMATCH,
                    format!(
                        "`{name}` has {rank} axes but {} positions are given",
                        items.len()
                    ),
                    span,
                    format!("{} positions", items.len()),
                )
                .with_secondary(first, format!("{rank} axes")),
            );
            return Ok(Shape::Opaque);
        }
        let mut axes = Vec::new();
        for axis in 0..rank {
            let slot = self.c.slot(&name, axis);
            let Some(index) = items.get(axis) else {
                axes.push(slot);
                continue;
            };
            let what = format!("axis {axis} of `{name}`");
            match &index.kind {
                IndexKind::Slice { start, end } => {
                    let value = |e: &Option<Expr>| {
                        e.as_ref()
                            .map(|e| constant::evaluate_integer(e, &|n| scope.constant(n)))
                    };
                    let (start_value, end_value) = (value(start), value(end));
                    let start_value = match start_value {
                        None => 0,
                        Some(Some(v)) => v,
                        Some(None) => return Ok(Shape::Opaque),
                    };
                    let out = self.c.node();
                    match end_value {
                        None => {
                            if start_value < 0 {
                                self.slice_error(index.span, "a slice cannot start before 0");
                                return Ok(Shape::Opaque);
                            }
                            self.c.derived.push(Derived::SliceFrom {
                                out,
                                slot,
                                start: start_value as usize,
                                span: index.span,
                            });
                        }
                        Some(None) => return Ok(Shape::Opaque),
                        Some(Some(end_value)) => {
                            if start_value < 0 || end_value < start_value {
                                self.slice_error(index.span, "a slice runs from its start up to an end that is not before it");
                                return Ok(Shape::Opaque);
                            }
                            let length = (end_value - start_value) as usize;
                            self.c.sizes.push(SizeFact {
                                node: out,
                                size: length,
                                span: index.span,
                                label: format!("this slice has length {length}"),
                            });
                            if end_value > 0 {
                                self.c.bounds.push(Bound {
                                    slot,
                                    position: end_value - 1,
                                    span: index.span,
                                    what,
                                });
                            }
                        }
                    }
                    axes.push(out);
                }
                IndexKind::Expr(expr) => match classify(expr, scope) {
                    IndexForm::Const(position) => self.c.bounds.push(Bound {
                        slot,
                        position,
                        span: index.span,
                        what,
                    }),
                    IndexForm::Symbol(symbol) => self.c.symbols.push((slot, symbol, index.span)),
                    _ => {}
                },
            }
        }
        Ok(if axes.is_empty() {
            Shape::Scalar
        } else {
            Shape::Axes(axes)
        })
    }

    fn slice_error(&mut self, span: Span, message: &str) {
        self.diagnostics.push(
            Diagnostic::error(
                codes::INDEX_OUT_OF_RANGE,
                "empty or reversed slice",
                span,
                message,
            )
            .with_help("write `start:end` with 0 ≤ start ≤ end"),
        );
    }

    fn call_shape(&mut self, call: &Call, scope: &dyn IndexScope) -> Result<Shape, Deferred> {
        let Some(builtin) = builtins::lookup(&call.callee.text) else {
            return Ok(Shape::Opaque);
        };
        let Ok(bound) = builtins::bind(builtin, call) else {
            return Ok(Shape::Opaque);
        };
        Ok(match builtin.kind {
            BuiltinKind::Elementwise(_)
            | BuiltinKind::Normalize { .. }
            | BuiltinKind::RmsNorm
            | BuiltinKind::LayerNorm => match bound.args[0] {
                Some(x) => self.shape(x, scope)?,
                None => Shape::Opaque,
            },
            BuiltinKind::Pairwise(_) => match (bound.args[0], bound.args[1]) {
                (Some(a), Some(b)) => {
                    let a = self.shape(a, scope)?;
                    let b = self.shape(b, scope)?;
                    self.combine(a, b, call.args_span)
                }
                _ => Shape::Opaque,
            },
            BuiltinKind::Load => self.load_shape(&bound, call),
            BuiltinKind::Init(_) | BuiltinKind::Optimizer(_) | BuiltinKind::Output(_) => {
                Shape::Opaque
            }
        })
    }

    fn load_shape(&mut self, bound: &builtins::BoundArgs, call: &Call) -> Shape {
        let text = |e: Option<&Expr>| match e.map(|e| &e.kind) {
            Some(ExprKind::Str(s)) => Some(s.clone()),
            _ => None,
        };
        let Some(path) = text(bound.get("path")) else {
            return Shape::Opaque;
        };
        let name = text(bound.get("name"));
        let Some(info) = self.environment.load(&path, name.as_deref()) else {
            return Shape::Opaque;
        };
        let span = call.callee.span.to(call.args_span);
        let nodes: Vec<Node> = info
            .shape
            .iter()
            .map(|&size| {
                let node = self.c.node();
                self.c.sizes.push(SizeFact {
                    node,
                    size,
                    span,
                    label: format!(
                        "the loaded tensor is {} (as the host reads it)",
                        describe_shape(&info.shape)
                    ),
                });
                node
            })
            .collect();
        if nodes.is_empty() {
            Shape::Scalar
        } else {
            Shape::Axes(nodes)
        }
    }

    fn param(&mut self, param: &ParamDecl, scope: &ScopeChain) {
        let name = param.name.text.clone();
        self.c.origins.insert(name.clone(), Origin::Param);
        let rank_span = if param.indices.is_empty() {
            param.name.span
        } else {
            param.indices_span
        };
        let init_shape = match &param.init.kind {
            ExprKind::List(_) => Some(self.literal(&param.init)),
            ExprKind::Call(call) if call.callee.text == "load" => self.call_shape(call, scope).ok(),
            _ => None,
        };
        if param.indices.is_empty() {
            match init_shape {
                Some(Shape::Axes(nodes)) => {
                    self.rank(&name, nodes.len(), param.init.span);
                    for (axis, node) in nodes.into_iter().enumerate() {
                        let slot = self.c.slot(&name, axis);
                        self.link(
                            node,
                            slot,
                            param.init.span,
                            None,
                            format!("axis {axis} of `{name}`"),
                        );
                    }
                }
                Some(Shape::Opaque) => {
                    self.c.opaque.insert(name);
                }
                _ => {
                    self.rank(&name, 0, rank_span);
                }
            }
            return;
        }
        if !self.rank(&name, param.indices.len(), rank_span) {
            return;
        }
        for (axis, index) in param.indices.iter().enumerate() {
            let slot = self.c.slot(&name, axis);
            match &index.size {
                Some(size) => {
                    if let Some(domain) = crate::index_form::bare_name(size)
                        .filter(|n| scope.globals.domains.contains_key(*n))
                    {
                        self.c
                            .domain_members
                            .push((slot, domain.to_string(), size.span));
                    } else if let Some(value) =
                        constant::evaluate_integer(size, &|n| scope.constant(n)).filter(|&v| v > 0)
                    {
                        self.c.sizes.push(SizeFact {
                            node: slot,
                            size: value as usize,
                            span: size.span,
                            label: format!("declared with size {value}"),
                        });
                    }
                }
                None if super::names::is_initialiser(&param.init, scope.globals) => {
                    self.c.needs.push(Need {
                        node: slot,
                        span: index.name.span,
                        what: format!(
                            "the size of axis `{}` of parameter `{name}`",
                            index.name.text
                        ),
                    })
                }
                None => {}
            }
        }
        match init_shape {
            Some(Shape::Axes(nodes)) if nodes.len() == param.indices.len() => {
                for (axis, node) in nodes.into_iter().enumerate() {
                    let slot = self.c.slot(&name, axis);
                    self.link(
                        node,
                        slot,
                        param.init.span,
                        None,
                        format!("axis {axis} of `{name}`"),
                    );
                }
            }
            Some(Shape::Axes(nodes)) => self.diagnostics.push(
                Diagnostic::error(
                    codes::SHAPE_MISMATCH,
                    format!(
                        "parameter `{name}` has {} axes but its initial value has {}",
                        param.indices.len(),
                        nodes.len()
                    ),
                    param.init.span,
                    format!("{} axes", nodes.len()),
                )
                .with_secondary(param.indices_span, format!("{} axes", param.indices.len())),
            ),
            _ => {}
        }
    }

    fn fact(&mut self, atom: &Atom) {
        let relation = atom.relation.text.clone();
        self.c
            .origins
            .entry(relation.clone())
            .or_insert(Origin::Relation);
        if !self.rank(&relation, atom.terms.len(), atom.span) {
            return;
        }
        let mut symbols = Vec::new();
        for (axis, term) in atom.terms.iter().enumerate() {
            if let Term::Constant(name) = term {
                let slot = self.c.slot(&relation, axis);
                self.c.symbols.push((slot, name.text.clone(), name.span));
                symbols.push(name.text.clone());
            }
        }
        if symbols.len() == atom.terms.len() {
            self.c.facts.push((relation, symbols));
        }
    }

    /// A rule's or query's atom: variables shared within the rule join positions.
    fn atom(&mut self, atom: &Atom, vars: &mut HashMap<String, Node>) {
        let relation = atom.relation.text.clone();
        self.c
            .origins
            .entry(relation.clone())
            .or_insert(Origin::Relation);
        if !self.rank(&relation, atom.terms.len(), atom.span) {
            return;
        }
        for (axis, term) in atom.terms.iter().enumerate() {
            let slot = self.c.slot(&relation, axis);
            match term {
                Term::Constant(name) => self.c.symbols.push((slot, name.text.clone(), name.span)),
                Term::Variable(name) => {
                    let node = *vars
                        .entry(name.text.clone())
                        .or_insert_with(|| self.c.node());
                    self.link(
                        node,
                        slot,
                        name.span,
                        Some(&name.text),
                        format!("position {axis} of `{relation}`"),
                    );
                }
                Term::Wildcard(_) => {}
            }
        }
    }
}
