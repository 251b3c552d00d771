//! A relation as the evaluator stores it: a dense 0/1 tensor over symbol domains. This type
//! is the one place the fixpoint and the query printer touch a relation's storage, so a
//! sparse form (sorted tuples or CSR for domains of thousands of symbols) can live beside
//! it without changing them.

use std::cmp::Ordering;
use std::sync::Arc;
use tl_tensor::{BinaryOp, Device, ReduceOp, Tensor, UnaryOp};

/// The most elements a dense relation or tensor may have before the evaluator refuses to
/// allocate it (4 GiB of f32).
pub const MAX_DENSE_ELEMENTS: usize = 1 << 30;

/// The symbols one axis ranges over, in position order.
pub type SymbolDomain = Arc<Vec<String>>;

#[derive(Clone, Debug)]
pub struct Relation {
    tensor: Tensor,
    domains: Vec<SymbolDomain>,
}

/// Why a relation could not be built.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RelationError {
    #[error("a dense relation of shape {shape:?} has {elements} elements, more than the limit of {limit}")]
    TooLarge {
        shape: Vec<usize>,
        elements: usize,
        limit: usize,
    },
    #[error("fact {fact:?} lies outside the relation's shape {shape:?}")]
    FactOutOfRange { fact: Vec<usize>, shape: Vec<usize> },
    #[error("{0}")]
    Tensor(String),
}

fn tensor_error(e: tl_tensor::TensorError) -> RelationError {
    RelationError::Tensor(e.to_string())
}

/// Checks that a dense tensor of `shape` may be allocated; returns its element count.
pub fn dense_elements(shape: &[usize]) -> Result<usize, RelationError> {
    let elements = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .unwrap_or(usize::MAX);
    if elements > MAX_DENSE_ELEMENTS {
        return Err(RelationError::TooLarge {
            shape: shape.to_vec(),
            elements,
            limit: MAX_DENSE_ELEMENTS,
        });
    }
    Ok(elements)
}

/// Orders symbols as people expect: numbers by value, before names, names alphabetically.
pub fn compare_symbols(a: &str, b: &str) -> Ordering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

impl Relation {
    /// A relation holding exactly `facts` (positions along each axis).
    pub fn from_facts(
        device: &Device,
        domains: Vec<SymbolDomain>,
        facts: &[Vec<usize>],
    ) -> Result<Relation, RelationError> {
        let shape: Vec<usize> = domains.iter().map(|d| d.len()).collect();
        let elements = dense_elements(&shape)?;
        let mut data = vec![0f32; elements];
        for fact in facts {
            if fact.len() != shape.len() || fact.iter().zip(&shape).any(|(p, n)| p >= n) {
                return Err(RelationError::FactOutOfRange {
                    fact: fact.clone(),
                    shape,
                });
            }
            let offset = fact.iter().zip(&shape).fold(0, |acc, (p, n)| acc * n + p);
            data[offset] = 1.0;
        }
        let tensor = device.from_slice(&data, &shape).map_err(tensor_error)?;
        Ok(Relation { tensor, domains })
    }

    /// The relation whose tuples are the nonzero positions of `tensor` (already 0/1).
    pub fn from_tensor(tensor: Tensor, domains: Vec<SymbolDomain>) -> Relation {
        Relation { tensor, domains }
    }

    pub fn tensor(&self) -> &Tensor {
        &self.tensor
    }

    pub fn domains(&self) -> &[SymbolDomain] {
        &self.domains
    }

    pub fn shape(&self) -> &[usize] {
        self.tensor.shape()
    }

    /// Adds the tuples of `derived` (a 0/1 tensor of this shape) and returns the ones that
    /// were new: `Δ = step(derived − known)`, then `known += Δ`.
    pub fn absorb(&mut self, derived: &Tensor) -> Result<Relation, RelationError> {
        let difference = derived
            .binary(BinaryOp::Sub, &self.tensor)
            .map_err(tensor_error)?;
        let delta = difference.unary(UnaryOp::Step).map_err(tensor_error)?;
        self.tensor = self.tensor.add(&delta).map_err(tensor_error)?;
        Ok(Relation {
            tensor: delta,
            domains: self.domains.clone(),
        })
    }

    /// How many tuples hold.
    pub fn count(&self) -> Result<usize, RelationError> {
        if self.tensor.numel() == 0 {
            return Ok(0);
        }
        let axes: Vec<isize> = (0..self.tensor.rank() as isize).collect();
        let total = if axes.is_empty() {
            self.tensor.to_scalar()
        } else {
            self.tensor
                .reduce(ReduceOp::Sum, &axes, false)
                .and_then(|t| t.to_scalar())
        }
        .map_err(tensor_error)?;
        Ok(total.round().max(0.0) as usize)
    }

    /// The tuples that hold, as symbols, sorted.
    pub fn tuples(&self) -> Result<Vec<Vec<String>>, RelationError> {
        tuples_of(&self.tensor, &self.domains)
    }
}

/// The nonzero positions of `tensor` as symbol tuples (an axis without a domain prints
/// its position), sorted.
pub fn tuples_of(
    tensor: &Tensor,
    domains: &[SymbolDomain],
) -> Result<Vec<Vec<String>>, RelationError> {
    let data = tensor.to_f64_vec().map_err(tensor_error)?;
    let shape = tensor.shape().to_vec();
    let mut tuples = Vec::new();
    for (offset, &value) in data.iter().enumerate() {
        if value == 0.0 {
            continue;
        }
        let mut rest = offset;
        let mut tuple = vec![String::new(); shape.len()];
        for axis in (0..shape.len()).rev() {
            let position = rest % shape[axis];
            rest /= shape[axis];
            tuple[axis] = domains
                .get(axis)
                .and_then(|d| d.get(position))
                .cloned()
                .unwrap_or_else(|| position.to_string());
        }
        tuples.push(tuple);
    }
    sort_tuples(&mut tuples);
    Ok(tuples)
}

/// Sorts answer tuples the way they print: by their symbols in turn, as [`compare_symbols`].
pub fn sort_tuples(tuples: &mut [Vec<String>]) {
    tuples.sort_by(|a, b| {
        a.iter()
            .zip(b)
            .map(|(x, y)| compare_symbols(x, y))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    });
}
