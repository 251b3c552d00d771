//! Run-time values: what a `let`, a function parameter or a function's result holds.

use std::collections::BTreeMap;
use tl_tensor::Tensor;

#[derive(Clone, Debug)]
pub enum Value {
    Number(f64),
    Tensor(Tensor),
    Text(String),
    /// Named fields, read with `w.gate` (the tensors of a multi-tensor file).
    Record(BTreeMap<String, Value>),
    /// What a function without `return` gives.
    Nothing,
}

impl Value {
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Number(_) => "a number",
            Value::Tensor(_) => "a tensor",
            Value::Text(_) => "a string",
            Value::Record(_) => "a record",
            Value::Nothing => "nothing",
        }
    }

    /// The field at `path` (dotted names such as `blk.0.attn_q` may be stored whole).
    pub fn field(&self, path: &[&str]) -> Option<&Value> {
        if path.is_empty() {
            return Some(self);
        }
        let Value::Record(fields) = self else {
            return None;
        };
        // A file's tensor names contain dots, so the longest stored prefix wins.
        for split in (1..=path.len()).rev() {
            if let Some(value) = fields.get(&path[..split].join(".")) {
                if let Some(found) = value.field(&path[split..]) {
                    return Some(found);
                }
            }
        }
        None
    }
}
