//! How values print: tensors as nested lists (numpy-like), query answers as sorted tuples
//! of symbols.

use super::value::Value;
use tl_tensor::Tensor;

/// The most elements printed before the rest is elided.
const MAX_PRINTED: usize = 1000;

fn number(value: f64) -> String {
    let single = value as f32;
    if single.fract() == 0.0 && single.abs() < 1e15 {
        format!("{single:.0}")
    } else {
        format!("{single}")
    }
}

fn nested(data: &[f64], shape: &[usize]) -> String {
    match shape {
        [] => data.first().map_or_else(String::new, |v| number(*v)),
        [n] => format!(
            "[{}]",
            data[..*n]
                .iter()
                .map(|v| number(*v))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        [n, rest @ ..] => {
            let stride: usize = rest.iter().product();
            let rows: Vec<String> = (0..*n)
                .map(|i| nested(&data[i * stride..(i + 1) * stride], rest).replace('\n', "\n "))
                .collect();
            let separator = if rest.len() > 1 { ",\n\n " } else { ",\n " };
            format!("[{}]", rows.join(separator))
        }
    }
}

/// A tensor's values, or a summary when it is large.
pub fn format_tensor(tensor: &Tensor) -> String {
    let shape = tensor.shape().to_vec();
    if tensor.numel() > MAX_PRINTED {
        let head = tensor
            .reshape(&[tensor.numel()])
            .and_then(|flat| flat.narrow(0, 0, 8))
            .and_then(|t| t.to_f64_vec())
            .unwrap_or_default();
        return format!(
            "{shape:?} f32, {} elements: [{}, …]",
            tensor.numel(),
            head.iter()
                .map(|v| number(*v))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    match tensor.to_f64_vec() {
        Ok(_) if shape.contains(&0) => format!("{shape:?} (empty)"),
        Ok(data) => nested(&data, &shape),
        Err(e) => format!("<unreadable tensor: {e}>"),
    }
}

pub fn format_value(value: &Value) -> String {
    match value {
        Value::Number(v) => number(*v),
        Value::Tensor(t) => format_tensor(t),
        Value::Text(s) => s.clone(),
        Value::Record(fields) => format!(
            "{{{}}}",
            fields.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
        Value::Nothing => "()".into(),
    }
}

/// The answer to a Datalog query: `true`/`false` without variables, else one sorted tuple
/// per line.
pub fn format_answers(query: &str, variables: &[String], tuples: &[Vec<String>]) -> String {
    if variables.is_empty() {
        return format!("{query} {}", !tuples.is_empty());
    }
    let mut text = format!(
        "{query} {} answer{} ({})",
        tuples.len(),
        if tuples.len() == 1 { "" } else { "s" },
        variables.join(", ")
    );
    for tuple in tuples {
        text.push_str(&format!("\n  ({})", tuple.join(", ")));
    }
    text
}
