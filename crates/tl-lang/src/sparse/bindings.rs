//! Partial answers of a rule body: rows of values for the variables bound so far, and the
//! two ways they grow — scanning the first atom's relation, then joining each further atom
//! through an index on the columns the row already fixes. Large joins run in parallel over
//! chunks of rows.

use rayon::prelude::*;

use super::compiled::{CompiledAtom, Slot};
use super::index::RelationIndex;
use super::relation::SparseRelation;
use super::sort::sort_dedup;

/// Joins over fewer rows than this run on the calling thread.
const PARALLEL_JOIN_MIN_ROWS: usize = 4096;
/// Rows per parallel task.
const ROWS_PER_TASK: usize = 1024;

/// A join produced more rows than allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooManyRows;

/// Rows of values for `variables` (rule variable numbers), stored flat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bindings {
    pub variables: Vec<usize>,
    pub n_rows: usize,
    pub data: Vec<u32>,
}

impl Bindings {
    fn width(&self) -> usize {
        self.variables.len()
    }

    fn row(&self, i: usize) -> &[u32] {
        let width = self.width();
        &self.data[i * width..(i + 1) * width]
    }

    /// The tuples of `relation` that match `atom` (its constants and repeated variables),
    /// as values of the atom's variables kept by `keep`.
    pub fn scan(
        atom: &CompiledAtom,
        relation: &SparseRelation,
        keep: &dyn Fn(usize) -> bool,
    ) -> Bindings {
        let variables: Vec<usize> = atom.variables().into_iter().filter(|&v| keep(v)).collect();
        // For each kept variable, the first position holding it.
        let sources: Vec<usize> = variables.iter().map(|&v| first_position(atom, v)).collect();
        let mut data = Vec::new();
        let mut n_rows = 0;
        for tuple in relation.tuples() {
            if matches(atom, tuple) {
                data.extend(sources.iter().map(|&p| tuple[p]));
                n_rows += 1;
            }
        }
        // Tuples of a relation are distinct, and dropping constant or repeated columns
        // keeps them so; only a dropped variable or a wildcard can make rows repeat.
        let injective =
            variables.len() == atom.variables().len() && !atom.slots.contains(&Slot::Any);
        let bindings = Bindings {
            variables,
            n_rows,
            data,
        };
        if injective {
            bindings
        } else {
            bindings.deduplicated()
        }
    }

    /// Joins every row with the tuples of `index`'s relation matching `atom`; the index's
    /// key columns must be exactly the atom's positions holding constants or variables
    /// bound in `self`. Keeps the variables for which `keep` holds.
    pub fn join(
        &self,
        atom: &CompiledAtom,
        index: &RelationIndex,
        keep: &dyn Fn(usize) -> bool,
        max_rows: usize,
    ) -> Result<Bindings, TooManyRows> {
        let step = JoinStep::new(self, atom, index, keep);
        let n_rows = self.n_rows;
        let chunks: Vec<(usize, Vec<u32>)> = if n_rows >= PARALLEL_JOIN_MIN_ROWS {
            let starts: Vec<usize> = (0..n_rows).step_by(ROWS_PER_TASK).collect();
            starts
                .par_iter()
                .map(|&start| step.run(self, start..(start + ROWS_PER_TASK).min(n_rows), max_rows))
                .collect::<Result<_, _>>()?
        } else {
            vec![step.run(self, 0..n_rows, max_rows)?]
        };
        let total: usize = chunks.iter().map(|(rows, _)| rows).sum();
        if total > max_rows {
            return Err(TooManyRows);
        }
        let mut data = Vec::with_capacity(chunks.iter().map(|(_, d)| d.len()).sum());
        for (_, chunk) in chunks {
            data.extend_from_slice(&chunk);
        }
        Ok(Bindings {
            variables: step.output_variables,
            n_rows: total,
            data,
        })
    }

    /// The same rows without repeats (rows repeat once a variable has been projected
    /// away; joining repeats would only multiply work).
    pub fn deduplicated(self) -> Bindings {
        let width = self.width();
        if width == 0 {
            return Bindings {
                n_rows: self.n_rows.min(1),
                ..self
            };
        }
        let data = sort_dedup(self.data, width);
        Bindings {
            n_rows: data.len() / width,
            variables: self.variables,
            data,
        }
    }

    /// The head's tuples, stored flat (unsorted, possibly repeated): one per row.
    pub fn project(&self, head: &CompiledAtom) -> Vec<u32> {
        let sources: Vec<Result<usize, u32>> = head
            .slots
            .iter()
            .map(|slot| match *slot {
                Slot::Variable(v) => Ok(self
                    .variables
                    .iter()
                    .position(|&b| b == v)
                    .expect("head variables are bound by the body")),
                Slot::Constant(id) => Err(id),
                Slot::Any => unreachable!("compile_rule refuses `_` in heads"),
            })
            .collect();
        let mut out = Vec::with_capacity(self.n_rows * sources.len());
        for i in 0..self.n_rows {
            let row = self.row(i);
            out.extend(sources.iter().map(|source| match *source {
                Ok(column) => row[column],
                Err(id) => id,
            }));
        }
        out
    }
}

