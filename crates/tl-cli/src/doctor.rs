//! `tl doctor`: the conformance suite on every device, summarised per op and device.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use tl_testkit::{cases, run_case, uncovered_ops, Outcome, Verdict};

use crate::device_choice::DeviceChoice;

#[derive(Args)]
pub struct DoctorArgs {
    /// Devices to check.
    #[arg(long, value_enum, default_value_t = DeviceChoice::All)]
    device: DeviceChoice,
    /// Only ops whose name contains this text (e.g. `matmul`, `unary.`).
    #[arg(long)]
    filter: Option<String>,
    /// Print every case, not only the per-op summary.
    #[arg(long)]
    verbose: bool,
}

/// Per-op, per-device summary row.
#[derive(Default)]
struct Row {
    cases: usize,
    failed: usize,
    worst_error: f64,
    dtypes: std::collections::BTreeSet<String>,
}

pub fn run(args: &DoctorArgs) -> anyhow::Result<ExitCode> {
    let all_cases: Vec<_> = cases::all()
        .into_iter()
        .enumerate()
        .filter(|(_, c)| {
            args.filter
                .as_deref()
                .is_none_or(|f| c.op.name().contains(f))
        })
        .collect();
    if all_cases.is_empty() {
        // A check that checked nothing must not pass.
        let names: std::collections::BTreeSet<String> =
            cases::all().iter().map(|c| c.op.name()).collect();
        let names: Vec<String> = names.into_iter().collect();
        anyhow::bail!(
            "no op's name contains `{}`; ops with cases: {}",
            args.filter.as_deref().unwrap_or_default(),
            names.join(", ")
        );
    }
    let mut outcomes: Vec<Outcome> = Vec::new();
    for device in args.device.devices(None)? {
        let progress = if std::io::stderr().is_terminal() {
            ProgressBar::new(all_cases.len() as u64)
        } else {
            ProgressBar::hidden()
        };
        progress.set_style(
            ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len}")
                .expect("static template")
                .progress_chars("=> "),
        );
        progress.set_message(device.name());
        for (index, case) in &all_cases {
            outcomes.push(run_case(case, &device, 0x7e57_0000 + *index as u64));
            progress.inc(1);
        }
        progress.finish_and_clear();
    }

    let mut rows: BTreeMap<(String, String), Row> = BTreeMap::new();
    for outcome in &outcomes {
        let row = rows
            .entry((outcome.op.clone(), outcome.backend.clone()))
            .or_default();
        row.cases += 1;
        row.failed += usize::from(!outcome.passed());
        if let Some(d) = &outcome.discrepancy {
            row.worst_error = row.worst_error.max(d.normalised);
        }
        if let Some(dtype) = outcome.label.split(['[', ',']).next() {
            row.dtypes.insert(dtype.trim().to_string());
        }
        if args.verbose || !outcome.passed() {
            let status = match &outcome.verdict {
                Verdict::Pass => "ok".to_string(),
                Verdict::Fail(why) => format!("FAIL: {why}"),
            };
            println!(
                "{:<22} {:<16} {:<50} {status}",
                outcome.op, outcome.backend, outcome.label
            );
        }
    }

    println!(
        "{:<22} {:<18} {:<28} {:>6} {:>11}  result",
        "op", "device", "dtypes", "cases", "worst err"
    );
    for ((op, backend), row) in &rows {
        let dtypes: Vec<&str> = row.dtypes.iter().map(String::as_str).collect();
        let result = if row.failed == 0 {
            "pass".to_string()
        } else {
            format!("FAIL ({} of {})", row.failed, row.cases)
        };
        println!(
            "{op:<22} {backend:<18} {:<28} {:>6} {:>11.2e}  {result}",
            truncate(&dtypes.join(","), 28),
            row.cases,
            row.worst_error
        );
    }
    let failed = outcomes.iter().filter(|o| !o.passed()).count();
    let missing = if args.filter.is_none() {
        uncovered_ops()
    } else {
        Vec::new()
    };
    if !missing.is_empty() {
        println!("ops without conformance cases: {}", missing.join(", "));
    }
    println!(
        "{} passed, {} failed ({} ops, {} cases per device)",
        outcomes.len() - failed,
        failed,
        rows.len(),
        all_cases.len()
    );
    Ok(if failed == 0 && missing.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(width - 1).collect();
        cut.push('…');
        cut
    }
}
