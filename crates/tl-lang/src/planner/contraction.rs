//! Joins: the product of several indexed tensors, summed over the indices local to it,
//! lowered to few large ops. Indices found in one factor only are summed first; then the
//! pair whose result is smallest is contracted, again and again (greedy order). A pair with
//! shared summed indices becomes one batched matrix product: each operand is viewed as
//! [batch, free, summed] (or its transpose), groups of several axes are merged by a
//! reshape, and the product is reshaped back. A pair with nothing to sum is an elementwise
//! product with broadcasting.

use super::builder::{Builder, Val, INTERNAL};
use crate::diagnostic::Diagnostic;
use std::collections::{HashMap, HashSet};
use tl_tensor::{BinaryOp, Op, ReduceOp};

/// The product of `factors`, summed over the indices in `sum_over` (each of which occurs
/// in no other part of the equation).
pub(crate) fn product(
    b: &mut Builder,
    mut factors: Vec<Val>,
    sum_over: &HashSet<String>,
    ranges: &HashMap<String, usize>,
    preferred: &[String],
) -> Result<Val, Diagnostic> {
    if factors.is_empty() {
        return Err(b.internal("a product of no factors"));
    }
    // Indices that only one factor has are summed within it right away.
    for i in 0..factors.len() {
        let singles: Vec<String> = factors[i]
            .axes
            .iter()
            .filter(|axis| sum_over.contains(*axis))
            .filter(|axis| {
                factors
                    .iter()
                    .enumerate()
                    .all(|(j, other)| j == i || !other.axes.contains(axis))
            })
            .cloned()
            .collect();
        if !singles.is_empty() {
            factors[i] = sum_axes(b, factors[i].clone(), &singles)?;
        }
    }
    while factors.len() > 1 {
        let (i, j) = cheapest_pair(&factors, sum_over, ranges);
        let y = factors.remove(j);
        let x = factors.remove(i);
        let contracted: Vec<String> = x
            .axes
            .iter()
            .filter(|axis| sum_over.contains(*axis) && y.axes.contains(axis))
            .filter(|axis| !factors.iter().any(|other| other.axes.contains(axis)))
            .cloned()
            .collect();
        let joined = pairwise(b, x, y, &contracted, preferred)?;
        factors.insert(i, joined);
    }
    let result = factors
        .pop()
        .ok_or_else(|| b.internal("a product lost its factors"))?;
    let left: Vec<String> = result
        .axes
        .iter()
        .filter(|a| sum_over.contains(*a))
        .cloned()
        .collect();
    if left.is_empty() {
        Ok(result)
    } else {
        sum_axes(b, result, &left)
    }
}

/// Sums `v` over the named axes.
pub(crate) fn sum_axes(b: &mut Builder, v: Val, axes: &[String]) -> Result<Val, Diagnostic> {
    reduce_axes(b, v, axes, ReduceOp::Sum)
}

pub(crate) fn reduce_axes(
    b: &mut Builder,
    v: Val,
    axes: &[String],
    op: ReduceOp,
) -> Result<Val, Diagnostic> {
    if axes.is_empty() {
        return Ok(v);
    }
    let mut positions: Vec<usize> = axes.iter().filter_map(|a| v.position(a)).collect();
    positions.sort_unstable();
    positions.dedup();
    let kept: Vec<String> = v
        .axes
        .iter()
        .enumerate()
        .filter(|(i, _)| !positions.contains(i))
        .map(|(_, a)| a.clone())
        .collect();
    b.emit(
        Op::Reduce {
            op,
            axes: positions,
            keepdim: false,
        },
        &[&v],
        kept,
    )
}

/// The pair of factors whose contraction has the fewest elements; ties go to the pair
/// that comes first.
fn cheapest_pair(
    factors: &[Val],
    sum_over: &HashSet<String>,
    ranges: &HashMap<String, usize>,
) -> (usize, usize) {
    let mut best = (0, 1);
    let mut best_cost = u128::MAX;
    for i in 0..factors.len() {
        for j in i + 1..factors.len() {
            let mut axes: Vec<&String> = factors[i].axes.iter().collect();
            for axis in &factors[j].axes {
                if !axes.contains(&axis) {
                    axes.push(axis);
                }
            }
            let cost = axes
                .iter()
                .filter(|axis| {
                    let summed_here = sum_over.contains(**axis)
                        && factors
                            .iter()
                            .enumerate()
                            .all(|(k, f)| k == i || k == j || !f.axes.contains(axis));
                    !summed_here
                })
                .map(|axis| ranges.get(*axis).copied().unwrap_or(1) as u128)
                .fold(1u128, |acc, r| acc.saturating_mul(r));
            if cost < best_cost {
                best_cost = cost;
                best = (i, j);
            }
        }
    }
    best
}

/// How many pairs of axes appear in the opposite order from `preferred`.
fn inversions(axes: &[String], preferred: &[String]) -> usize {
    let rank = |axis: &String| {
        preferred
            .iter()
            .position(|p| p == axis)
            .unwrap_or(preferred.len())
    };
    let ranks: Vec<usize> = axes.iter().map(rank).collect();
    let mut count = 0;
    for i in 0..ranks.len() {
        for j in i + 1..ranks.len() {
            if ranks[i] > ranks[j] {
                count += 1;
            }
        }
    }
    count
}

