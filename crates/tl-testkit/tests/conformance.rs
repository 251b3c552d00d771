//! Runs the whole conformance suite on the CPU backend.

use tl_tensor::Device;

#[test]
fn every_op_has_cases() {
    let missing = tl_testkit::uncovered_ops();
    assert!(
        missing.is_empty(),
        "ops without conformance cases: {missing:?}"
    );
}

#[test]
fn cpu_backend_conforms() {
    let device = Device::cpu();
    let outcomes = tl_testkit::run_suite(&device, None);
    let failures: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.passed())
        .map(|o| format!("{} [{}]: {:?}", o.op, o.label, o.verdict))
        .collect();
    println!("{} cases run on {}", outcomes.len(), device.name());
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        outcomes.len(),
        failures.join("\n")
    );
}
