//! An index of a sparse relation by some of its columns: the tuples reordered so that the
//! key columns come first and sorted, so that the tuples matching a key form one run. A
//! single key column gets CSR offsets (one slot per symbol id, O(1) lookup); longer keys are
//! found by binary search.

use std::ops::Range;

use super::relation::SparseRelation;
use super::sort::sort_dedup;

/// CSR offsets are used while the largest key id is at most this many times the number of
/// tuples (plus a little): beyond that the offsets would dwarf the tuples themselves.
const CSR_SLOTS_PER_TUPLE: usize = 4;

#[derive(Clone, Debug)]
pub struct RelationIndex {
    /// Columns of the relation, key columns first, then the others in their order.
    columns: Vec<usize>,
    n_key_columns: usize,
    /// The tuples with their columns in `columns` order, sorted.
    data: Vec<u32>,
    n_tuples: usize,
    /// For a single key column: rows with key `k` are `offsets[k]..offsets[k + 1]`.
    offsets: Option<Vec<u32>>,
}

impl RelationIndex {
    /// Indexes `relation` by `key_columns` (distinct column numbers below its arity).
    pub fn build(relation: &SparseRelation, key_columns: &[usize]) -> RelationIndex {
        let arity = relation.arity();
        let mut columns: Vec<usize> = key_columns.to_vec();
        columns.extend((0..arity).filter(|c| !key_columns.contains(c)));
        let identity = columns.iter().enumerate().all(|(i, &c)| i == c);
        let data = if identity {
            relation.flat().to_vec()
        } else {
            let mut permuted = Vec::with_capacity(relation.flat().len());
            for tuple in relation.tuples() {
                permuted.extend(columns.iter().map(|&c| tuple[c]));
            }
            sort_dedup(permuted, arity)
        };
        let n_tuples = relation.len();
        let offsets = (key_columns.len() == 1 && n_tuples > 0)
            .then(|| csr_offsets(&data, arity, n_tuples))
            .flatten();
        RelationIndex {
            columns,
            n_key_columns: key_columns.len(),
            data,
            n_tuples,
            offsets,
        }
    }

    /// Number of ids per stored row (the relation's arity).
    pub fn arity(&self) -> usize {
        self.columns.len()
    }

    /// The relation's columns in stored order: `columns()[k]` is the column of the
    /// relation that position `k` of a stored row holds.
    pub fn columns(&self) -> &[usize] {
        &self.columns
    }

    pub fn len(&self) -> usize {
        self.n_tuples
    }

    pub fn is_empty(&self) -> bool {
        self.n_tuples == 0
    }

    /// Stored row `i` (key columns first).
    pub fn row(&self, i: usize) -> &[u32] {
        let arity = self.arity();
        &self.data[i * arity..(i + 1) * arity]
    }

    /// The rows whose key columns equal `key` (its length is the number of key columns).
    pub fn lookup(&self, key: &[u32]) -> Range<usize> {
        debug_assert_eq!(key.len(), self.n_key_columns);
        if let Some(offsets) = &self.offsets {
            let k = key[0] as usize;
            return match (offsets.get(k), offsets.get(k + 1)) {
                (Some(&start), Some(&end)) => start as usize..end as usize,
                _ => 0..0,
            };
        }
        if key.is_empty() {
            return 0..self.n_tuples;
        }
        let n_key = self.n_key_columns;
        let prefix = |i: usize| &self.row(i)[..n_key];
        let start = self.partition_point(|i| prefix(i) < key);
        let end = start + self.partition_point_from(start, |i| prefix(i) <= key);
        start..end
    }

    /// First row in `0..n_tuples` for which `before` is false (rows for which it is true
    /// come first).
    fn partition_point(&self, before: impl Fn(usize) -> bool) -> usize {
        self.partition_point_from(0, before)
    }

    /// As [`partition_point`](Self::partition_point) over `start..n_tuples`, returned
    /// relative to `start`.
    fn partition_point_from(&self, start: usize, before: impl Fn(usize) -> bool) -> usize {
        let (mut low, mut high) = (start, self.n_tuples);
        while low < high {
            let middle = low + (high - low) / 2;
            if before(middle) {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        low - start
    }
}

/// CSR offsets over the first column of sorted rows, or `None` when the ids are too spread
/// out (or too many) for one slot per id.
fn csr_offsets(data: &[u32], arity: usize, n_tuples: usize) -> Option<Vec<u32>> {
    let max_key = data.chunks_exact(arity).map(|row| row[0]).max()? as usize;
    if max_key > CSR_SLOTS_PER_TUPLE * n_tuples + 1024 || u32::try_from(n_tuples).is_err() {
        return None;
    }
    let mut offsets = vec![0u32; max_key + 2];
    for row in data.chunks_exact(arity) {
        offsets[row[0] as usize + 1] += 1;
    }
    for k in 1..offsets.len() {
        offsets[k] += offsets[k - 1];
    }
    Some(offsets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(index: &RelationIndex, key: &[u32]) -> Vec<Vec<u32>> {
        index.lookup(key).map(|i| index.row(i).to_vec()).collect()
    }

    #[test]
    fn lookups_find_exactly_the_matching_tuples() {
        let relation = SparseRelation::from_tuples(
            3,
            [
                [0, 1, 2],
                [1, 1, 0],
                [2, 1, 2],
                [0, 5, 2],
                [3, 3, 3],
                [1, 0, 2],
            ],
        )
        .unwrap();
        for key_columns in [
            vec![],
            vec![0],
            vec![1],
            vec![2],
            vec![2, 0],
            vec![1, 2],
            vec![0, 1, 2],
        ] {
            let index = RelationIndex::build(&relation, &key_columns);
            assert_eq!(index.len(), relation.len());
            for key in [[0u32, 1, 2], [1, 1, 1], [2, 2, 0], [3, 3, 3], [9, 0, 2]] {
                let key = &key[..key_columns.len()];
                let mut expected: Vec<Vec<u32>> = relation
                    .tuples()
                    .filter(|t| key_columns.iter().zip(key).all(|(&c, &k)| t[c] == k))
                    .map(|t| index.columns().iter().map(|&c| t[c]).collect())
                    .collect();
                expected.sort();
                assert_eq!(
                    matches(&index, key),
                    expected,
                    "key {key:?} on {key_columns:?}"
                );
            }
        }
    }

    #[test]
    fn spread_out_ids_fall_back_to_binary_search() {
        let relation =
            SparseRelation::from_tuples(2, [[7, 1], [4_000_000, 2], [4_000_000, 3]]).unwrap();
        let index = RelationIndex::build(&relation, &[0]);
        assert!(index.offsets.is_none());
        assert_eq!(
            matches(&index, &[4_000_000]),
            vec![vec![4_000_000, 2], vec![4_000_000, 3]]
        );
        assert_eq!(matches(&index, &[8]), Vec::<Vec<u32>>::new());
    }
}
