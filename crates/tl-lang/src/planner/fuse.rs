//! Small rewrites after lowering: `silu(g) · u` of one shape becomes the fused `swiglu`
//! op, and steps and inputs nothing reads are dropped.

use crate::plan::{Plan, ValueId};
use std::collections::HashMap;
use tl_tensor::{BinaryOp, Op, UnaryOp};

pub(crate) fn optimize(mut plan: Plan) -> Plan {
    fuse_swiglu(&mut plan);
    drop_unused(&mut plan);
    renumber(&mut plan);
    plan
}

/// Numbers values in reading order: inputs first, then steps.
pub(crate) fn renumber(plan: &mut Plan) {
    let mut map: HashMap<ValueId, ValueId> = HashMap::new();
    for (new, input) in plan.inputs.iter_mut().enumerate() {
        map.insert(input.value, new);
        input.value = new;
    }
    let offset = plan.inputs.len();
    for (i, step) in plan.steps.iter_mut().enumerate() {
        map.insert(step.value, offset + i);
        step.value = offset + i;
        for arg in &mut step.args {
            *arg = map.get(arg).copied().unwrap_or(*arg);
        }
    }
    plan.output = map.get(&plan.output).copied().unwrap_or(plan.output);
}

fn uses(plan: &Plan) -> HashMap<ValueId, usize> {
    let mut count = HashMap::new();
    for step in &plan.steps {
        for arg in &step.args {
            *count.entry(*arg).or_default() += 1;
        }
    }
    *count.entry(plan.output).or_default() += 1;
    count
}

fn fuse_swiglu(plan: &mut Plan) {
    let uses = uses(plan);
    let producers: HashMap<ValueId, usize> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.value, i))
        .collect();
    let shape_of = |plan: &Plan, id: ValueId| -> Option<Vec<usize>> {
        plan.inputs
            .iter()
            .find(|i| i.value == id)
            .map(|i| i.shape.clone())
            .or_else(|| producers.get(&id).map(|&i| plan.steps[i].shape.clone()))
    };
    for i in 0..plan.steps.len() {
        if plan.steps[i].op != Op::Binary(BinaryOp::Mul) || plan.steps[i].args.len() != 2 {
            continue;
        }
        for (gate_slot, up_slot) in [(0, 1), (1, 0)] {
            let gated = plan.steps[i].args[gate_slot];
            let up = plan.steps[i].args[up_slot];
            let Some(&producer) = producers.get(&gated) else {
                continue;
            };
            let silu = &plan.steps[producer];
            if silu.op != Op::Unary(UnaryOp::Silu) || uses.get(&gated) != Some(&1) {
                continue;
            }
            let gate = silu.args[0];
            let out_shape = plan.steps[i].shape.clone();
            if shape_of(plan, gate) == Some(out_shape.clone())
                && shape_of(plan, up) == Some(out_shape)
            {
                plan.steps[i].op = Op::SwiGlu;
                plan.steps[i].args = vec![gate, up];
                break;
            }
        }
    }
}

fn drop_unused(plan: &mut Plan) {
    loop {
        let uses = uses(plan);
        let before = plan.steps.len() + plan.inputs.len();
        plan.steps.retain(|s| uses.contains_key(&s.value));
        plan.inputs.retain(|i| uses.contains_key(&i.value));
        if plan.steps.len() + plan.inputs.len() == before {
            break;
        }
    }
}
