//! Bounded lists for live data: the newest items are kept, the oldest fall off.

use std::collections::VecDeque;

/// Puts `items` (oldest first) at the front of `list` (newest first), keeping at most `cap`.
pub fn push_newest<T>(list: &mut VecDeque<T>, items: Vec<T>, cap: usize) {
    let skip = items.len().saturating_sub(cap);
    for item in items.into_iter().skip(skip) {
        list.push_front(item);
    }
    list.truncate(cap);
}

/// Appends `items` (oldest first) to `list` (oldest first), keeping the newest `cap`.
pub fn push_oldest_first<T>(list: &mut VecDeque<T>, items: Vec<T>, cap: usize) {
    list.extend(items);
    let excess = list.len().saturating_sub(cap);
    list.drain(..excess);
}

/// Merges `items` into `list`, both newest first by `key`, without duplicates, keeping the
/// newest `cap`.
pub fn merge_newest<T>(list: &mut VecDeque<T>, items: Vec<T>, cap: usize, key: impl Fn(&T) -> u64) {
    let mut all: Vec<T> = list.drain(..).chain(items).collect();
    all.sort_by_key(|item| std::cmp::Reverse(key(item)));
    all.dedup_by_key(|item| key(item));
    all.truncate(cap);
    list.extend(all);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_lists_stay_newest_first_without_duplicates() {
        let mut list = VecDeque::from([9, 7, 6]);
        merge_newest(&mut list, vec![8, 7, 5, 4], 5, |n| *n);
        assert_eq!(list, [9, 8, 7, 6, 5]);
        merge_newest(&mut list, Vec::new(), 2, |n| *n);
        assert_eq!(list, [9, 8]);
    }

    #[test]
    fn newest_first_lists_keep_the_newest() {
        let mut list = VecDeque::from([3, 2, 1]);
        push_newest(&mut list, vec![4, 5], 4);
        assert_eq!(list, [5, 4, 3, 2]);
        // A batch larger than the cap keeps only its newest items.
        push_newest(&mut list, (6..=20).collect(), 3);
        assert_eq!(list, [20, 19, 18]);
    }

    #[test]
    fn oldest_first_lists_drop_from_the_front() {
        let mut list = VecDeque::from([1, 2]);
        push_oldest_first(&mut list, vec![3, 4, 5], 3);
        assert_eq!(list, [3, 4, 5]);
        push_oldest_first(&mut list, (6..=100).collect(), 3);
        assert_eq!(list, [98, 99, 100]);
    }
}
