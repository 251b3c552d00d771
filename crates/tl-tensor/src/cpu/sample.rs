//! CPU kernels: token sampling and the repetition penalty (see `Op::Sample`).

use std::cmp::Ordering;

use half::{bf16, f16};
use rayon::prelude::*;

use super::element::FloatElement;
use super::strided::row_offset;
use super::{input_slice, output_slice};
use crate::error::{Result, TensorError};
use crate::op::Op;
use crate::tensor::Tensor;
use crate::DType;

pub(crate) fn run(op: &Op, inputs: &[&Tensor], output: &Tensor) -> Result<()> {
    match inputs[0].dtype() {
        DType::F32 => typed::<f32>(op, inputs, output),
        DType::F16 => typed::<f16>(op, inputs, output),
        DType::BF16 => typed::<bf16>(op, inputs, output),
        other => unreachable!("signature admits float logits only, got {other}"),
    }
}

/// Row `row` of a 2-D tensor as f64 values.
fn read_row<T: FloatElement>(tensor: &Tensor, data: &[T], row: usize) -> Vec<f64> {
    let layout = tensor.layout();
    let (base, stride) = (row_offset(layout, row), layout.strides()[1]);
    (0..layout.shape()[1])
        .map(|j| data[base + j * stride].to_f32() as f64)
        .collect()
}

fn read_index(tensor: &Tensor, row: usize, j: usize) -> Result<i64> {
    let offset = row_offset(tensor.layout(), row) + j * tensor.layout().strides()[1];
    Ok(match tensor.dtype() {
        DType::I32 => input_slice::<i32>(tensor)?[offset] as i64,
        _ => input_slice::<i64>(tensor)?[offset],
    })
}

fn typed<T: FloatElement>(op: &Op, inputs: &[&Tensor], output: &Tensor) -> Result<()> {
    let logits = inputs[0];
    let data = input_slice::<T>(logits)?;
    let rows = logits.shape()[0];
    match op {
        Op::Sample {
            temperature,
            top_k,
            top_p,
            min_p,
        } => {
            let uniform = inputs[1];
            let u_data = input_slice::<f32>(uniform)?;
            let (u_offset, u_stride) = (uniform.layout().offset(), uniform.layout().strides()[0]);
            output_slice::<i64>(output)?
                .par_iter_mut()
                .enumerate()
                .for_each(|(row, out)| {
                    let values = read_row(logits, data, row);
                    let u = u_data[u_offset + row * u_stride] as f64;
                    *out = sample_row(&values, *temperature, *top_k, *top_p, *min_p, u) as i64;
                });
            Ok(())
        }
        Op::RepetitionPenalty { penalty } => {
            let tokens = inputs[1];
            let (vocab, n) = (logits.shape()[1], tokens.shape()[1]);
            let out = output_slice::<T>(output)?;
            for row in 0..rows {
                let values = read_row(logits, data, row);
                let dst = &mut out[row * vocab..(row + 1) * vocab];
                for (d, &v) in dst.iter_mut().zip(&values) {
                    *d = T::from_f32(v as f32);
                }
                let mut seen = vec![false; vocab];
                for j in 0..n {
                    let token = read_index(tokens, row, j)?;
                    if token < 0 || token as usize >= vocab {
                        return Err(TensorError::IndexOutOfRange {
                            op: op.name(),
                            index: token,
                            size: vocab,
                        });
                    }
                    let t = token as usize;
                    if !std::mem::replace(&mut seen[t], true) {
                        let v = values[t] as f32;
                        let p = *penalty as f32;
                        dst[t] = T::from_f32(if v > 0.0 { v / p } else { v * p });
                    }
                }
            }
            Ok(())
        }
        _ => unreachable!("sample::run got {}", op.name()),
    }
}

/// Descending logit, ties by lower token id: the candidate order of `Op::Sample`.
fn candidate_order(values: &[f64]) -> impl Fn(&usize, &usize) -> Ordering + '_ {
    move |&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b))
}

fn sample_row(
    values: &[f64],
    temperature: f64,
    top_k: usize,
    top_p: f64,
    min_p: f64,
    u: f64,
) -> usize {
    let order = candidate_order(values);
    if temperature <= 0.0 {
        return (0..values.len()).min_by(&order).unwrap_or(0);
    }
    let mut candidates: Vec<usize> = (0..values.len()).collect();
    let keep = if top_k == 0 {
        values.len()
    } else {
        top_k.min(values.len())
    };
    if keep < candidates.len() {
        // Only the best `keep` need ordering: partition first, then sort that prefix.
        candidates.select_nth_unstable_by(keep - 1, &order);
        candidates.truncate(keep);
    }
    candidates.sort_unstable_by(&order);
    let best = values[candidates[0]];
    let mut probs: Vec<f64> = candidates
        .iter()
        .map(|&t| ((values[t] - best) / temperature).exp())
        .collect();
    let total: f64 = probs.iter().sum();
    probs.iter_mut().for_each(|p| *p /= total);
    let mut kept = probs.len();
    if top_p < 1.0 {
        let mut sum = 0.0;
        for (i, p) in probs.iter().enumerate() {
            sum += p;
            if sum >= top_p {
                kept = i + 1;
                break;
            }
        }
    }
    if min_p > 0.0 {
        let floor = min_p * probs[0];
        kept = probs[..kept]
            .iter()
            .take_while(|&&p| p >= floor)
            .count()
            .max(1);
    }
    let mass: f64 = probs[..kept].iter().sum();
    let target = u * mass;
    let mut sum = 0.0;
    for i in 0..kept {
        sum += probs[i];
        if sum > target {
            return candidates[i];
        }
    }
    candidates[kept - 1]
}
