//! Runs one [`Plan`] on a [`Device`]: inputs come from the caller, each step is one view or
//! one `Device::run`. Nothing here loops over index values.

use crate::plan::{Input, Plan};
use std::collections::HashMap;
use tl_tensor::{DType, Device, Tensor};

/// Builds a tensor of `shape` and `dtype` from numbers the program wrote or computed.
pub fn tensor_from_numbers(
    device: &Device,
    values: &[f64],
    shape: &[usize],
    dtype: DType,
) -> tl_tensor::Result<Tensor> {
    match dtype {
        DType::I64 => {
            let data: Vec<i64> = values.iter().map(|&v| v as i64).collect();
            device.from_slice(&data, shape)
        }
        DType::I32 => {
            let data: Vec<i32> = values.iter().map(|&v| v as i32).collect();
            device.from_slice(&data, shape)
        }
        _ => {
            let data: Vec<f32> = values.iter().map(|&v| v as f32).collect();
            let tensor = device.from_slice(&data, shape)?;
            if dtype == DType::F32 {
                Ok(tensor)
            } else {
                tensor.cast(dtype)
            }
        }
    }
}

/// Runs `plan`; `input` supplies the tensor for each of its inputs (already of the input's
/// shape). The error says which step or input failed.
pub fn run_plan(
    plan: &Plan,
    device: &Device,
    input: &mut dyn FnMut(&Input) -> Result<Tensor, String>,
) -> Result<Tensor, String> {
    let mut values: HashMap<usize, Tensor> = HashMap::with_capacity(plan.steps.len() + 4);
    for item in &plan.inputs {
        let tensor = input(item)?;
        if tensor.shape() != item.shape.as_slice() {
            return Err(format!(
                "input {:?} is {:?} but the plan was made for {:?}",
                item.source,
                tensor.shape(),
                item.shape
            ));
        }
        let tensor = if tensor.dtype() == item.dtype {
            tensor
        } else {
            tensor.cast(item.dtype).map_err(|e| e.to_string())?
        };
        values.insert(item.value, tensor);
    }
    for step in &plan.steps {
        let args: Vec<&Tensor> = step
            .args
            .iter()
            .map(|a| values.get(a).ok_or_else(|| format!("%{a} is not defined")))
            .collect::<Result<_, _>>()?;
        let result = if step.op.is_view() {
            args.first()
                .ok_or_else(|| format!("view {} without an input", step.op.name()))?
                .view(&step.op)
        } else {
            device.run1(&step.op, &args)
        }
        .map_err(|e| format!("step %{} ({}): {e}", step.value, step.op.name()))?;
        values.insert(step.value, result);
    }
    values
        .remove(&plan.output)
        .ok_or_else(|| format!("the plan's result %{} is not defined", plan.output))
}
