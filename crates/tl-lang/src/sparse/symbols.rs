//! The symbol table of sparse relations: Datalog constants (`Alice`, `42`) as dense `u32`
//! ids, so that tuples are small fixed-width integers and joins compare integers.

use std::collections::HashMap;

/// Names ↔ ids, ids given in order of first interning (0, 1, 2, …).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SymbolTable {
    names: Vec<String>,
    ids: HashMap<String, u32>,
}

impl SymbolTable {
    pub fn new() -> SymbolTable {
        SymbolTable::default()
    }

    /// A table whose ids follow `names` (a repeated name keeps its first id): how a host
    /// makes sparse ids agree with the positions of a domain it already ordered.
    pub fn from_names<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> SymbolTable {
        let mut table = SymbolTable::new();
        for name in names {
            table.intern(name.as_ref());
        }
        table
    }

    /// The id of `name`, adding it when new.
    ///
    /// Ids are `u32`: a domain of more than four billion symbols is far outside what a
    /// program text or a fact file can hold, so running out is treated as a broken caller.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = u32::try_from(self.names.len()).expect("more than 2^32 Datalog symbols");
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    /// The id of `name`, if it was interned.
    pub fn id(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// The name of `id`, if it is one of ours.
    pub fn name(&self, id: u32) -> Option<&str> {
        self.names.get(id as usize).map(String::as_str)
    }

    /// Number of symbols; every id is below it.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// All names, in id order.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_idempotent_and_ordered() {
        let mut table = SymbolTable::new();
        assert_eq!(table.intern("Alice"), 0);
        assert_eq!(table.intern("Bob"), 1);
        assert_eq!(table.intern("Alice"), 0);
        assert_eq!(table.id("Bob"), Some(1));
        assert_eq!(table.id("Carol"), None);
        assert_eq!(table.name(1), Some("Bob"));
        assert_eq!(table.name(2), None);
        assert_eq!(table.len(), 2);
        let ordered = SymbolTable::from_names(["Dana", "Alice", "Dana"]);
        assert_eq!(ordered.names(), &["Dana".to_string(), "Alice".to_string()]);
        assert_eq!(ordered.id("Alice"), Some(1));
    }
}
