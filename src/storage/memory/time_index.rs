//! An index of traces by timestamp that is cheap to write out of order.
//!
//! Traces arrive at any timestamp (a corpus replayed, exporters catching up, clocks
//! apart), and an ordered tree pays a cache miss per level for each insert at a random
//! position; with one tree for all traces and one per service, that was the largest cost
//! of storing a span. Here entries are appended to coarse time slots (about 17 seconds
//! each, so an hour is 215 slots and the slot maps stay in cache) and put in order only
//! by the readers that need it, a slot at a time: a search heaps the few slots it walks,
//! eviction sorts the oldest slot once.
//!
//! Entries are never removed one by one. When a trace's timestamp changes it is appended
//! again under a new *generation*; the owner says which generation of a unit is current
//! (`is_current`), and readers skip the rest. Stale entries leave with their slot, from
//! the old end, as eviction goes past them (`trim`).

use std::collections::{BTreeMap, BinaryHeap};

/// log2 of a slot's width in microseconds (about 17 s). Wider slots make the slot maps
/// smaller (an hour is 215 slots), so writes find their slot in cache; readers pay with
/// larger slots to order, but a slot holds at most what `MEM_MAX_SPANS` lets the store
/// keep.
const SLOT_SHIFT: u32 = 24;

/// One indexed unit (a trace as queries see it): its trace timestamp, bucket, the high
/// id bits that select it in the bucket, and the generation it was indexed under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    pub ts: u64,
    pub low: u64,
    pub high: u64,
    pub generation: u64,
}

#[derive(Default)]
struct Slot {
    entries: Vec<Entry>,
    /// Sorted newest first, so that the oldest entry is popped from the end.
    sorted: bool,
}

#[derive(Default)]
pub struct TimeIndex {
    slots: BTreeMap<u64, Slot>,
}

impl TimeIndex {
    pub fn push(&mut self, entry: Entry) {
        let slot = self.slots.entry(entry.ts >> SLOT_SHIFT).or_default();
        slot.sorted &= slot.entries.is_empty();
        slot.entries.push(entry);
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Removes and returns the oldest entry that `is_current` accepts, dropping the stale
    /// ones before it.
    pub fn pop_oldest(&mut self, is_current: impl Fn(&Entry) -> bool) -> Option<Entry> {
        self.trim(is_current);
        let mut first = self.slots.first_entry()?;
        let popped = first.get_mut().entries.pop();
        if first.get().entries.is_empty() {
            first.remove();
        }
        popped
    }

    /// Drops stale entries from the old end, up to the first current one.
    pub fn trim(&mut self, is_current: impl Fn(&Entry) -> bool) {
        while let Some(mut first) = self.slots.first_entry() {
            let slot = first.get_mut();
            if !slot.sorted {
                slot.entries.sort_unstable_by(|a, b| b.cmp(a));
                slot.sorted = true;
            }
            while let Some(oldest) = slot.entries.last() {
                if is_current(oldest) {
                    return;
                }
                slot.entries.pop();
            }
            first.remove();
        }
    }

    /// Current entries with `start <= ts <= end`, newest first.
    pub fn newest_first<'a>(
        &'a self,
        start: u64,
        end: u64,
        is_current: impl Fn(&Entry) -> bool + 'a,
    ) -> impl Iterator<Item = Entry> + 'a {
        self.slots
            .range(start >> SLOT_SHIFT..=end >> SLOT_SHIFT)
            .rev()
            .flat_map(move |(_, slot)| {
                // A heap, not a sort: building it is linear, and a search usually takes
                // only the first few entries of a slot.
                let mut entries: BinaryHeap<Entry> = slot
                    .entries
                    .iter()
                    .filter(|e| e.ts >= start && e.ts <= end)
                    .copied()
                    .collect();
                std::iter::from_fn(move || entries.pop())
            })
            // Checked lazily: a search usually stops after a few entries.
            .filter(move |e| is_current(e))
    }

    /// Every entry, current or stale, with `start <= ts <= end`, in no order.
    pub fn in_window(&self, start: u64, end: u64) -> impl Iterator<Item = &Entry> + '_ {
        self.slots
            .range(start >> SLOT_SHIFT..=end >> SLOT_SHIFT)
            .flat_map(|(_, slot)| &slot.entries)
            .filter(move |e| e.ts >= start && e.ts <= end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ts: u64, low: u64, generation: u64) -> Entry {
        Entry {
            ts,
            low,
            high: 0,
            generation,
        }
    }

    #[test]
    fn readers_see_current_entries_in_order_whatever_the_write_order() {
        let mut index = TimeIndex::default();
        let slot = 1 << SLOT_SHIFT;
        let writes = [
            entry(5 * slot + 3, 1, 1),
            entry(2, 2, 2),
            entry(5 * slot + 1, 3, 3),
            entry(9 * slot, 4, 4),
            entry(5 * slot + 2, 5, 5),
            entry(5 * slot + 1, 3, 0), // an older generation of unit 3
        ];
        for e in writes {
            index.push(e);
        }
        let current = |e: &Entry| e.generation != 0;
        let newest: Vec<u64> = index
            .newest_first(1, 9 * slot, current)
            .map(|e| e.low)
            .collect();
        assert_eq!(newest, [4, 1, 5, 3, 2]);
        let window: Vec<u64> = index
            .newest_first(5 * slot + 2, 5 * slot + 3, current)
            .map(|e| e.low)
            .collect();
        assert_eq!(window, [1, 5]);
        let mut near: Vec<u64> = index
            .in_window(5 * slot + 1, 9 * slot - 1)
            .map(|e| e.low)
            .collect();
        near.sort_unstable();
        assert_eq!(near, [1, 3, 3, 5], "stale entries too");

        let popped: Vec<u64> =
            std::iter::from_fn(|| index.pop_oldest(current).map(|e| e.low)).collect();
        assert_eq!(popped, [2, 3, 5, 1, 4]);
        assert!(index.is_empty());
    }

    #[test]
    fn trim_drops_stale_entries_up_to_the_first_current_one() {
        let mut index = TimeIndex::default();
        for (ts, generation) in [(10, 0), (20, 1), (30, 0)] {
            index.push(entry(ts, ts, generation));
        }
        index.trim(|e| e.generation != 0);
        let mut left: Vec<u64> = index.in_window(0, 100).map(|e| e.ts).collect();
        left.sort_unstable();
        assert_eq!(left, [20, 30]);
        // A write into the slot after it was sorted for popping still comes out in order.
        index.push(entry(15, 15, 1));
        assert_eq!(
            index.pop_oldest(|e| e.generation != 0).map(|e| e.ts),
            Some(15)
        );
        assert_eq!(
            index.pop_oldest(|e| e.generation != 0).map(|e| e.ts),
            Some(20)
        );
        assert_eq!(index.pop_oldest(|e| e.generation != 0), None);
    }
}
