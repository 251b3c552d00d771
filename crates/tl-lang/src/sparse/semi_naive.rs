//! Semi-naive evaluation of one strongly connected component of rules to its fixpoint.
//!
//! Each round joins only derivations that use at least one tuple new in the previous
//! round: for a rule with recursive body atoms a₁…a_k, variant j reads a_j from the delta,
//! the atoms before it from the relation as it was before that delta, and the atoms after
//! it from the whole relation — so every derivation is found exactly in the round after its
//! newest tuple appeared, non-linear rules such as `A(x, z) <- A(x, y), A(y, z)` included.

use std::collections::{HashMap, HashSet};

use super::bindings::Bindings;
use super::compiled::{CompiledAtom, CompiledRule, Slot};
use super::error::SparseError;
use super::index::RelationIndex;
use super::limits::FixpointLimits;
use super::relation::SparseRelation;

/// Which state of a relation an atom reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Version {
    /// A relation of an earlier component: final.
    Stable,
    /// A relation of this component before the last round's additions.
    Old,
    /// The last round's additions.
    Delta,
    /// Old and delta together.
    Full,
}

type IndexKey = (String, Version, Vec<usize>);

/// The relations of one component and their rules, evaluated against the final relations
/// of earlier components.
pub struct Component<'a> {
    pub members: &'a [String],
    pub rules: &'a [&'a CompiledRule],
    pub arities: &'a HashMap<String, usize>,
    pub facts: &'a HashMap<String, SparseRelation>,
    /// Final relations of earlier components (every relation this one reads outside
    /// itself).
    pub earlier: &'a HashMap<String, SparseRelation>,
}

struct State {
    old: HashMap<String, SparseRelation>,
    delta: HashMap<String, SparseRelation>,
    full: HashMap<String, SparseRelation>,
}