/// The operand layout a matrix product needs, and whether it is already so.
struct Operand {
    /// The axis order to permute to (equal to the current order when no permute is needed).
    order: Vec<String>,
    transposed: bool,
    permutes: bool,
}

/// Left operand as [batch, free, summed], or [batch, summed, free] when transposed; the
/// right as [batch, summed, free] or [batch, free, summed].
fn operand_layout(
    v: &Val,
    batch: &[String],
    free: &[String],
    summed: &[String],
    left: bool,
) -> Operand {
    let cat = |groups: [&[String]; 3]| -> Vec<String> { groups.concat() };
    let (plain, transposed) = if left {
        (cat([batch, free, summed]), cat([batch, summed, free]))
    } else {
        (cat([batch, summed, free]), cat([batch, free, summed]))
    };
    if v.axes == plain {
        Operand {
            order: plain,
            transposed: false,
            permutes: false,
        }
    } else if v.axes == transposed {
        Operand {
            order: transposed,
            transposed: true,
            permutes: false,
        }
    } else {
        Operand {
            order: plain,
            transposed: false,
            permutes: true,
        }
    }
}

fn in_order_of(v: &Val, names: &[String]) -> Vec<String> {
    v.axes
        .iter()
        .filter(|a| names.contains(a))
        .cloned()
        .collect()
}

/// Contracts two factors over `contracted`.
fn pairwise(
    b: &mut Builder,
    x: Val,
    y: Val,
    contracted: &[String],
    preferred: &[String],
) -> Result<Val, Diagnostic> {
    if contracted.is_empty() {
        return b.binary(BinaryOp::Mul, x, y);
    }
    // Two ways round; keep the one whose result order is closest to the preferred order,
    // then the one with fewer permutes.
    let plan_for = |l: &Val, r: &Val| {
        let batch: Vec<String> = l
            .axes
            .iter()
            .filter(|a| r.axes.contains(a) && !contracted.contains(a))
            .cloned()
            .collect();
        let summed = in_order_of(l, contracted);
        let left_free: Vec<String> = l
            .axes
            .iter()
            .filter(|a| !r.axes.contains(a))
            .cloned()
            .collect();
        let right_free: Vec<String> = r
            .axes
            .iter()
            .filter(|a| !l.axes.contains(a))
            .cloned()
            .collect();
        let lo = operand_layout(l, &batch, &left_free, &summed, true);
        let ro = operand_layout(r, &batch, &right_free, &summed, false);
        let result: Vec<String> = [batch.as_slice(), &left_free, &right_free].concat();
        let score = (
            inversions(&result, preferred),
            usize::from(lo.permutes) + usize::from(ro.permutes),
        );
        (score, batch, summed, left_free, right_free, lo, ro)
    };
    let forward = plan_for(&x, &y);
    let backward = plan_for(&y, &x);
    let (l, r, (_, batch, summed, left_free, right_free, lo, ro)) = if backward.0 < forward.0 {
        (y, x, backward)
    } else {
        (x, y, forward)
    };
    let size = |v: &Val, names: &[String]| -> usize {
        names
            .iter()
            .map(|n| v.position(n).map(|p| v.shape[p]).unwrap_or(1))
            .product()
    };
    let batch_shape: Vec<usize> = batch
        .iter()
        .map(|n| l.position(n).map(|p| l.shape[p]).unwrap_or(1))
        .collect();
    let (m, k, n) = (
        size(&l, &left_free),
        size(&l, &summed),
        size(&r, &right_free),
    );
    let sizes_of = |v: &Val, names: &[String]| -> Vec<usize> {
        names
            .iter()
            .map(|n| v.position(n).map(|p| v.shape[p]).unwrap_or(1))
            .collect()
    };
    let (left_sizes, right_sizes) = (sizes_of(&l, &left_free), sizes_of(&r, &right_free));

    let l = b.permute_to(l, &lo.order)?;
    let r = b.permute_to(r, &ro.order)?;
    let group = |names: &[String]| -> Vec<String> {
        if names.len() == 1 {
            names.to_vec()
        } else {
            vec![INTERNAL.to_string()]
        }
    };
    let matrix =
        |b: &mut Builder, v: Val, first: (&[String], usize), second: (&[String], usize)| {
            let mut shape = batch_shape.clone();
            shape.extend([first.1, second.1]);
            let mut axes = batch.clone();
            axes.extend(group(first.0));
            axes.extend(group(second.0));
            b.reshape(&v, shape, axes)
        };
    let l = if lo.transposed {
        matrix(b, l, (&summed, k), (&left_free, m))?
    } else {
        matrix(b, l, (&left_free, m), (&summed, k))?
    };
    let r = if ro.transposed {
        matrix(b, r, (&right_free, n), (&summed, k))?
    } else {
        matrix(b, r, (&summed, k), (&right_free, n))?
    };
    let mut axes = batch.clone();
    axes.extend(group(&left_free));
    axes.extend(group(&right_free));
    let product = b.emit(
        Op::MatMul {
            transpose_lhs: lo.transposed,
            transpose_rhs: ro.transposed,
        },
        &[&l, &r],
        axes,
    )?;
    // Back to one axis per index.
    let mut shape = batch_shape;
    shape.extend(left_sizes);
    shape.extend(right_sizes);
    let mut axes = batch;
    axes.extend(left_free);
    axes.extend(right_free);
    b.reshape(&product, shape, axes)
}
