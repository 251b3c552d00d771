//! Test-only: runs a plan on f64 host arrays with plain loops, so that plans can be checked
//! against numpy's results before the tensor kernels exist. Views are copied; speed is no
//! concern here. Every op a plan can hold, except the random creations, is covered.

#![allow(dead_code)]

use std::collections::HashMap;
use tl_lang::plan::{Plan, Source};
use tl_tensor::{BinaryOp, CompareOp, DType, Op, ReduceOp, UnaryOp};

#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

impl Array {
    pub fn new(shape: &[usize], data: Vec<f64>) -> Array {
        assert_eq!(
            shape.iter().product::<usize>(),
            data.len(),
            "shape {shape:?}"
        );
        Array {
            shape: shape.to_vec(),
            data,
        }
    }

    fn get(&self, index: &[usize]) -> f64 {
        self.data[offset(&self.shape, index)]
    }
}

fn offset(shape: &[usize], index: &[usize]) -> usize {
    let mut flat = 0;
    for (size, i) in shape.iter().zip(index) {
        flat = flat * size + i;
    }
    flat
}

/// Every multi-index of `shape`, row-major.
pub fn indices(shape: &[usize]) -> Vec<Vec<usize>> {
    let total: usize = shape.iter().product();
    let mut out = Vec::with_capacity(total);
    let mut current = vec![0; shape.len()];
    for _ in 0..total {
        out.push(current.clone());
        for axis in (0..shape.len()).rev() {
            current[axis] += 1;
            if current[axis] < shape[axis] {
                break;
            }
            current[axis] = 0;
        }
    }
    out
}

/// numpy broadcasting: the element of `a` that lands at `index` of a result of rank
/// `index.len()`.
fn broadcast_get(a: &Array, index: &[usize]) -> f64 {
    let skip = index.len() - a.shape.len();
    let own: Vec<usize> = a
        .shape
        .iter()
        .enumerate()
        .map(|(axis, &size)| if size == 1 { 0 } else { index[skip + axis] })
        .collect();
    a.get(&own)
}

fn broadcast_shape(a: &[usize], b: &[usize]) -> Vec<usize> {
    let rank = a.len().max(b.len());
    (0..rank)
        .map(|i| {
            let x = if i + a.len() >= rank {
                a[i + a.len() - rank]
            } else {
                1
            };
            let y = if i + b.len() >= rank {
                b[i + b.len() - rank]
            } else {
                1
            };
            assert!(
                x == y || x == 1 || y == 1,
                "cannot broadcast {a:?} and {b:?}"
            );
            x.max(y)
        })
        .collect()
}

fn map(a: &Array, f: impl Fn(f64) -> f64) -> Array {
    Array::new(&a.shape, a.data.iter().map(|&x| f(x)).collect())
}

fn zip(a: &Array, b: &Array, f: impl Fn(f64, f64) -> f64) -> Array {
    let shape = broadcast_shape(&a.shape, &b.shape);
    let data = indices(&shape)
        .iter()
        .map(|i| f(broadcast_get(a, i), broadcast_get(b, i)))
        .collect();
    Array::new(&shape, data)
}

fn unary(op: UnaryOp, x: f64) -> f64 {
    tl_tensor::reference::unary_value(op, x)
}

fn binary(op: BinaryOp, a: f64, b: f64) -> f64 {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
        BinaryOp::Pow => a.powf(b),
        BinaryOp::Maximum => a.max(b),
        BinaryOp::Minimum => a.min(b),
    }
}

fn compare(op: CompareOp, a: f64, b: f64) -> f64 {
    f64::from(match op {
        CompareOp::Eq => a == b,
        CompareOp::Ne => a != b,
        CompareOp::Lt => a < b,
        CompareOp::Le => a <= b,
        CompareOp::Gt => a > b,
        CompareOp::Ge => a >= b,
    })
}

/// Applies `f` to every line of `a` along `axis` (softmax and friends).
fn along(a: &Array, axis: usize, f: impl Fn(&[f64]) -> Vec<f64>) -> Array {
    let mut out = a.clone();
    let mut outer = a.shape.clone();
    outer[axis] = 1;
    for start in indices(&outer) {
        let positions: Vec<usize> = (0..a.shape[axis])
            .map(|k| {
                let mut i = start.clone();
                i[axis] = k;
                offset(&a.shape, &i)
            })
            .collect();
        let line: Vec<f64> = positions.iter().map(|&p| a.data[p]).collect();
        for (p, v) in positions.iter().zip(f(&line)) {
            out.data[*p] = v;
        }
    }
    out
}

