//! The op-conformance suite: a table of cases per op group, seeded inputs, sentinel-guarded
//! outputs and comparison with the naive reference, run on any backend.

pub mod case;
pub mod cases;
pub mod compare;
pub mod inputs;
pub mod runner;

pub use case::{tolerance_for, Case, Fill, Input, View};
pub use runner::{run_case, Outcome, Verdict};

use tl_tensor::{Device, Op};

/// Runs every case whose op name contains `filter` (all when `None`) on `device`.
pub fn run_suite(device: &Device, filter: Option<&str>) -> Vec<Outcome> {
    cases::all()
        .iter()
        .enumerate()
        .filter(|(_, c)| filter.is_none_or(|f| c.op.name().contains(f)))
        .map(|(i, c)| run_case(c, device, 0x7e57_0000 + i as u64))
        .collect()
}

/// Op names that no case covers; the suite fails while this is not empty.
pub fn uncovered_ops() -> Vec<String> {
    let covered: std::collections::BTreeSet<String> =
        cases::all().iter().map(|c| c.op.name()).collect();
    Op::all_names()
        .into_iter()
        .filter(|name| !covered.contains(name))
        .collect()
}
