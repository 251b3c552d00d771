//! Solves the axis constraints: union–find over axes and index variables, first to find
//! which relation positions share a symbol domain, then again with sizes, reporting each
//! conflict at the use that causes it with the earlier use that fixed the size.

use super::shapes::{Constraints, Derived, Node};
use super::{Checked, Domain, Globals, Origin, TensorFacts};
use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use std::collections::HashMap;

struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    fn new(n: usize) -> UnionFind {
        UnionFind {
            parent: (0..n).collect(),
        }
    }

    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }
}

/// What is known of one class of axes.
#[derive(Clone, Debug, Default)]
struct Class {
    /// The size and the label of the place that showed it.
    size: Option<(usize, Span, String)>,
    opaque: bool,
}

pub(crate) struct Solution {
    sizes: Vec<Option<usize>>,
    domains: Vec<Option<usize>>,
    all_domains: Vec<Domain>,
}

pub(crate) fn solve(
    c: &Constraints,
    globals: &Globals,
    diagnostics: &mut Vec<Diagnostic>,
) -> Solution {
    let n = c.node_count;
    let (node_domains, all_domains, domain_sizes) = infer_domains(c, globals, diagnostics);

    let mut uf = UnionFind::new(n);
    let mut classes = vec![Class::default(); n];
    for (tensor, axis) in c.slots.keys() {
        if c.opaque.contains(tensor) {
            let node = c.slots[&(tensor.clone(), *axis)];
            classes[node].opaque = true;
        }
    }
    let mut facts: Vec<(Node, usize, Span, String)> = c
        .sizes
        .iter()
        .map(|f| (f.node, f.size, f.span, f.label.clone()))
        .collect();
    facts.extend(domain_sizes);
    for (node, size, span, label) in facts {
        match &classes[node].size {
            Some((known, first, first_label)) if *known != size => {
                diagnostics.push(
                    Diagnostic::error(
                        codes::INDEX_SIZE_MISMATCH,
                        "sizes do not match",
                        span,
                        label,
                    )
                    .with_secondary(*first, first_label.clone()),
                );
            }
            Some(_) => {}
            None => classes[node].size = Some((size, span, label)),
        }
    }

    for link in &c.links {
        let (ra, rb) = (uf.find(link.a), uf.find(link.b));
        if ra == rb {
            continue;
        }
        let a = classes[ra].clone();
        let b = classes[rb].clone();
        if let (Some((sa, wa, la)), Some((sb, _, _))) = (&a.size, &b.size) {
            if sa != sb {
                let message = match &link.var {
                    Some(var) => format!("index `{var}` has two different sizes"),
                    None => "sizes do not match".to_string(),
                };
                let mut diagnostic = Diagnostic::error(
                    codes::INDEX_SIZE_MISMATCH,
                    message,
                    link.span,
                    format!("{} has size {sb}", link.what),
                )
                .with_secondary(*wa, la.clone());
                if link.var.is_some() {
                    diagnostic = diagnostic.with_help(
                        "an index ranges over one set of positions in an equation; the axes it \
                         indexes must have one size",
                    );
                }
                diagnostics.push(diagnostic);
                continue;
            }
        }
        let size = match (a.size, &b.size) {
            (Some(known), _) => Some(known),
            (None, Some((sb, _, _))) => {
                Some((*sb, link.span, format!("{} has size {sb}", link.what)))
            }
            (None, None) => None,
        };
        uf.parent[rb] = ra;
        classes[ra] = Class {
            size,
            opaque: a.opaque || b.opaque,
        };
    }

    // Sizes that follow from index arithmetic, until nothing changes.
    let mut reported_pool = vec![false; c.derived.len()];
    for _ in 0..=c.derived.len() {
        let mut changed = false;
        for (i, derived) in c.derived.iter().enumerate() {
            let size_of = |uf: &mut UnionFind, node: Node| {
                let root = uf.find(node);
                classes[root].size.as_ref().map(|(s, _, _)| *s)
            };
            let assignment: Option<(Node, usize, Span, String)> = match *derived {
                Derived::Pool {
                    slot,
                    var,
                    factor,
                    span,
                } => match (size_of(&mut uf, var), size_of(&mut uf, slot)) {
                    (Some(range), slot_size) => {
                        if range % factor != 0 {
                            if !reported_pool[i] {
                                reported_pool[i] = true;
                                diagnostics.push(
                                    Diagnostic::error(
                                        codes::INDIVISIBLE_POOLING,
                                        format!("pooling by {factor} over an axis of size {range}"),
                                        span,
                                        format!("{range} is not a multiple of {factor}"),
                                    )
                                    .with_help("pool by a factor that divides the axis, or slice the axis first"),
                                );
                            }
                            None
                        } else if slot_size.is_none() {
                            Some((
                                slot,
                                range / factor,
                                span,
                                format!("pooled to size {}", range / factor),
                            ))
                        } else {
                            None
                        }
                    }
                    (None, Some(pooled)) => Some((
                        var,
                        pooled.saturating_mul(factor),
                        span,
                        format!("pools {} positions", pooled.saturating_mul(factor)),
                    )),
                    (None, None) => None,
                },
                Derived::Repeat { var, slot, factor } => {
                    match (size_of(&mut uf, var), size_of(&mut uf, slot)) {
                        (None, Some(size)) => Some((
                            var,
                            size.saturating_mul(factor),
                            Span::default(),
                            String::new(),
                        )),
                        _ => None,
                    }
                }
                Derived::Shifted { var, slot } => {
                    match (size_of(&mut uf, var), size_of(&mut uf, slot)) {
                        (None, Some(size)) => Some((var, size, Span::default(), String::new())),
                        _ => None,
                    }
                }
                Derived::SliceFrom {
                    out,
                    slot,
                    start,
                    span,
                } => match (size_of(&mut uf, out), size_of(&mut uf, slot)) {
                    (None, Some(size)) if start <= size => Some((
                        out,
                        size - start,
                        span,
                        format!("this slice has length {}", size - start),
                    )),
                    (None, Some(size)) => {
                        if !reported_pool[i] {
                            reported_pool[i] = true;
                            diagnostics.push(Diagnostic::error(
                                codes::INDEX_OUT_OF_RANGE,
                                format!("a slice from {start} of an axis of size {size}"),
                                span,
                                "starts past the end",
                            ));
                        }
                        None
                    }
                    _ => None,
                },
            };
            if let Some((node, size, span, label)) = assignment {
                let root = uf.find(node);
                classes[root].size = Some((size, span, label));
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }

    for bound in &c.bounds {
        let root = uf.find(bound.slot);
        if bound.position < 0 {
            diagnostics.push(
                Diagnostic::error(
                    codes::INDEX_OUT_OF_RANGE,
                    format!("position {} is negative", bound.position),
                    bound.span,
                    format!("outside {}", bound.what),
                )
                .with_help("positions count from 0"),
            );
        } else if let Some((size, span, label)) = &classes[root].size {
            if bound.position as usize >= *size {
                let mut diagnostic = Diagnostic::error(
                    codes::INDEX_OUT_OF_RANGE,
                    format!(
                        "position {} is outside {}, of size {size}",
                        bound.position, bound.what
                    ),
                    bound.span,
                    format!("position {} of {size}", bound.position),
                );
                let mut help = format!("positions run from 0 to {}", size.saturating_sub(1));
                if span.start < bound.span.end && bound.span.start < span.end {
                    help = format!("{help}; {label}");
                } else {
                    diagnostic = diagnostic.with_secondary(*span, label.clone());
                }
                diagnostics.push(diagnostic.with_help(help));
            }
        }
    }

    for need in &c.needs {
        let root = uf.find(need.node);
        let class = &classes[root];
        if class.size.is_none() && !class.opaque {
            diagnostics.push(
                Diagnostic::error(
                    codes::UNKNOWN_INDEX_SIZE,
                    format!("cannot infer {}", need.what),
                    need.span,
                    "no tensor of known shape fixes it",
                )
                .with_help(
                    "use it to index a tensor of known shape, or declare the size in a \
                     `param` (`W[o: 4, i]`)",
                ),
            );
        }
    }

    for (target, span) in &c.scalar_targets {
        if let Some(&(rank, rank_span)) = c.ranks.get(target) {
            if rank > 0 {
                diagnostics.push(
                    Diagnostic::error(
                        codes::INVALID_LOSS,
                        format!("the loss `{target}` must be a single number"),
                        *span,
                        "minimized here",
                    )
                    .with_secondary(rank_span, format!("`{target}` has {rank} axes"))
                    .with_help(format!(
                        "project the other indices away: `{target} avg= …` with no indices on the left"
                    )),
                );
            }
        }
    }

    for (tensor, span) in &c.bare_uses {
        if let Some(&(rank, rank_span)) = c.ranks.get(tensor) {
            if rank > 0 {
                diagnostics.push(
                    Diagnostic::error(
                        codes::MISSING_INDICES,
                        format!("`{tensor}` has {rank} axes but is used without indices"),
                        *span,
                        "no indices",
                    )
                    .with_secondary(rank_span, format!("{rank} axes here"))
                    .with_help(format!(
                        "in an equation with index variables, write the indices: `{tensor}[{}]`",
                        ["i", "j", "k", "l", "m", "n"][..rank.min(6)].join(", ")
                    )),
                );
            }
        }
    }

    let mut sizes = vec![None; n];
    let mut domains = vec![None; n];
    for node in 0..n {
        let root = uf.find(node);
        sizes[node] = classes[root].size.as_ref().map(|(s, _, _)| *s);
        domains[node] = node_domains[node];
    }
    Solution {
        sizes,
        domains,
        all_domains,
    }
}

type DomainSizes = Vec<(Node, usize, Span, String)>;

/// Groups relation positions joined by shared variables, and gives each group its domain:
/// the declared one its symbols belong to, or the symbols met in facts, rules and queries.
fn infer_domains(
    c: &Constraints,
    globals: &Globals,
    diagnostics: &mut Vec<Diagnostic>,
) -> (Vec<Option<usize>>, Vec<Domain>, DomainSizes) {
    let n = c.node_count;
    let mut uf = UnionFind::new(n);
    for link in &c.links {
        let (ra, rb) = (uf.find(link.a), uf.find(link.b));
        if ra != rb {
            uf.parent[rb] = ra;
        }
    }
    // Declared domains first, in declaration order of their names' spans.
    let mut declared: Vec<(&String, &(Vec<crate::ast::Name>, Span))> =
        globals.domains.iter().collect();
    declared.sort_by_key(|(_, (_, span))| *span);
    let mut domains: Vec<Domain> = Vec::new();
    let mut domain_index: HashMap<String, usize> = HashMap::new();
    let mut symbol_domain: HashMap<String, (usize, Span)> = HashMap::new();
    for (name, (symbols, _)) in &declared {
        let index = domains.len();
        domain_index.insert((*name).clone(), index);
        let mut list: Vec<String> = Vec::new();
        for symbol in symbols {
            if let Some(&(other, first)) = symbol_domain.get(&symbol.text) {
                if other != index {
                    diagnostics.push(
                        Diagnostic::error(
                            codes::CONFLICTING_DOMAINS,
                            format!("symbol `{}` is declared in two domains", symbol.text),
                            symbol.span,
                            format!("in `{name}`"),
                        )
                        .with_secondary(first, format!("in `{}`", domains[other].name)),
                    );
                }
                continue;
            }
            symbol_domain.insert(symbol.text.clone(), (index, symbol.span));
            if !list.contains(&symbol.text) {
                list.push(symbol.text.clone());
            }
        }
        domains.push(Domain {
            name: (*name).clone(),
            symbols: list,
            declared: true,
        });
    }

    // Evidence per class, in program order: symbols and declared memberships.
    enum Evidence<'a> {
        Symbol(&'a str, Span),
        Member(&'a str, Span),
    }
    let mut evidence: HashMap<usize, Vec<(Node, Evidence)>> = HashMap::new();
    for (node, symbol, span) in &c.symbols {
        evidence
            .entry(uf.find(*node))
            .or_default()
            .push((*node, Evidence::Symbol(symbol, *span)));
    }
    for (node, domain, span) in &c.domain_members {
        evidence
            .entry(uf.find(*node))
            .or_default()
            .push((*node, Evidence::Member(domain, *span)));
    }
    let mut roots: Vec<usize> = evidence.keys().copied().collect();
    roots.sort_by_key(|root| {
        evidence[root]
            .iter()
            .map(|(_, e)| match e {
                Evidence::Symbol(_, s) | Evidence::Member(_, s) => *s,
            })
            .min()
    });
    let mut class_domain: HashMap<usize, usize> = HashMap::new();
    let mut sizes: DomainSizes = Vec::new();
    for root in roots {
        let items = &evidence[&root];
        // The declared domains this class meets.
        let mut met: Vec<(usize, Span)> = Vec::new();
        for (_, item) in items {
            let found = match item {
                Evidence::Member(domain, span) => domain_index.get(*domain).map(|&d| (d, *span)),
                Evidence::Symbol(symbol, span) => {
                    symbol_domain.get(*symbol).map(|&(d, _)| (d, *span))
                }
            };
            if let Some((domain, span)) = found {
                if !met.iter().any(|(d, _)| *d == domain) {
                    met.push((domain, span));
                }
            }
        }
        if met.len() > 1 {
            diagnostics.push(
                Diagnostic::error(
                    codes::CONFLICTING_DOMAINS,
                    format!(
                        "domains `{}` and `{}` meet at one position",
                        domains[met[0].0].name, domains[met[1].0].name
                    ),
                    met[1].1,
                    format!("of domain `{}`", domains[met[1].0].name),
                )
                .with_secondary(met[0].1, format!("of domain `{}`", domains[met[0].0].name))
                .with_help(
                    "a relation position ranges over one domain; shared variables join positions",
                ),
            );
        }
        let domain = match met.first() {
            Some(&(domain, _)) => {
                // Two declared domains already explain why symbols do not fit.
                let members_checked = if met.len() > 1 { &[][..] } else { &items[..] };
                for (_, item) in members_checked {
                    if let Evidence::Symbol(symbol, span) = item {
                        if !domains[domain].symbols.iter().any(|s| s == symbol) {
                            let declared_at = globals
                                .domains
                                .get(&domains[domain].name)
                                .map(|(_, s)| *s)
                                .unwrap_or_default();
                            diagnostics.push(
                                Diagnostic::error(
                                    codes::SYMBOL_NOT_IN_DOMAIN,
                                    format!(
                                        "`{symbol}` is not in domain `{}`",
                                        domains[domain].name
                                    ),
                                    *span,
                                    "not a member",
                                )
                                .with_secondary(declared_at, "the domain is declared here")
                                .with_help(format!("add `{symbol}` to the domain's symbols")),
                            );
                        }
                    }
                }
                domain
            }
            None => {
                let mut symbols: Vec<String> = Vec::new();
                for (_, item) in items {
                    if let Evidence::Symbol(symbol, _) = item {
                        if !symbols.iter().any(|s| s == symbol) {
                            symbols.push(symbol.to_string());
                        }
                    }
                }
                let (first_node, _) = &items[0];
                let name = match c.slot_of(*first_node) {
                    Some((tensor, axis)) => format!("{tensor}.{axis}"),
                    None => format!("domain{}", domains.len()),
                };
                domains.push(Domain {
                    name,
                    symbols,
                    declared: false,
                });
                domains.len() - 1
            }
        };
        class_domain.insert(root, domain);
        let (node, item) = &items[0];
        let span = match item {
            Evidence::Symbol(_, s) | Evidence::Member(_, s) => *s,
        };
        let count = domains[domain].symbols.len();
        let label = if domains[domain].declared {
            format!("domain `{}` has {count} symbols", domains[domain].name)
        } else {
            format!("the symbols at this position number {count}")
        };
        sizes.push((*node, count, span, label));
    }
    let node_domains = (0..n)
        .map(|node| class_domain.get(&uf.find(node)).copied())
        .collect();
    (node_domains, domains, sizes)
}

impl Solution {
    /// Writes what was inferred about each tensor into `checked`.
    pub(crate) fn fill(&self, c: &Constraints, globals: &Globals, checked: &mut Checked) {
        for (tensor, &(rank, _)) in &c.ranks {
            let origin =
                c.origins
                    .get(tensor)
                    .copied()
                    .unwrap_or(if globals.params.contains_key(tensor) {
                        Origin::Param
                    } else {
                        Origin::Equation
                    });
            let mut facts = TensorFacts {
                origin,
                rank: (!c.opaque.contains(tensor)).then_some(rank),
                sizes: Vec::new(),
                domains: Vec::new(),
            };
            for axis in 0..rank {
                let node = c.slots.get(&(tensor.clone(), axis)).copied();
                facts.sizes.push(node.and_then(|n| self.sizes[n]));
                facts.domains.push(node.and_then(|n| self.domains[n]));
            }
            checked.tensors.insert(tensor.clone(), facts);
        }
        for tensor in &c.opaque {
            checked
                .tensors
                .entry(tensor.clone())
                .or_insert(TensorFacts {
                    origin: Origin::Equation,
                    rank: None,
                    sizes: Vec::new(),
                    domains: Vec::new(),
                });
        }
        checked.domains = self.all_domains.clone();
        for (relation, symbols) in &c.facts {
            let positions: Option<Vec<usize>> = symbols
                .iter()
                .enumerate()
                .map(|(axis, symbol)| checked.symbol_position(relation, axis, symbol))
                .collect();
            if let Some(positions) = positions {
                checked
                    .facts
                    .entry(relation.clone())
                    .or_default()
                    .push(positions);
            }
        }
    }
}
