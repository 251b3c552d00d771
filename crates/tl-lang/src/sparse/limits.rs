//! Bounds on a fixpoint computation, so that a program whose answer would not fit in
//! memory or time stops with an error naming the rule instead.

/// Bounds for [`SparseProgram::fixpoint`](super::SparseProgram::fixpoint).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixpointLimits {
    /// Semi-naive rounds per recursive component. Datalog always reaches its fixpoint (a
    /// round that adds nothing ends it), so this bounds time, not correctness.
    pub max_iterations: usize,
    /// Rows of one intermediate join, and tuples of one relation.
    pub max_tuples: usize,
}

impl Default for FixpointLimits {
    fn default() -> FixpointLimits {
        FixpointLimits {
            max_iterations: 1_000_000,
            // 10^8 binary tuples are 800 MB: as much as a relation should take on a
            // workstation before it is better to stop and say so.
            max_tuples: 100_000_000,
        }
    }
}
