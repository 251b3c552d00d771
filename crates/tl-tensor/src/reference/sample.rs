//! Reference: sampling and the repetition penalty, by full sorts in f64.

use super::HostTensor;
use crate::error::{Result, TensorError};
use crate::op::Op;
use crate::signature::TensorSpec;

pub(super) fn evaluate(
    op: &Op,
    inputs: &[HostTensor],
    spec: &TensorSpec,
) -> Result<Vec<HostTensor>> {
    let logits = inputs[0].values();
    let (rows, vocab) = (inputs[0].shape[0], inputs[0].shape[1]);
    match op {
        Op::Sample {
            temperature,
            top_k,
            top_p,
            min_p,
        } => {
            let uniform = inputs[1].values();
            let mut out = Vec::with_capacity(rows);
            for row in 0..rows {
                let values = &logits[row * vocab..(row + 1) * vocab];
                // Stable sort by descending value keeps lower ids first among ties.
                let mut order: Vec<usize> = (0..vocab).collect();
                order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
                if *temperature <= 0.0 {
                    out.push(order[0] as f64);
                    continue;
                }
                if *top_k > 0 {
                    order.truncate(*top_k);
                }
                let weights: Vec<f64> = order
                    .iter()
                    .map(|&t| ((values[t] - values[order[0]]) / temperature).exp())
                    .collect();
                let total: f64 = weights.iter().sum();
                let probs: Vec<f64> = weights.iter().map(|w| w / total).collect();
                let mut kept = probs.len();
                if *top_p < 1.0 {
                    let mut cumulative = 0.0;
                    for (i, p) in probs.iter().enumerate() {
                        cumulative += p;
                        if cumulative >= *top_p {
                            kept = i + 1;
                            break;
                        }
                    }
                }
                if *min_p > 0.0 {
                    let mut count = 0;
                    while count < kept && probs[count] >= min_p * probs[0] {
                        count += 1;
                    }
                    kept = count.max(1);
                }
                let mass: f64 = probs[..kept].iter().sum();
                let mut chosen = order[kept - 1];
                let mut cumulative = 0.0;
                for i in 0..kept {
                    cumulative += probs[i];
                    if cumulative > uniform[row] * mass {
                        chosen = order[i];
                        break;
                    }
                }
                out.push(chosen as f64);
            }
            Ok(vec![HostTensor::from_values(&spec.shape, spec.dtype, out)])
        }
        Op::RepetitionPenalty { penalty } => {
            let tokens = inputs[1].values();
            let n = inputs[1].shape[1];
            let mut out = logits.clone();
            for row in 0..rows {
                let mut seen = std::collections::BTreeSet::new();
                for j in 0..n {
                    let token = tokens[row * n + j];
                    if token < 0.0 || token as usize >= vocab {
                        return Err(TensorError::IndexOutOfRange {
                            op: op.name(),
                            index: token as i64,
                            size: vocab,
                        });
                    }
                    if seen.insert(token as usize) {
                        let v = &mut out[row * vocab + token as usize];
                        *v = if *v > 0.0 { *v / penalty } else { *v * penalty };
                    }
                }
            }
            Ok(vec![HostTensor::from_values(&spec.shape, spec.dtype, out)])
        }
        _ => unreachable!(),
    }
}
