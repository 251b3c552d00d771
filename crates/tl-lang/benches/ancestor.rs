//! Benchmark: the Ancestor closure of `examples/ancestor_20k.tl` (20,000 people, about
//! 3.7×10^5 pairs) through the sparse Datalog engine. Prints the time to read the program
//! (parse and build the relations) and the fixpoint's time, median and minimum of several
//! runs, and a `RESULT` line that `scripts/bench/ancestor_vs_clingo.py` reads.
//!
//! `cargo bench -p tl-lang --bench ancestor [-- FILE.tl [RUNS]]`

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tl_lang::sparse::{FixpointLimits, SparseProgram};

fn main() {
    // cargo passes `--bench`; the rest are ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let path = args.first().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/ancestor_20k.tl")
    });
    let runs: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(7).max(1);
    let source = match std::fs::read_to_string(&path) {
        Ok(source) => source,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            std::process::exit(1);
        }
    };

    let mut read_times = Vec::new();
    let mut fixpoint_times = Vec::new();
    let mut n_pairs = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let (program, errors) = tl_lang::parse(&source);
        if !errors.is_empty() {
            eprintln!("{}: {} syntax errors", path.display(), errors.len());
            std::process::exit(1);
        }
        let sparse = match SparseProgram::from_program(&program) {
            Ok(sparse) => sparse,
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                std::process::exit(1);
            }
        };
        read_times.push(start.elapsed());

        let start = Instant::now();
        let relations = match sparse.fixpoint(&FixpointLimits::default()) {
            Ok(relations) => relations,
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                std::process::exit(1);
            }
        };
        fixpoint_times.push(start.elapsed());
        n_pairs = relations.get("Ancestor").map_or(0, |r| r.len());
    }
    let (read_median, read_min) = median_and_min(&mut read_times);
    let (median, min) = median_and_min(&mut fixpoint_times);
    println!(
        "ancestor ({}): {n_pairs} pairs, {} rayon threads, {runs} runs",
        path.display(),
        rayon::current_num_threads()
    );
    println!(
        "  parse + build relations: median {:.1} ms, min {:.1} ms",
        ms(read_median),
        ms(read_min)
    );
    println!(
        "  fixpoint:                median {:.1} ms, min {:.1} ms",
        ms(median),
        ms(min)
    );
    println!(
        "RESULT pairs={n_pairs} read_seconds={:.6} fixpoint_seconds={:.6}",
        read_median.as_secs_f64(),
        median.as_secs_f64()
    );
}

fn median_and_min(times: &mut [Duration]) -> (Duration, Duration) {
    times.sort();
    (times[times.len() / 2], times[0])
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
