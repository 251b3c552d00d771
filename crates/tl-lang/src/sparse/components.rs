//! Strongly connected components of the relations' dependency graph (Tarjan's algorithm,
//! iterative so that long chains of rules cannot overflow the stack).

/// The components of the graph with `successors[v]` the edges out of `v`, each listed once,
/// in an order where every component comes after all components it has edges into: with
/// edges from a rule's head to its body relations, dependencies come first.
pub fn strongly_connected_components(successors: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = successors.len();
    const UNVISITED: usize = usize::MAX;
    let mut order = vec![UNVISITED; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut components = Vec::new();
    let mut next_order = 0;
    // (vertex, index of the next successor to look at)
    let mut call_stack: Vec<(usize, usize)> = Vec::new();
    for root in 0..n {
        if order[root] != UNVISITED {
            continue;
        }
        call_stack.push((root, 0));
        order[root] = next_order;
        low[root] = next_order;
        next_order += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut next)) = call_stack.last_mut() {
            if let Some(&w) = successors[v].get(*next) {
                *next += 1;
                if order[w] == UNVISITED {
                    order[w] = next_order;
                    low[w] = next_order;
                    next_order += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    call_stack.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(order[w]);
                }
                continue;
            }
            call_stack.pop();
            if let Some(&(parent, _)) = call_stack.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == order[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                component.sort_unstable();
                components.push(component);
            }
        }
    }
    components
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_group_and_dependencies_come_first() {
        // 0 → 1 → 2 → 1, 2 → 3, 4 alone, 5 → 5.
        let successors = vec![vec![1], vec![2], vec![1, 3], vec![], vec![], vec![5]];
        let components = strongly_connected_components(&successors);
        assert_eq!(components.len(), 5);
        let place = |v: usize| components.iter().position(|c| c.contains(&v)).unwrap();
        assert_eq!(place(1), place(2));
        assert!(place(3) < place(1));
        assert!(place(1) < place(0));
        assert!(components.contains(&vec![5]));
        assert!(components.contains(&vec![4]));
    }

    #[test]
    fn a_long_chain_does_not_overflow() {
        let n = 200_000;
        let successors: Vec<Vec<usize>> = (0..n)
            .map(|v| if v + 1 < n { vec![v + 1] } else { vec![] })
            .collect();
        let components = strongly_connected_components(&successors);
        assert_eq!(components.len(), n);
        assert_eq!(components[0], vec![n - 1]);
    }
}