fn apply(op: &Op, args: &[&Array]) -> Array {
    match op {
        Op::Full { shape, value, .. } => Array::new(shape, vec![*value; shape.iter().product()]),
        Op::Arange {
            start, step, len, ..
        } => Array::new(
            &[*len],
            (0..*len).map(|i| start + step * i as f64).collect(),
        ),
        Op::Reshape { shape } => Array::new(shape, args[0].data.clone()),
        Op::Squeeze { axis } => {
            let mut shape = args[0].shape.clone();
            shape.remove(*axis);
            Array::new(&shape, args[0].data.clone())
        }
        Op::Unsqueeze { axis } => {
            let mut shape = args[0].shape.clone();
            shape.insert(*axis, 1);
            Array::new(&shape, args[0].data.clone())
        }
        Op::Permute { dims } => {
            let a = args[0];
            let shape: Vec<usize> = dims.iter().map(|&d| a.shape[d]).collect();
            let data = indices(&shape)
                .iter()
                .map(|i| {
                    let mut source = vec![0; i.len()];
                    for (k, &d) in dims.iter().enumerate() {
                        source[d] = i[k];
                    }
                    a.get(&source)
                })
                .collect();
            Array::new(&shape, data)
        }
        Op::Narrow { axis, start, len } => {
            let a = args[0];
            let mut shape = a.shape.clone();
            shape[*axis] = *len;
            let data = indices(&shape)
                .iter()
                .map(|i| {
                    let mut source = i.clone();
                    source[*axis] += start;
                    a.get(&source)
                })
                .collect();
            Array::new(&shape, data)
        }
        Op::Expand { shape } => {
            let data = indices(shape)
                .iter()
                .map(|i| broadcast_get(args[0], i))
                .collect();
            Array::new(shape, data)
        }
        Op::Contiguous => args[0].clone(),
        Op::Unary(u) => map(args[0], |x| unary(*u, x)),
        Op::Affine { scale, bias } => map(args[0], |x| x * scale + bias),
        Op::Cast { dtype } => match dtype {
            DType::Bool => map(args[0], |x| f64::from(x != 0.0)),
            DType::I32 | DType::I64 => map(args[0], f64::trunc),
            _ => args[0].clone(),
        },
        Op::Binary(b) => zip(args[0], args[1], |x, y| binary(*b, x, y)),
        Op::Compare(c) => zip(args[0], args[1], |x, y| compare(*c, x, y)),
        Op::Where => {
            let ab = zip(args[1], args[2], |_, _| 0.0);
            let shape = broadcast_shape(&args[0].shape, &ab.shape);
            let data = indices(&shape)
                .iter()
                .map(|i| {
                    if broadcast_get(args[0], i) != 0.0 {
                        broadcast_get(args[1], i)
                    } else {
                        broadcast_get(args[2], i)
                    }
                })
                .collect();
            Array::new(&shape, data)
        }
        Op::Reduce { op, axes, keepdim } => {
            let a = args[0];
            let shape: Vec<usize> = a
                .shape
                .iter()
                .enumerate()
                .filter_map(|(i, &s)| {
                    if axes.contains(&i) {
                        keepdim.then_some(1)
                    } else {
                        Some(s)
                    }
                })
                .collect();
            let mut groups: HashMap<Vec<usize>, Vec<f64>> = HashMap::new();
            for i in indices(&a.shape) {
                let key: Vec<usize> = i
                    .iter()
                    .enumerate()
                    .filter_map(|(k, &v)| {
                        if axes.contains(&k) {
                            keepdim.then_some(0)
                        } else {
                            Some(v)
                        }
                    })
                    .collect();
                groups.entry(key).or_default().push(a.get(&i));
            }
            let data = indices(&shape)
                .iter()
                .map(|key| {
                    let values = &groups[key];
                    match op {
                        ReduceOp::Sum => values.iter().sum(),
                        ReduceOp::Mean => values.iter().sum::<f64>() / values.len() as f64,
                        ReduceOp::Max => values.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                        ReduceOp::Min => values.iter().cloned().fold(f64::INFINITY, f64::min),
                        ReduceOp::LogSumExp => values.iter().map(|v| v.exp()).sum::<f64>().ln(),
                    }
                })
                .collect();
            Array::new(&shape, data)
        }
        Op::MatMul {
            transpose_lhs,
            transpose_rhs,
        } => {
            let (a, b) = (args[0], args[1]);
            let (ra, rb) = (a.shape.len(), b.shape.len());
            let (m, k) = if *transpose_lhs {
                (a.shape[ra - 1], a.shape[ra - 2])
            } else {
                (a.shape[ra - 2], a.shape[ra - 1])
            };
            let n = if *transpose_rhs {
                b.shape[rb - 2]
            } else {
                b.shape[rb - 1]
            };
            let batch = broadcast_shape(&a.shape[..ra - 2], &b.shape[..rb - 2]);
            let mut shape = batch.clone();
            shape.extend([m, n]);
            let data = indices(&shape)
                .iter()
                .map(|i| {
                    let (bi, row, col) = (&i[..batch.len()], i[batch.len()], i[batch.len() + 1]);
                    (0..k)
                        .map(|p| {
                            let left = if *transpose_lhs { [p, row] } else { [row, p] };
                            let right = if *transpose_rhs { [col, p] } else { [p, col] };
                            let mut li = bi[bi.len() - (ra - 2)..].to_vec();
                            li.extend(left);
                            let mut rix = bi[bi.len() - (rb - 2)..].to_vec();
                            rix.extend(right);
                            let li: Vec<usize> = li
                                .iter()
                                .zip(&a.shape)
                                .map(|(&v, &s)| if s == 1 { 0 } else { v })
                                .collect();
                            let rix: Vec<usize> = rix
                                .iter()
                                .zip(&b.shape)
                                .map(|(&v, &s)| if s == 1 { 0 } else { v })
                                .collect();
                            a.get(&li) * b.get(&rix)
                        })
                        .sum()
                })
                .collect();
            Array::new(&shape, data)
        }
        Op::Softmax { axis } => along(args[0], *axis, |line| {
            let max = line.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = line.iter().map(|v| (v - max).exp()).collect();
            let total: f64 = e.iter().sum();
            e.iter().map(|v| v / total).collect()
        }),
        Op::LogSoftmax { axis } => along(args[0], *axis, |line| {
            let max = line.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let total: f64 = line.iter().map(|v| (v - max).exp()).sum();
            line.iter().map(|v| v - max - total.ln()).collect()
        }),
        Op::RmsNorm { eps } => {
            let (x, w) = (args[0], args[1]);
            let last = x.shape.len() - 1;
            let normed = along(x, last, |line| {
                let ms = line.iter().map(|v| v * v).sum::<f64>() / line.len() as f64;
                line.iter().map(|v| v / (ms + eps).sqrt()).collect()
            });
            zip(&normed, w, |a, b| a * b)
        }
        Op::LayerNorm { eps } => {
            let (x, w, bias) = (args[0], args[1], args[2]);
            let last = x.shape.len() - 1;
            let normed = along(x, last, |line| {
                let mean = line.iter().sum::<f64>() / line.len() as f64;
                let var = line.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / line.len() as f64;
                line.iter()
                    .map(|v| (v - mean) / (var + eps).sqrt())
                    .collect()
            });
            zip(&zip(&normed, w, |a, b| a * b), bias, |a, b| a + b)
        }
        Op::SwiGlu => zip(args[0], args[1], |g, u| g / (1.0 + (-g).exp()) * u),
        Op::Gather { axis } => {
            let (src, index) = (args[0], args[1]);
            let data = indices(&index.shape)
                .iter()
                .map(|i| {
                    let mut source = i.clone();
                    source[*axis] = index.get(i) as usize;
                    src.get(&source)
                })
                .collect();
            Array::new(&index.shape, data)
        }
        Op::IndexSelect { axis } => {
            let (src, index) = (args[0], args[1]);
            let mut shape = src.shape.clone();
            shape[*axis] = index.data.len();
            let data = indices(&shape)
                .iter()
                .map(|i| {
                    let mut source = i.clone();
                    source[*axis] = index.data[i[*axis]] as usize;
                    src.get(&source)
                })
                .collect();
            Array::new(&shape, data)
        }
        Op::IndexAdd { axis } => {
            let (dst, index, src) = (args[0], args[1], args[2]);
            let mut out = dst.clone();
            for i in indices(&src.shape) {
                let mut target = i.clone();
                target[*axis] = index.data[i[*axis]] as usize;
                let p = offset(&out.shape, &target);
                out.data[p] += src.get(&i);
            }
            out
        }
        Op::Concat { axis } => {
            let mut shape = args[0].shape.clone();
            shape[*axis] = args.iter().map(|a| a.shape[*axis]).sum();
            let data = indices(&shape)
                .iter()
                .map(|i| {
                    let mut position = i[*axis];
                    for a in args {
                        if position < a.shape[*axis] {
                            let mut source = i.clone();
                            source[*axis] = position;
                            return a.get(&source);
                        }
                        position -= a.shape[*axis];
                    }
                    unreachable!("concat index past the end")
                })
                .collect();
            Array::new(&shape, data)
        }
        other => panic!("{} is not in the test interpreter", other.name()),
    }
}

