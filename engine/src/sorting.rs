//! Stable sorts that share one instantiation of the standard library's sort, for code shipped to the browser. A
//! utility, not a domain module: it exists for the app's size.
//!
//! `slice::sort_by` is generic over the element and the comparator: every call site gets its own copy of the
//! driftsort, quicksort and small-sort code, 1.5–4 KB of WASM each, and the app had 35 of them (62 KB of its 1 MB of
//! code). Here the elements are sorted through their indices with a comparator behind `dyn`, so the standard sort is
//! compiled once; what each call site adds is the index vector and the permutation. The result is the standard
//! stable sort's (equal elements keep their order). For the lists these sorts see (cars, laps, messages), the index
//! vector costs nothing measurable; hot loops keep the standard sorts.

use std::cmp::Ordering;

/// Sorts `v` stably by `compare`: the result of `v.sort_by(compare)`.
pub fn sort_by<T>(v: &mut [T], mut compare: impl FnMut(&T, &T) -> Ordering) {
    if v.len() < 2 {
        return;
    }
    let mut order: Vec<usize> = (0..v.len()).collect();
    {
        let v = &*v;
        sort_indices(&mut order, &mut |a, b| compare(&v[a], &v[b]));
    }
    permute(v, &mut order);
}

/// Sorts `v` stably by the key `key` gives: the result of `v.sort_by_key(key)`.
pub fn sort_by_key<T, K: Ord>(v: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_by(v, |a, b| key(a).cmp(&key(b)));
}

/// The one instantiation of the standard sort.
#[inline(never)]
fn sort_indices(order: &mut [usize], compare: &mut dyn FnMut(usize, usize) -> Ordering) {
    order.sort_by(|&a, &b| compare(a, b));
}

/// Puts `v[order[i]]` at `i` for every `i`, following the permutation's cycles; `order` is consumed.
fn permute<T>(v: &mut [T], order: &mut [usize]) {
    for start in 0..order.len() {
        let mut at = start;
        loop {
            let from = order[at];
            // Placed: marks the slot done, and ends a cycle of one.
            order[at] = at;
            if from == start || from == at {
                break;
            }
            v.swap(at, from);
            at = from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(not(target_arch = "wasm32"))]
    use proptest::prelude::*;

    #[cfg(not(target_arch = "wasm32"))]
    proptest! {
        #[test]
        fn the_same_order_as_the_standard_stable_sort(v in proptest::collection::vec((0u8..6, any::<u16>()), 0..200)) {
            // Sorting by the first field only: ties must keep their order, as the standard sort keeps it.
            let mut want = v.clone();
            want.sort_by_key(|x| x.0);
            let mut got = v.clone();
            sort_by(&mut got, |a, b| a.0.cmp(&b.0));
            prop_assert_eq!(&got, &want);
            let mut by_key = v;
            sort_by_key(&mut by_key, |x| x.0);
            prop_assert_eq!(by_key, want);
        }
    }

    #[test]
    fn permutations_with_cycles_of_one_to_five_land_right() {
        // Cycles of 1 (8), 2 (5 7), 3 (9 10 11), 4 (12 13 14 15) and 5 (0 1 2 3 4).
        let mut v: Vec<u32> = vec![4, 0, 3, 1, 2, 7, 6, 5, 8, 11, 9, 10, 15, 12, 13, 14];
        sort_by(&mut v, Ord::cmp);
        assert_eq!(v, (0..16).collect::<Vec<_>>());
        let mut strings = vec!["b".to_owned(), "a".to_owned()];
        sort_by(&mut strings, Ord::cmp);
        assert_eq!(strings, ["a", "b"]);
    }
}
