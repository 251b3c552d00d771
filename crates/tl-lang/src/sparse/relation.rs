//! A sparse Boolean relation: the set of tuples for which it holds, kept as sorted,
//! deduplicated tuples of symbol ids stored flat. Memory is proportional to the number of
//! tuples, never to the product of the domains' sizes.

use std::cmp::Ordering;

use super::sort::sort_dedup;

/// A set of tuples of `arity` symbol ids, sorted lexicographically, without duplicates.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SparseRelation {
    arity: usize,
    /// Tuples one after another; `n_tuples * arity` ids.
    data: Vec<u32>,
    /// Kept apart from `data` because a relation of arity 0 (a proposition) holds one
    /// empty tuple or none, which `data` cannot tell apart.
    n_tuples: usize,
}

impl SparseRelation {
    /// The empty relation of `arity`.
    pub fn empty(arity: usize) -> SparseRelation {
        SparseRelation {
            arity,
            data: Vec::new(),
            n_tuples: 0,
        }
    }

    /// A relation of arity 0 that holds (`true`) or not.
    pub fn proposition(holds: bool) -> SparseRelation {
        SparseRelation {
            arity: 0,
            data: Vec::new(),
            n_tuples: usize::from(holds),
        }
    }

    /// From tuples stored flat, in any order, possibly repeated. `None` when `flat` is not
    /// a whole number of tuples.
    pub fn from_flat(arity: usize, flat: Vec<u32>) -> Option<SparseRelation> {
        if arity == 0 {
            return flat.is_empty().then(|| SparseRelation::empty(0));
        }
        if !flat.len().is_multiple_of(arity) {
            return None;
        }
        let data = sort_dedup(flat, arity);
        let n_tuples = data.len() / arity;
        Some(SparseRelation {
            arity,
            data,
            n_tuples,
        })
    }

    /// From tuples given one by one. `None` when one has the wrong length.
    pub fn from_tuples<T: AsRef<[u32]>>(
        arity: usize,
        tuples: impl IntoIterator<Item = T>,
    ) -> Option<SparseRelation> {
        let mut flat = Vec::new();
        let mut count = 0usize;
        for tuple in tuples {
            let tuple = tuple.as_ref();
            if tuple.len() != arity {
                return None;
            }
            flat.extend_from_slice(tuple);
            count += 1;
        }
        if arity == 0 {
            return Some(SparseRelation::proposition(count > 0));
        }
        SparseRelation::from_flat(arity, flat)
    }

    /// From data already sorted and deduplicated (what merges produce).
    fn from_sorted(arity: usize, data: Vec<u32>, n_tuples: usize) -> SparseRelation {
        debug_assert!(arity == 0 || data.len() == n_tuples * arity);
        SparseRelation {
            arity,
            data,
            n_tuples,
        }
    }

    pub fn arity(&self) -> usize {
        self.arity
    }

    /// Number of tuples.
    pub fn len(&self) -> usize {
        self.n_tuples
    }

    pub fn is_empty(&self) -> bool {
        self.n_tuples == 0
    }

    /// The tuples stored flat, in order.
    pub fn flat(&self) -> &[u32] {
        &self.data
    }

    /// The `i`-th tuple in order.
    pub fn tuple(&self, i: usize) -> &[u32] {
        &self.data[i * self.arity..(i + 1) * self.arity]
    }