/// Runs `plan`: tensors (and the target's current value) come from `tensors`, run-time
/// scalars and positions from `scalars`.
pub fn run(plan: &Plan, tensors: &HashMap<String, Array>, scalars: &HashMap<String, f64>) -> Array {
    plan.validate().expect("a valid plan");
    let mut values: HashMap<usize, Array> = HashMap::new();
    for input in &plan.inputs {
        let array = match &input.source {
            Source::Tensor(name) | Source::Target(name) => tensors
                .get(name)
                .unwrap_or_else(|| panic!("no tensor {name}"))
                .clone(),
            Source::Literal(data) => Array::new(&input.shape, data.clone()),
            Source::Scalar(name) => Array::new(&[], vec![scalars[name]]),
            Source::Position { name, offset } => {
                Array::new(&[1], vec![scalars[name] + *offset as f64])
            }
            Source::Load { path, .. } => tensors[path].clone(),
        };
        assert_eq!(array.shape, input.shape, "input {:?}", input.source);
        values.insert(input.value, array);
    }
    for step in &plan.steps {
        let args: Vec<&Array> = step.args.iter().map(|a| &values[a]).collect();
        let result = apply(&step.op, &args);
        assert_eq!(
            result.shape,
            step.shape,
            "step %{} {}",
            step.value,
            step.op.name()
        );
        values.insert(step.value, result);
    }
    values.remove(&plan.output).expect("the output")
}
