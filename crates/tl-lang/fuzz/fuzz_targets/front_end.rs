//! Fuzz target: any bytes, read as program text, go through parsing, checking, rendering of
//! the diagnostics, planning and the sparse Datalog engine; none of it may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tl_lang::environment::MapEnvironment;
use tl_lang::sparse::{FixpointLimits, SparseProgram};
use tl_lang::{analyze, explain, plan_program, render_all, RenderOptions};

fuzz_target!(|data: &[u8]| {
    let source = String::from_utf8_lossy(data);
    let environment = MapEnvironment::new()
        .with_tensor("X", &[3])
        .with_tensor("W", &[3, 3])
        .with_load("f.npy", None, &[3, 3]);
    let analysis = analyze(&source, &environment);
    let options = RenderOptions {
        color: false,
        ascii: false,
    };
    let shown = analysis.diagnostics.len().min(8);
    let _ = render_all(&analysis.diagnostics[..shown], "fuzz.tl", &source, options);
    if !analysis.has_errors() {
        for planned in plan_program(&analysis.program, &analysis.checked, &environment) {
            if let Ok(plan) = planned.plan {
                let _ = explain(&plan);
            }
        }
    }
    // Small limits: a hostile program may describe a huge fixpoint; it must stop with an
    // error, not run out of memory.
    if let Ok(sparse) = SparseProgram::from_program(&analysis.program) {
        let limits = FixpointLimits {
            max_iterations: 1000,
            max_tuples: 20_000,
        };
        let _ = sparse.fixpoint(&limits);
    }
});
