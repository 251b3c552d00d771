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
    ///
    /// Walks the smaller relation and gallops through the larger, copying the runs in
    /// between whole: adding a small delta to a large relation costs a copy of the large
    /// one plus a few searches per new tuple, not a comparison per tuple.
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
        let (large, small) = if self.len() >= other.len() {
            (self, other)
        } else {
            (other, self)
        };
        let mut data = Vec::with_capacity(large.data.len() + small.data.len());
        let mut cursor = 0;
        for tuple in small.tuples() {
            let position = large.lower_bound_from(cursor, tuple);
            data.extend_from_slice(&large.data[cursor * arity..position * arity]);
            data.extend_from_slice(tuple);
            cursor = position;
            if position < large.n_tuples && large.tuple(position) == tuple {
                cursor += 1;
            }
        }
        data.extend_from_slice(&large.data[cursor * arity..]);
        let n_tuples = data.len() / arity;
        Some(SparseRelation::from_sorted(arity, data, n_tuples))
    }

    /// The tuples of `self` that are not in `other`. `None` when the arities differ.
    ///
    /// Walks the smaller relation and gallops through the larger, as
    /// [`union`](Self::union) does.
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
        let mut data = Vec::new();
        if self.len() <= other.len() {
            let mut cursor = 0;
            for tuple in self.tuples() {
                cursor = other.lower_bound_from(cursor, tuple);
                if cursor >= other.n_tuples || other.tuple(cursor) != tuple {
                    data.extend_from_slice(tuple);
                }
            }
        } else {
            data.reserve(self.data.len());
            let mut cursor = 0;
            for tuple in other.tuples() {
                let position = self.lower_bound_from(cursor, tuple);
                data.extend_from_slice(&self.data[cursor * arity..position * arity]);
                cursor = position;
                if position < self.n_tuples && self.tuple(position) == tuple {
                    cursor += 1;
                }
            }
            data.extend_from_slice(&self.data[cursor * arity..]);
        }
        let n_tuples = data.len() / arity;
        Some(SparseRelation::from_sorted(arity, data, n_tuples))
    }

    /// The first position at or after `start` whose tuple is not less than `tuple`:
    /// galloping (doubling steps from `start`, then binary search), so that a walk over
    /// increasing tuples costs the logarithm of each gap rather than of the whole.
    fn lower_bound_from(&self, start: usize, tuple: &[u32]) -> usize {
        let mut low = start;
        let mut step = 1;
        let mut high = start;
        while high < self.n_tuples && self.tuple(high) < tuple {
            low = high + 1;
            high = start + step;
            step *= 2;
        }
        let mut high = high.min(self.n_tuples);
        while low < high {
            let middle = low + (high - low) / 2;
            if self.tuple(middle) < tuple {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low
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
    fn galloping_merges_agree_with_sets_at_every_size_ratio() {
        let mut state = 99u64;
        let mut next = move |range: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) % range) as u32
        };
        for n_a in [0, 1, 3, 40, 1000] {
            for n_b in [0, 1, 3, 40, 1000] {
                let mut random = |n: usize| {
                    let flat: Vec<u32> = (0..2 * n).map(|_| next(40)).collect();
                    SparseRelation::from_flat(2, flat).unwrap()
                };
                let (a, b) = (random(n_a), random(n_b));
                let union: BTreeSet<_> = set(&a).union(&set(&b)).cloned().collect();
                let a_minus_b: BTreeSet<_> = set(&a).difference(&set(&b)).cloned().collect();
                let b_minus_a: BTreeSet<_> = set(&b).difference(&set(&a)).cloned().collect();
                assert_eq!(set(&a.union(&b).unwrap()), union, "{n_a} ∪ {n_b}");
                assert_eq!(a.union(&b).unwrap().len(), union.len());
                assert_eq!(set(&a.difference(&b).unwrap()), a_minus_b, "{n_a} - {n_b}");
                assert_eq!(set(&b.difference(&a).unwrap()), b_minus_a, "{n_b} - {n_a}");
                assert_eq!(a.difference(&b).unwrap().len(), a_minus_b.len());
            }
        }
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