impl Component<'_> {
    /// The members' final relations.
    pub fn evaluate(
        &self,
        limits: &FixpointLimits,
    ) -> Result<HashMap<String, SparseRelation>, SparseError> {
        let members: HashSet<&str> = self.members.iter().map(String::as_str).collect();
        let mut state = State {
            old: HashMap::new(),
            delta: HashMap::new(),
            full: HashMap::new(),
        };
        for name in self.members {
            let arity = self.arities[name];
            let facts = self
                .facts
                .get(name)
                .cloned()
                .unwrap_or_else(|| SparseRelation::empty(arity));
            state.old.insert(name.clone(), SparseRelation::empty(arity));
            state.delta.insert(name.clone(), facts.clone());
            state.full.insert(name.clone(), facts);
        }
        let mut stable_indexes: HashMap<IndexKey, RelationIndex> = HashMap::new();
        let mut round = 0usize;
        loop {
            round += 1;
            if round > limits.max_iterations {
                let first = self.rules.first();
                return Err(SparseError::NoFixpoint {
                    relations: self.members.to_vec(),
                    rule: first.map(|r| r.text.clone()).unwrap_or_default(),
                    span: first.map(|r| r.span).unwrap_or_default(),
                    iterations: limits.max_iterations,
                });
            }
            let mut round_indexes: HashMap<IndexKey, RelationIndex> = HashMap::new();
            let mut derived: HashMap<&str, (Vec<u32>, usize)> = HashMap::new();
            for rule in self.rules {
                let recursive: Vec<usize> = (0..rule.body.len())
                    .filter(|&p| members.contains(rule.body[p].relation.as_str()))
                    .collect();
                let mut variants: Vec<Vec<Version>> = Vec::new();
                if recursive.is_empty() {
                    // Reads only final relations: one evaluation is all it ever gives.
                    if round == 1 {
                        variants.push(vec![Version::Stable; rule.body.len()]);
                    }
                } else {
                    for (j, &p) in recursive.iter().enumerate() {
                        if state.delta[&rule.body[p].relation].is_empty() {
                            continue;
                        }
                        let versions: Vec<Version> = (0..rule.body.len())
                            .map(|q| {
                                if !recursive.contains(&q) {
                                    Version::Stable
                                } else if q == p {
                                    Version::Delta
                                } else if recursive[..j].contains(&q) {
                                    Version::Old
                                } else {
                                    Version::Full
                                }
                            })
                            .collect();
                        variants.push(versions);
                    }
                }
                for versions in variants {
                    let (tuples, n_tuples) = self.run_variant(
                        rule,
                        &versions,
                        &state,
                        &mut stable_indexes,
                        &mut round_indexes,
                        limits,
                    )?;
                    let entry = derived.entry(rule.head.relation.as_str()).or_default();
                    entry.0.extend_from_slice(&tuples);
                    entry.1 += n_tuples;
                }
            }
            let mut any_new = false;
            for name in self.members {
                let arity = self.arities[name];
                let (tuples, n_tuples) = derived.remove(name.as_str()).unwrap_or_default();
                let found = if arity == 0 {
                    SparseRelation::proposition(n_tuples > 0)
                } else {
                    SparseRelation::from_flat(arity, tuples)
                        .expect("derived tuples have the head's arity")
                };
                let full = &state.full[name];
                let new = found.difference(full).expect("one relation, one arity");
                any_new |= !new.is_empty();
                let next_full = full.union(&new).expect("one relation, one arity");
                if next_full.len() > limits.max_tuples {
                    let rule = self
                        .rules
                        .iter()
                        .find(|r| r.head.relation == *name)
                        .expect("a relation that grows has a rule");
                    return Err(SparseError::TooManyTuples {
                        rule: rule.text.clone(),
                        span: rule.span,
                        limit: limits.max_tuples,
                    });
                }
                let previous_full =
                    std::mem::replace(state.full.get_mut(name).expect("member"), next_full);
                state.old.insert(name.clone(), previous_full);
                state.delta.insert(name.clone(), new);
            }
            if !any_new {
                return Ok(state.full);
            }
        }
    }

    fn relation<'s>(
        &'s self,
        state: &'s State,
        name: &str,
        version: Version,
    ) -> &'s SparseRelation {
        match version {
            Version::Stable => &self.earlier[name],
            Version::Old => &state.old[name],
            Version::Delta => &state.delta[name],
            Version::Full => &state.full[name],
        }
    }

    /// The head tuples (flat, unsorted, possibly repeated) of one variant of `rule`, and
    /// how many there are (which the flat form cannot tell for a head of arity 0).
    fn run_variant(
        &self,
        rule: &CompiledRule,
        versions: &[Version],
        state: &State,
        stable_indexes: &mut HashMap<IndexKey, RelationIndex>,
        round_indexes: &mut HashMap<IndexKey, RelationIndex>,
        limits: &FixpointLimits,
    ) -> Result<(Vec<u32>, usize), SparseError> {
        let sizes: Vec<usize> = rule
            .body
            .iter()
            .zip(versions)
            .map(|(atom, &version)| self.relation(state, &atom.relation, version).len())
            .collect();
        if sizes.contains(&0) {
            return Ok((Vec::new(), 0));
        }
        let order = join_order(rule, versions, &sizes);
        let head_variables = rule.head.variables();
        let needed_after = |k: usize, v: usize| {
            head_variables.contains(&v)
                || order[k + 1..]
                    .iter()
                    .any(|&q| rule.body[q].slots.contains(&Slot::Variable(v)))
        };

        // Index every atom after the first on the positions fixed when it is reached.
        let mut bound: Vec<usize> = rule.body[order[0]].variables();
        let mut keys: Vec<IndexKey> = Vec::new();
        for &q in &order[1..] {
            let atom = &rule.body[q];
            let key_columns = key_columns(atom, &bound);
            let key = (atom.relation.clone(), versions[q], key_columns);
            let cache = if versions[q] == Version::Stable {
                &mut *stable_indexes
            } else {
                &mut *round_indexes
            };
            if !cache.contains_key(&key) {
                let relation = self.relation(state, &atom.relation, versions[q]);
                let index = RelationIndex::build(relation, &key.2);
                cache.insert(key.clone(), index);
            }
            keys.push(key);
            for v in atom.variables() {
                if !bound.contains(&v) {
                    bound.push(v);
                }
            }
        }

        let first = &rule.body[order[0]];
        let mut bindings = Bindings::scan(
            first,
            self.relation(state, &first.relation, versions[order[0]]),
            &|v| needed_after(0, v),
        );
        for k in 1..order.len() {
            let (q, key) = (order[k], &keys[k - 1]);
            if bindings.n_rows == 0 {
                return Ok((Vec::new(), 0));
            }
            let index = stable_indexes
                .get(key)
                .or_else(|| round_indexes.get(key))
                .expect("indexed above");
            let n_variables = bindings.variables.len() + rule.body[q].variables().len();
            bindings = bindings
                .join(
                    &rule.body[q],
                    index,
                    &|v| needed_after(k, v),
                    limits.max_tuples,
                )
                .map_err(|_| SparseError::TooManyTuples {
                    rule: rule.text.clone(),
                    span: rule.span,
                    limit: limits.max_tuples,
                })?;
            let dropped = bindings.variables.len() < n_variables;
            if dropped && k + 1 < order.len() {
                bindings = bindings.deduplicated();
            }
        }
        Ok((bindings.project(&rule.head), bindings.n_rows))
    }
}

/// Positions of `atom` fixed once `bound` variables are known: its constants and bound
/// variables, in position order.
fn key_columns(atom: &CompiledAtom, bound: &[usize]) -> Vec<usize> {
    atom.slots
        .iter()
        .enumerate()
        .filter(|(_, slot)| match **slot {
            Slot::Constant(_) => true,
            Slot::Variable(v) => bound.contains(&v),
            Slot::Any => false,
        })
        .map(|(p, _)| p)
        .collect()
}

/// The order in which to join the body: the delta first (it is what is new, and usually
/// the smallest), otherwise the smallest relation; then, greedily, the atom with the most
/// positions already fixed, the smaller relation on ties — so that each step is an index
/// lookup rather than a product.
fn join_order(rule: &CompiledRule, versions: &[Version], sizes: &[usize]) -> Vec<usize> {
    let n = rule.body.len();
    let first = versions
        .iter()
        .position(|&v| v == Version::Delta)
        .unwrap_or_else(|| (0..n).min_by_key(|&q| sizes[q]).unwrap_or(0));
    let mut order = vec![first];
    let mut bound = rule.body[first].variables();
    while order.len() < n {
        let next = (0..n)
            .filter(|q| !order.contains(q))
            .max_by_key(|&q| {
                let fixed = key_columns(&rule.body[q], &bound).len();
                (fixed, std::cmp::Reverse(sizes[q]))
            })
            .expect("an atom is left");
        order.push(next);
        for v in rule.body[next].variables() {
            if !bound.contains(&v) {
                bound.push(v);
            }
        }
    }
    order
}
