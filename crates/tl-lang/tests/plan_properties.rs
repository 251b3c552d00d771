//! Random joins, planned and run, against the definition evaluated by brute force: every
//! assignment of every index, the product of the factors, projected by the equation's
//! operator. This exercises contraction order, operand orientation, transposes, merged
//! axis groups, pre-summed indices, diagonals (repeated indices) and broadcast left-only
//! indices far beyond the hand-written cases.

mod support;

use proptest::prelude::*;
use std::collections::HashMap;
use support::{indices, Array};
use tl_lang::environment::MapEnvironment;
use tl_lang::{analyze, explain, plan_program};

const LETTERS: [&str; 5] = ["a", "b", "c", "d", "e"];

#[derive(Clone, Debug)]
struct Join {
    /// The range of each letter.
    ranges: Vec<usize>,
    /// Each factor's indices (letters by number), possibly repeated.
    factors: Vec<Vec<usize>>,
    /// The left-hand indices, possibly including letters absent on the right.
    lhs: Vec<usize>,
    /// `=`, `max=`, `min=`, `avg=`.
    op: &'static str,
    /// A nonlinearity around the join: every index not on the left is then summed inside
    /// it, and the operator has nothing left to project.
    wrap: Option<&'static str>,
    /// Small integers, so that sums and products are exact.
    values: Vec<Vec<i32>>,
}

fn join() -> impl Strategy<Value = Join> {
    let ranges = prop::collection::vec(1usize..=3, LETTERS.len());
    let factors = prop::collection::vec(prop::collection::vec(0..LETTERS.len(), 1..=3), 1..=4);
    let lhs = prop::collection::vec(0..LETTERS.len(), 0..=3);
    let op = prop::sample::select(vec!["=", "max=", "min=", "avg="]);
    let wrap = prop::option::weighted(0.3, prop::sample::select(vec!["relu", "step", "tanh"]));
    (ranges, factors, lhs, op, wrap, any::<u64>()).prop_map(
        |(ranges, factors, lhs, op, wrap, seed)| {
            // Values from a small deterministic generator seeded by proptest.
            let mut state = seed | 1;
            let mut next = move || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % 7) as i32 - 3
            };
            let values = factors
                .iter()
                .map(|f| {
                    let count: usize = f.iter().map(|&l| ranges[l]).product();
                    (0..count).map(|_| next()).collect()
                })
                .collect();
            Join {
                ranges,
                factors,
                lhs,
                op,
                wrap,
                values,
            }
        },
    )
}

impl Join {
    fn source(&self) -> String {
        let refs: Vec<String> = self
            .factors
            .iter()
            .enumerate()
            .map(|(n, f)| {
                let names: Vec<&str> = f.iter().map(|&l| LETTERS[l]).collect();
                format!("T{n}[{}]", names.join(", "))
            })
            .collect();
        let body = refs.join(" ");
        let rhs = match self.wrap {
            Some(f) => format!("{f}({body})"),
            None => body,
        };
        let lhs: Vec<&str> = self.lhs.iter().map(|&l| LETTERS[l]).collect();
        if lhs.is_empty() {
            format!("Y {} {rhs}\n", self.op)
        } else {
            format!("Y[{}] {} {rhs}\n", lhs.join(", "), self.op)
        }
    }

    fn lhs_shape(&self) -> Vec<usize> {
        self.lhs.iter().map(|&l| self.ranges[l]).collect()
    }

    /// The definition, index assignment by index assignment.
    fn brute_force(&self) -> Array {
        let mut used: Vec<usize> = self.factors.iter().flatten().copied().collect();
        used.extend(&self.lhs);
        used.sort_unstable();
        used.dedup();
        let shape = self.lhs_shape();
        let mut groups: HashMap<Vec<usize>, Vec<f64>> = HashMap::new();
        let all: Vec<usize> = used.iter().map(|&l| self.ranges[l]).collect();
        for assignment in indices(&all) {
            let value_of =
                |letter: usize| assignment[used.iter().position(|&u| u == letter).unwrap()];
            let product: f64 = self
                .factors
                .iter()
                .zip(&self.values)
                .map(|(f, values)| {
                    let mut flat = 0;
                    for &l in f {
                        flat = flat * self.ranges[l] + value_of(l);
                    }
                    values[flat] as f64
                })
                .product();
            let key: Vec<usize> = self.lhs.iter().map(|&l| value_of(l)).collect();
            // A letter repeated on the left writes only where its positions agree.
            let consistent = self.lhs.iter().zip(&key).all(|(&l, &k)| value_of(l) == k);
            if consistent {
                groups.entry(key).or_default().push(product);
            }
        }
        let data = indices(&shape)
            .iter()
            .map(|key| {
                let Some(values) = groups.get(key) else {
                    return 0.0;
                };
                let sum: f64 = values.iter().sum();
                match self.wrap {
                    Some(f) => apply(f, sum),
                    None => match self.op {
                        "=" => sum,
                        "avg=" => sum / values.len() as f64,
                        "max=" => values.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                        _ => values.iter().cloned().fold(f64::INFINITY, f64::min),
                    },
                }
            })
            .collect();
        Array::new(&shape, data)
    }
}

fn apply(function: &str, x: f64) -> f64 {
    match function {
        "relu" => x.max(0.0),
        "step" => f64::from(x > 0.0),
        _ => x.tanh(),
    }
}

/// A repeated left-hand letter only keeps the diagonal: the brute force above groups
/// assignments by the left's positions, so off-diagonal positions get no values (0).
fn check(join: &Join) -> Result<(), TestCaseError> {
    let source = join.source();
    let mut env = MapEnvironment::new().with_tensor("Y", &join.lhs_shape());
    let mut tensors = HashMap::new();
    for (n, (f, values)) in join.factors.iter().zip(&join.values).enumerate() {
        let shape: Vec<usize> = f.iter().map(|&l| join.ranges[l]).collect();
        env = env.with_tensor(&format!("T{n}"), &shape);
        tensors.insert(
            format!("T{n}"),
            Array::new(&shape, values.iter().map(|&v| v as f64).collect()),
        );
    }
    let analysis = analyze(&source, &env);
    prop_assert!(
        !analysis.has_errors(),
        "{source}: {:?}",
        analysis.diagnostics
    );
    let mut plans = plan_program(&analysis.program, &analysis.checked, &env);
    let plan = plans
        .remove(0)
        .plan
        .map_err(|d| TestCaseError::fail(format!("{source}: {d:?}")))?;
    let got = support::run(&plan, &tensors, &HashMap::new());
    let want = join.brute_force();
    prop_assert_eq!(&got.shape, &want.shape, "{}\n{}", source, explain(&plan));
    for (g, w) in got.data.iter().zip(&want.data) {
        prop_assert!(
            (g - w).abs() <= 1e-9 * (1.0 + w.abs()),
            "{}: {:?} vs {:?}\n{}",
            source,
            got.data,
            want.data,
            explain(&plan)
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn planned_joins_match_the_definition(join in join()) {
        check(&join)?;
    }
}
