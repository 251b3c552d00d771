//! Property tests: any chain of views over a layout selects exactly the elements that the
//! same chain applied step by step to materialised arrays selects.

use proptest::prelude::*;
use tl_tensor::layout::Layout;
use tl_tensor::{DType, Device};

#[derive(Clone, Debug)]
enum ViewStep {
    Permute(Vec<usize>),
    Narrow {
        axis: usize,
        start: usize,
        len: usize,
    },
    Expand {
        lead: usize,
        stretch: usize,
    },
    Squeeze(usize),
    Unsqueeze(usize),
    Flatten,
    SplitFirst(usize),
}

fn step_strategy() -> impl Strategy<Value = ViewStep> {
    prop_oneof![
        proptest::collection::vec(any::<u32>(), 4).prop_map(|keys| {
            let mut dims: Vec<usize> = (0..4).collect();
            dims.sort_by_key(|&i| keys[i]);
            ViewStep::Permute(dims)
        }),
        (0usize..4, 0usize..4, 0usize..4).prop_map(|(axis, start, len)| ViewStep::Narrow {
            axis,
            start,
            len
        }),
        (0usize..3, 1usize..4).prop_map(|(lead, stretch)| ViewStep::Expand { lead, stretch }),
        (0usize..4).prop_map(ViewStep::Squeeze),
        (0usize..5).prop_map(ViewStep::Unsqueeze),
        Just(ViewStep::Flatten),
        (1usize..4).prop_map(ViewStep::SplitFirst),
    ]
}

/// The step as a layout transformation of `layout`, or `None` when it does not apply to
/// this shape. `Some(None)` means "reshape needs a copy first".
fn apply(step: &ViewStep, layout: &Layout) -> Option<Option<Layout>> {
    let shape = layout.shape();
    let rank = shape.len();
    match step {
        ViewStep::Permute(order) => {
            let dims: Vec<usize> = order.iter().copied().filter(|&d| d < rank).collect();
            Some(Some(layout.permute(&dims).ok()?))
        }
        ViewStep::Narrow { axis, start, len } => {
            let axis = *axis % rank.max(1);
            if rank == 0 || start + len > shape[axis] {
                return None;
            }
            Some(Some(layout.narrow(axis as isize, *start, *len).ok()?))
        }
        ViewStep::Expand { lead, stretch } => {
            let mut target: Vec<usize> = vec![*stretch; *lead];
            target.extend(shape.iter().map(|&d| if d == 1 { *stretch } else { d }));
            Some(Some(layout.expand(&target).ok()?))
        }
        ViewStep::Squeeze(axis) => {
            let axis = *axis % rank.max(1);
            if rank == 0 || shape[axis] != 1 {
                return None;
            }
            Some(Some(layout.squeeze(axis as isize).ok()?))
        }
        ViewStep::Unsqueeze(axis) => {
            if rank >= 5 {
                return None;
            }
            Some(Some(layout.unsqueeze((*axis % (rank + 1)) as isize).ok()?))
        }
        ViewStep::Flatten => Some(layout.reshape(&[layout.numel()]).ok()?),
        ViewStep::SplitFirst(parts) => {
            if rank == 0 || !shape[0].is_multiple_of(*parts) || rank >= 5 {
                return None;
            }
            let mut target = vec![*parts, shape[0] / parts];
            target.extend_from_slice(&shape[1..]);
            Some(layout.reshape(&target).ok()?)
        }
    }
}

