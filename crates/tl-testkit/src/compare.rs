//! Comparing a backend's output with the reference's.

use tl_tensor::reference::HostTensor;

/// How far an output is from the reference.
#[derive(Clone, Debug, PartialEq)]
pub struct Discrepancy {
    /// Relative L2 error over the finite elements (0 when both are empty or all zero).
    pub normalised: f64,
    pub max_abs: f64,
    /// Elements that differ in kind: NaN vs number, different infinities, or (for integer
    /// and boolean outputs) any different value.
    pub mismatches: usize,
}

pub fn compare(actual: &HostTensor, expected: &HostTensor) -> Discrepancy {
    let (a, e) = (actual.values(), expected.values());
    let exact = !actual.dtype.is_float() && !actual.dtype.is_quantized();
    let mut mismatches = usize::from(a.len() != e.len());
    let (mut diff2, mut ref2, mut max_abs) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &r) in a.iter().zip(&e) {
        if exact {
            mismatches += usize::from(x != r);
            continue;
        }
        if r.is_finite() {
            if !x.is_finite() {
                mismatches += 1;
                continue;
            }
            diff2 += (x - r) * (x - r);
            ref2 += r * r;
            max_abs = max_abs.max((x - r).abs());
        } else if !(x.is_nan() && r.is_nan() || x == r) {
            mismatches += 1;
        }
    }
    let normalised = if diff2 == 0.0 {
        0.0
    } else {
        (diff2 / ref2.max(1e-30)).sqrt()
    };
    Discrepancy {
        normalised,
        max_abs,
        mismatches,
    }
}
