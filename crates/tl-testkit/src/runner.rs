//! Runs conformance cases on a backend: seeded inputs, sentinel-guarded outputs, comparison
//! with the naive reference.

use tl_tensor::reference::{evaluate, HostTensor};
use tl_tensor::signature::{output_specs, TensorSpec};
use tl_tensor::{Device, Layout, Op, Result, Tensor, TensorError};

use crate::case::Case;
use crate::compare::{compare, Discrepancy};
use crate::inputs::make_input;

/// Bytes of sentinel before and after every output (a multiple of every block size).
const SENTINEL_UNITS: usize = 16;
const SENTINEL_BYTE: u8 = 0xA5;
/// Poison for the output itself: 0xFF bytes decode to NaN in every float dtype, so an element
/// the backend forgot to write fails the comparison.
const POISON_BYTE: u8 = 0xFF;

#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Pass,
    Fail(String),
}

#[derive(Clone, Debug)]
pub struct Outcome {
    pub op: String,
    pub label: String,
    pub backend: String,
    pub discrepancy: Option<Discrepancy>,
    pub tolerance: f64,
    pub verdict: Verdict,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }
}

/// Runs one case on `device`, with inputs drawn from `seed`.
pub fn run_case(case: &Case, device: &Device, seed: u64) -> Outcome {
    let (discrepancy, verdict) = match check(case, device, seed) {
        Ok((d, None)) => (Some(d), Verdict::Pass),
        Ok((d, Some(why))) => (Some(d), Verdict::Fail(why)),
        Err(e) => (None, Verdict::Fail(e.to_string())),
    };
    Outcome {
        op: case.op.name(),
        label: case.label.clone(),
        backend: device.name(),
        discrepancy,
        tolerance: case.tolerance,
        verdict,
    }
}

fn check(case: &Case, device: &Device, seed: u64) -> Result<(Discrepancy, Option<String>)> {
    let mut hosts = Vec::new();
    let mut tensors = Vec::new();
    for (i, input) in case.inputs.iter().enumerate() {
        let (host, tensor) = make_input(input, device, seed.wrapping_add(i as u64 * 7919))?;
        hosts.push(host);
        tensors.push(tensor);
    }
    let expected = evaluate(&case.op, &hosts)?;

    // A view op is checked by materialising the view on the backend.
    let (op, tensors) = if case.op.is_view() {
        (Op::Contiguous, vec![tensors[0].view(&case.op)?])
    } else {
        (case.op.clone(), tensors)
    };
    let specs: Vec<TensorSpec> = tensors.iter().map(Tensor::spec).collect();
    let out_specs = output_specs(&op, &specs)?;
    let guarded = out_specs
        .iter()
        .map(|spec| GuardedOutput::new(device, spec))
        .collect::<Result<Vec<_>>>()?;
    let input_refs: Vec<&Tensor> = tensors.iter().collect();
    let output_refs: Vec<&Tensor> = guarded.iter().map(|g| &g.tensor).collect();
    device.backend().execute(&op, &input_refs, &output_refs)?;

    let mut worst = Discrepancy {
        normalised: 0.0,
        max_abs: 0.0,
        mismatches: 0,
    };
    let mut failure = None;
    for (g, want) in guarded.iter().zip(&expected) {
        let actual = g.read(device)?;
        if let Some(problem) = actual.1 {
            failure.get_or_insert(problem);
        }
        let d = compare(&actual.0, want);
        if d.mismatches > 0 {
            failure.get_or_insert(format!("{} elements differ in kind or value", d.mismatches));
        } else if d.normalised > case.tolerance || d.normalised.is_nan() {
            failure.get_or_insert(format!(
                "normalised error {:.3e} exceeds {:.1e}",
                d.normalised, case.tolerance
            ));
        }
        worst.normalised = worst.normalised.max(d.normalised);
        worst.max_abs = worst.max_abs.max(d.max_abs);
        worst.mismatches += d.mismatches;
    }
    Ok((worst, failure))
}

/// An output view in the middle of a larger buffer whose margins hold a known pattern.
struct GuardedOutput {
    tensor: Tensor,
    spec: TensorSpec,
    pad_bytes: usize,
    body_bytes: usize,
}

impl GuardedOutput {
    fn new(device: &Device, spec: &TensorSpec) -> Result<GuardedOutput> {
        let body_bytes = spec
            .dtype
            .storage_bytes(spec.numel())
            .ok_or_else(|| TensorError::bad_shape("conformance", &spec.shape, "not storable"))?;
        let pad_bytes = SENTINEL_UNITS * spec.dtype.block_bytes();
        let mut bytes = vec![SENTINEL_BYTE; pad_bytes * 2 + body_bytes];
        bytes[pad_bytes..pad_bytes + body_bytes].fill(POISON_BYTE);
        let buffer = device.backend().upload(&bytes)?;
        let layout = Layout::contiguous_at(&spec.shape, SENTINEL_UNITS * spec.dtype.block_size());
        let tensor = Tensor::try_from_parts(buffer, layout, spec.dtype, device.clone())?;
        Ok(GuardedOutput {
            tensor,
            spec: spec.clone(),
            pad_bytes,
            body_bytes,
        })
    }

    /// The output's values, and a message if a sentinel byte changed.
    fn read(&self, device: &Device) -> Result<(HostTensor, Option<String>)> {
        let all = device.backend().read(
            self.tensor.buffer(),
            0,
            self.pad_bytes * 2 + self.body_bytes,
        )?;
        let (before, rest) = all.split_at(self.pad_bytes);
        let (body, after) = rest.split_at(self.body_bytes);
        let problem = if before.iter().any(|&b| b != SENTINEL_BYTE) {
            Some("wrote before the start of its output".to_string())
        } else if after.iter().any(|&b| b != SENTINEL_BYTE) {
            Some("wrote past the end of its output".to_string())
        } else {
            None
        };
        Ok((
            HostTensor::from_bytes(&self.spec.shape, self.spec.dtype, body),
            problem,
        ))
    }
}
