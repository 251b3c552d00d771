//! Sorting and deduplicating tuples stored flat (`arity` ids per tuple, one after another),
//! the normal form of every sparse relation.
//!
//! Tuples of up to four ids are packed into one integer (u32, u64 or u128) whose order is
//! the tuples' lexicographic order, so that sorting is a plain parallel integer sort with
//! no indirection; wider tuples sort through a permutation.

use rayon::prelude::*;

/// Below this many tuples a sequential sort wins: waking the pool costs more.
const PARALLEL_SORT_MIN: usize = 1 << 15;

/// Sorts `flat` (tuples of `arity` ids) lexicographically and removes duplicates.
pub fn sort_dedup(flat: Vec<u32>, arity: usize) -> Vec<u32> {
    match arity {
        0 => {
            // The empty tuple: present or not.
            Vec::new()
        }
        1 => {
            let mut ids = flat;
            sort_unstable(&mut ids);
            ids.dedup();
            ids
        }
        2 => {
            let mut packed: Vec<u64> = flat
                .chunks_exact(2)
                .map(|t| (u64::from(t[0]) << 32) | u64::from(t[1]))
                .collect();
            sort_unstable(&mut packed);
            packed.dedup();
            let mut out = Vec::with_capacity(packed.len() * 2);
            for key in packed {
                out.push((key >> 32) as u32);
                out.push(key as u32);
            }
            out
        }
        3 | 4 => {
            let mut packed: Vec<u128> = flat
                .chunks_exact(arity)
                .map(|t| {
                    t.iter()
                        .fold(0u128, |key, &id| (key << 32) | u128::from(id))
                })
                .collect();
            sort_unstable(&mut packed);
            packed.dedup();
            let mut out = Vec::with_capacity(packed.len() * arity);
            for key in packed {
                for position in (0..arity).rev() {
                    out.push((key >> (32 * position)) as u32);
                }
            }
            out
        }
        _ => {
            let n_tuples = flat.len() / arity;
            let mut order: Vec<usize> = (0..n_tuples).collect();
            let tuple = |i: usize| &flat[i * arity..(i + 1) * arity];
            if n_tuples >= PARALLEL_SORT_MIN {
                order.par_sort_unstable_by(|&a, &b| tuple(a).cmp(tuple(b)));
            } else {
                order.sort_unstable_by(|&a, &b| tuple(a).cmp(tuple(b)));
            }
            order.dedup_by(|a, b| tuple(*a) == tuple(*b));
            let mut out = Vec::with_capacity(order.len() * arity);
            for i in order {
                out.extend_from_slice(tuple(i));
            }
            out
        }
    }
}

fn sort_unstable<T: Ord + Send>(values: &mut [T]) {
    if values.len() >= PARALLEL_SORT_MIN {
        values.par_sort_unstable();
    } else {
        values.sort_unstable();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The obvious definition: tuples as vectors, sorted and deduplicated.
    fn by_definition(flat: &[u32], arity: usize) -> Vec<u32> {
        let mut tuples: Vec<Vec<u32>> = flat.chunks_exact(arity).map(|t| t.to_vec()).collect();
        tuples.sort();
        tuples.dedup();
        tuples.concat()
    }

    #[test]
    fn every_arity_matches_the_definition() {
        // A small linear congruential generator: ids from a small range so that there are
        // duplicates and ties in every column.
        let mut state = 12345u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) % 7) as u32
        };
        for arity in 1..=6 {
            for n_tuples in [0, 1, 2, 50, 300] {
                let flat: Vec<u32> = (0..n_tuples * arity).map(|_| next()).collect();
                assert_eq!(
                    sort_dedup(flat.clone(), arity),
                    by_definition(&flat, arity),
                    "arity {arity}, {n_tuples} tuples"
                );
            }
        }
    }

    #[test]
    fn high_ids_keep_their_order_when_packed() {
        let flat = vec![u32::MAX, 0, 1, u32::MAX, 0, u32::MAX, u32::MAX, 0];
        assert_eq!(
            sort_dedup(flat, 2),
            vec![0, u32::MAX, 1, u32::MAX, u32::MAX, 0]
        );
    }
}
