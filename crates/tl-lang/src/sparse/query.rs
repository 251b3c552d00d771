//! The answer to a Datalog query: the distinct bindings of its variables, as symbol ids
//! (sorted by id) or as names (sorted by name, the way they are printed).

use super::bindings::Bindings;
use super::compiled::CompiledAtom;
use super::relation::SparseRelation;
use super::symbols::SymbolTable;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryAnswer {
    /// The query's variables in order of first appearance (`_` is not one).
    pub variables: Vec<String>,
    /// One tuple per answer, its values in `variables` order. A query without variables
    /// has arity 0: one empty tuple when the atom holds, none when not.
    pub tuples: SparseRelation,
}

impl QueryAnswer {
    pub(crate) fn of(
        atom: &CompiledAtom,
        variables: Vec<String>,
        relation: &SparseRelation,
    ) -> QueryAnswer {
        let bindings = Bindings::scan(atom, relation, &|_| true);
        let tuples = if bindings.variables.is_empty() {
            SparseRelation::proposition(bindings.n_rows > 0)
        } else {
            // scan numbers variables by first appearance, as `variables` lists them.
            SparseRelation::from_flat(bindings.variables.len(), bindings.data)
                .expect("rows of the bindings' width")
        };
        QueryAnswer { variables, tuples }
    }

    pub fn len(&self) -> usize {
        self.tuples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tuples.is_empty()
    }

    /// The answers as symbol names, sorted by name.
    pub fn names(&self, symbols: &SymbolTable) -> Vec<Vec<String>> {
        let mut rows: Vec<Vec<String>> = self
            .tuples
            .tuples()
            .map(|tuple| {
                tuple
                    .iter()
                    .map(|&id| symbols.name(id).unwrap_or("?").to_string())
                    .collect()
            })
            .collect();
        rows.sort();
        rows
    }
}