/// Whether `tuple` agrees with the atom's constants and repeated variables.
fn matches(atom: &CompiledAtom, tuple: &[u32]) -> bool {
    atom.slots.iter().enumerate().all(|(p, slot)| match *slot {
        Slot::Constant(id) => tuple[p] == id,
        Slot::Variable(v) => tuple[first_position(atom, v)] == tuple[p],
        Slot::Any => true,
    })
}

fn first_position(atom: &CompiledAtom, variable: usize) -> usize {
    atom.slots
        .iter()
        .position(|s| *s == Slot::Variable(variable))
        .expect("the variable occurs in the atom")
}

/// Where each value of a join step comes from, worked out once per step.
struct JoinStep<'a> {
    index: &'a RelationIndex,
    /// Per key column: a column of the input row, or a constant.
    key: Vec<Result<usize, u32>>,
    /// Pairs of positions in an index row that must hold equal values (a new variable
    /// repeated in the atom).
    equal: Vec<(usize, usize)>,
    /// Input columns kept, then index-row positions of the new variables kept.
    kept_input: Vec<usize>,
    kept_new: Vec<usize>,
    output_variables: Vec<usize>,
}

impl<'a> JoinStep<'a> {
    fn new(
        input: &Bindings,
        atom: &CompiledAtom,
        index: &'a RelationIndex,
        keep: &dyn Fn(usize) -> bool,
    ) -> JoinStep<'a> {
        // Position in a stored index row of each atom position.
        let mut stored = vec![0; atom.arity()];
        for (k, &column) in index.columns().iter().enumerate() {
            stored[column] = k;
        }
        let bound = |v: usize| input.variables.iter().position(|&b| b == v);
        let mut key = Vec::new();
        for (p, slot) in atom.slots.iter().enumerate() {
            match *slot {
                Slot::Constant(id) => key.push((p, Err(id))),
                Slot::Variable(v) => {
                    if let Some(column) = bound(v) {
                        key.push((p, Ok(column)));
                    }
                }
                Slot::Any => {}
            }
        }
        debug_assert!(key
            .iter()
            .map(|(p, _)| *p)
            .eq(index.columns()[..key.len()].iter().copied()));
        let key = key.into_iter().map(|(_, source)| source).collect();
        let mut equal = Vec::new();
        let mut new_variables: Vec<(usize, usize)> = Vec::new();
        for (p, slot) in atom.slots.iter().enumerate() {
            if let Slot::Variable(v) = *slot {
                if bound(v).is_some() {
                    continue;
                }
                match new_variables.iter().find(|(w, _)| *w == v) {
                    Some(&(_, first)) => equal.push((stored[first], stored[p])),
                    None => new_variables.push((v, p)),
                }
            }
        }
        let kept_input: Vec<usize> = (0..input.variables.len())
            .filter(|&c| keep(input.variables[c]))
            .collect();
        let kept: Vec<(usize, usize)> = new_variables
            .into_iter()
            .filter(|&(v, _)| keep(v))
            .collect();
        let mut output_variables: Vec<usize> =
            kept_input.iter().map(|&c| input.variables[c]).collect();
        output_variables.extend(kept.iter().map(|&(v, _)| v));
        JoinStep {
            index,
            key,
            equal,
            kept_input,
            kept_new: kept.iter().map(|&(_, p)| stored[p]).collect(),
            output_variables,
        }
    }

    /// Joins input rows `rows`; returns the number of output rows and their values.
    fn run(
        &self,
        input: &Bindings,
        rows: std::ops::Range<usize>,
        max_rows: usize,
    ) -> Result<(usize, Vec<u32>), TooManyRows> {
        let mut key = vec![0u32; self.key.len()];
        let mut out = Vec::new();
        let mut n_out = 0usize;
        for i in rows {
            let row = input.row(i);
            for (slot, source) in key.iter_mut().zip(&self.key) {
                *slot = match *source {
                    Ok(column) => row[column],
                    Err(id) => id,
                };
            }
            for j in self.index.lookup(&key) {
                let found = self.index.row(j);
                if !self.equal.iter().all(|&(a, b)| found[a] == found[b]) {
                    continue;
                }
                out.extend(self.kept_input.iter().map(|&c| row[c]));
                out.extend(self.kept_new.iter().map(|&k| found[k]));
                n_out += 1;
            }
            if n_out > max_rows {
                return Err(TooManyRows);
            }
        }
        Ok((n_out, out))
    }
}
