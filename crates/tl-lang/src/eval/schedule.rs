//! The order top-level definitions run in: the dependency graph over the names they
//! define, split into strongly connected components (Tarjan), dependencies first.

use std::collections::HashMap;

/// A set of names that depend on each other, evaluated together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Component {
    /// In order of first definition in the program.
    pub names: Vec<String>,
    /// Whether some name depends on itself through the component (a loop to iterate).
    pub recursive: bool,
}

/// Splits the graph `name → names it reads` into components in evaluation order. `names`
/// lists every defined name in program order; reads of undefined names (host tensors,
/// loads) are ignored.
pub fn components(names: &[String], reads: &HashMap<String, Vec<String>>) -> Vec<Component> {
    let index_of: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let edges: Vec<Vec<usize>> = names
        .iter()
        .map(|n| {
            let mut targets: Vec<usize> = reads
                .get(n)
                .into_iter()
                .flatten()
                .filter_map(|r| index_of.get(r.as_str()).copied())
                .collect();
            targets.sort_unstable();
            targets.dedup();
            targets
        })
        .collect();

    // Iterative Tarjan, so that a long chain of definitions cannot overflow the stack.
    const UNSEEN: usize = usize::MAX;
    let n = names.len();
    let mut order = vec![UNSEEN; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<usize> = Vec::new();
    let mut counter = 0;
    let mut result: Vec<Vec<usize>> = Vec::new();
    for root in 0..n {
        if order[root] != UNSEEN {
            continue;
        }
        let mut calls: Vec<(usize, usize)> = vec![(root, 0)];
        order[root] = counter;
        low[root] = counter;
        counter += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (node, ref mut next)) = calls.last_mut() {
            if let Some(&child) = edges[node].get(*next) {
                *next += 1;
                if order[child] == UNSEEN {
                    order[child] = counter;
                    low[child] = counter;
                    counter += 1;
                    stack.push(child);
                    on_stack[child] = true;
                    calls.push((child, 0));
                } else if on_stack[child] {
                    low[node] = low[node].min(order[child]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                low[parent] = low[parent].min(low[node]);
            }
            if low[node] == order[node] {
                let mut members = Vec::new();
                while let Some(member) = stack.pop() {
                    on_stack[member] = false;
                    members.push(member);
                    if member == node {
                        break;
                    }
                }
                members.sort_unstable();
                result.push(members);
            }
        }
    }
    // Tarjan finishes a component after everything it reads, so `result` is already in
    // evaluation order.
    result
        .into_iter()
        .map(|members| {
            let recursive = members.len() > 1 || edges[members[0]].contains(&members[0]);
            Component {
                names: members.iter().map(|&m| names[m].clone()).collect(),
                recursive,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> (Vec<String>, HashMap<String, Vec<String>>) {
        let names = edges.iter().map(|(n, _)| n.to_string()).collect();
        let reads = edges
            .iter()
            .map(|(n, r)| (n.to_string(), r.iter().map(|s| s.to_string()).collect()))
            .collect();
        (names, reads)
    }

    #[test]
    fn dependencies_come_first_and_cycles_group() {
        let (names, reads) = graph(&[
            ("Y", &["H", "X"]),
            ("H", &["W"]),
            ("Anc", &["Anc", "Parent"]),
            ("A", &["B"]),
            ("B", &["A", "Y"]),
            ("W", &[]),
            ("Parent", &[]),
        ]);
        let order = components(&names, &reads);
        let position = |name: &str| {
            order
                .iter()
                .position(|c| c.names.iter().any(|n| n == name))
                .expect("placed")
        };
        assert!(position("W") < position("H"));
        assert!(position("H") < position("Y"));
        assert!(position("Parent") < position("Anc"));
        assert!(position("Y") < position("A"));
        assert_eq!(position("A"), position("B"));
        let cycle = &order[position("A")];
        assert!(cycle.recursive);
        assert!(order[position("Anc")].recursive);
        assert!(!order[position("Y")].recursive);
        assert_eq!(order.len(), 6);
    }
}