proptest! {
    #[test]
    fn view_chains_select_the_same_elements(
        shape in proptest::collection::vec(1usize..5, 1..4),
        steps in proptest::collection::vec(step_strategy(), 0..8),
    ) {
        let numel: usize = shape.iter().product();
        // Strided path: one buffer, layouts composed; a reshape that needs a copy copies.
        let mut buffer: Vec<usize> = (0..numel).collect();
        let mut layout = Layout::contiguous(&shape);
        // Materialised path: every step produces a fresh dense array.
        let mut dense: Vec<usize> = (0..numel).collect();
        let mut dense_shape = shape.clone();
        for step in &steps {
            let Some(result) = apply(step, &layout) else { continue };
            let new_layout = match result {
                Some(l) => l,
                None => {
                    buffer = layout.offsets().map(|o| buffer[o]).collect();
                    let copied = Layout::contiguous(layout.shape());
                    apply(step, &copied).expect("applies to the same shape").expect("dense reshapes")
                }
            };
            let on_dense = apply(step, &Layout::contiguous(&dense_shape))
                .expect("applies to the same shape")
                .expect("dense layouts reshape");
            dense = on_dense.offsets().map(|o| dense[o]).collect();
            dense_shape = on_dense.shape().to_vec();
            layout = new_layout;
            prop_assert_eq!(layout.shape(), &dense_shape[..]);
            prop_assert!(layout.span_end() <= buffer.len());
        }
        let selected: Vec<usize> = layout.offsets().map(|o| buffer[o]).collect();
        prop_assert_eq!(selected, dense);
    }

    #[test]
    fn permute_then_inverse_is_identity(shape in proptest::collection::vec(1usize..6, 1..5), keys in proptest::collection::vec(any::<u32>(), 5)) {
        let rank = shape.len();
        let mut dims: Vec<usize> = (0..rank).collect();
        dims.sort_by_key(|&i| keys[i]);
        let mut inverse = vec![0; rank];
        for (i, &d) in dims.iter().enumerate() {
            inverse[d] = i;
        }
        let layout = Layout::contiguous(&shape);
        let round_trip = layout.permute(&dims).unwrap().permute(&inverse).unwrap();
        prop_assert_eq!(round_trip, layout);
    }
}

#[test]
fn reshape_of_a_transposed_tensor_copies_instead_of_aliasing() {
    let device = Device::cpu();
    let x = device
        .from_slice(&[1f32, 2., 3., 4., 5., 6.], &[2, 3])
        .unwrap();
    let t = x.transpose(0, 1).unwrap();
    let flat = t.reshape(&[6]).unwrap();
    assert_eq!(flat.to_vec::<f32>().unwrap(), vec![1., 4., 2., 5., 3., 6.]);
    assert!(
        !flat.buffer().same_memory(x.buffer()),
        "a non-dense reshape must copy"
    );
    let view = x.reshape(&[3, 2]).unwrap();
    assert!(
        view.buffer().same_memory(x.buffer()),
        "a dense reshape must not copy"
    );
}

#[test]
fn bad_views_are_errors_not_panics() {
    let device = Device::cpu();
    let x = device.zeros(&[2, 3], DType::F32).unwrap();
    assert!(x.reshape(&[4]).is_err());
    assert!(x.permute(&[0, 0]).is_err());
    assert!(x.narrow(1, 2, 2).is_err());
    assert!(x.narrow(5, 0, 1).is_err());
    assert!(x.expand(&[3, 3]).is_err());
    assert!(x.squeeze(0).is_err());
    assert!(x.unsqueeze(4).is_err());
    assert!(x.matmul(&x).is_err());
}

#[test]
fn narrowing_an_empty_view_stays_inside_its_buffer() {
    // Found by `view_chains_select_the_same_elements`: [1] → narrow to [0] → reshape [3, 0]
    // → narrow rows 2..3 moved the offset of a view with no elements past the buffer.
    let empty = Layout::contiguous(&[1]).narrow(0, 0, 0).unwrap();
    let reshaped = empty.reshape(&[3, 0]).unwrap().unwrap();
    let narrowed = reshaped.narrow(0, 2, 1).unwrap();
    assert!(narrowed.span_end() <= 1);
    let device = Device::cpu();
    let x = device.zeros(&[1], DType::F32).unwrap();
    let view = x
        .narrow(0, 0, 0)
        .unwrap()
        .reshape(&[3, 0])
        .unwrap()
        .narrow(0, 2, 1)
        .unwrap();
    assert_eq!(
        view.contiguous().unwrap().to_vec::<f32>().unwrap(),
        Vec::<f32>::new()
    );
}