    /// The tuples in order.
    pub fn tuples(&self) -> impl ExactSizeIterator<Item = &[u32]> + '_ {
        let arity = self.arity;
        (0..self.n_tuples).map(move |i| &self.data[i * arity..(i + 1) * arity])
    }

    /// Whether `tuple` belongs to the relation (binary search).
    pub fn contains(&self, tuple: &[u32]) -> bool {
        if tuple.len() != self.arity {
            return false;
        }
        if self.arity == 0 {
            return self.n_tuples > 0;
        }
        let (mut low, mut high) = (0, self.n_tuples);
        while low < high {
            let middle = low + (high - low) / 2;
            match self.tuple(middle).cmp(tuple) {
                Ordering::Less => low = middle + 1,
                Ordering::Greater => high = middle,
                Ordering::Equal => return true,
            }
        }
        false
    }

    /// The tuples of either relation. `None` when the arities differ.
    pub fn union(&self, other: &SparseRelation) -> Option<SparseRelation> {
        if self.arity != other.arity {
            return None;
        }
        if self.arity == 0 {
            return Some(SparseRelation::proposition(
                !self.is_empty() || !other.is_empty(),
            ));
        }
        let arity = self.arity;
        let mut data = Vec::with_capacity(self.data.len() + other.data.len());
        let (mut i, mut j) = (0, 0);
        while i < self.n_tuples && j < other.n_tuples {
            let (a, b) = (self.tuple(i), other.tuple(j));
            match a.cmp(b) {
                Ordering::Less => {
                    data.extend_from_slice(a);
                    i += 1;
                }
                Ordering::Greater => {
                    data.extend_from_slice(b);
                    j += 1;
                }
                Ordering::Equal => {
                    data.extend_from_slice(a);
                    i += 1;
                    j += 1;
                }
            }
        }
        data.extend_from_slice(&self.data[i * arity..]);
        data.extend_from_slice(&other.data[j * arity..]);
        let n_tuples = data.len() / arity;
        Some(SparseRelation::from_sorted(arity, data, n_tuples))
    }

    /// The tuples of `self` that are not in `other`. `None` when the arities differ.
    pub fn difference(&self, other: &SparseRelation) -> Option<SparseRelation> {
        if self.arity != other.arity {
            return None;
        }
        if self.arity == 0 {
            return Some(SparseRelation::proposition(
                !self.is_empty() && other.is_empty(),
            ));
        }
        let arity = self.arity;
        let mut data = Vec::with_capacity(self.data.len());
        let mut j = 0;
        for a in self.tuples() {
            // Galloping would win when `other` is much larger; a linear merge is enough for
            // the semi-naive loop, where both sides are of similar size or `other` is
            // small.
            while j < other.n_tuples && other.tuple(j) < a {
                j += 1;
            }
            if j < other.n_tuples && other.tuple(j) == a {
                j += 1;
                continue;
            }
            data.extend_from_slice(a);
        }
        let n_tuples = data.len() / arity;
        Some(SparseRelation::from_sorted(arity, data, n_tuples))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn set(relation: &SparseRelation) -> BTreeSet<Vec<u32>> {
        relation.tuples().map(|t| t.to_vec()).collect()
    }

    fn relation(tuples: &[[u32; 2]]) -> SparseRelation {
        SparseRelation::from_tuples(2, tuples).unwrap()
    }

    #[test]
    fn construction_sorts_and_deduplicates() {
        let r = relation(&[[3, 1], [0, 2], [3, 1], [0, 1]]);
        assert_eq!(r.flat(), &[0, 1, 0, 2, 3, 1]);
        assert_eq!(r.len(), 3);
        assert!(r.contains(&[0, 2]));
        assert!(!r.contains(&[2, 0]));
        assert!(!r.contains(&[0]));
    }

    #[test]
    fn union_and_difference_agree_with_sets() {
        let a = relation(&[[0, 1], [1, 2], [2, 3], [5, 5]]);
        let b = relation(&[[1, 2], [4, 0], [5, 4], [9, 9]]);
        let union = a.union(&b).unwrap();
        let difference = a.difference(&b).unwrap();
        let expected_union: BTreeSet<_> = set(&a).union(&set(&b)).cloned().collect();
        let expected_difference: BTreeSet<_> = set(&a).difference(&set(&b)).cloned().collect();
        assert_eq!(set(&union), expected_union);
        assert_eq!(set(&difference), expected_difference);
        assert_eq!(union.len(), expected_union.len());
        assert!(a.union(&SparseRelation::empty(3)).is_none());
    }

    #[test]
    fn propositions_hold_or_not() {
        let yes = SparseRelation::proposition(true);
        let no = SparseRelation::proposition(false);
        assert_eq!(yes.len(), 1);
        assert!(yes.contains(&[]));
        assert!(!no.contains(&[]));
        assert_eq!(yes.union(&no).unwrap(), yes);
        assert_eq!(yes.difference(&yes).unwrap(), no);
        assert_eq!(SparseRelation::from_tuples(0, [[0u32; 0]]).unwrap(), yes);
    }

    #[test]
    fn ragged_input_is_refused() {
        assert!(SparseRelation::from_flat(2, vec![1, 2, 3]).is_none());
        assert!(SparseRelation::from_tuples(2, [vec![1, 2], vec![3]]).is_none());
    }
}
