//! Reference-counted string interning for the in-memory store.
//!
//! Service names, span names and tag keys repeat across millions of spans; storing each
//! once and referring to it by a 4-byte symbol is most of what keeps a stored span smaller
//! than its JSON. Symbols are counted so that names disappear with the last span that used
//! them: a service whose spans were all evicted is no longer listed, and a burst of
//! high-cardinality span names cannot grow the table forever.

use compact_str::CompactString;

use crate::hashing::RandomMap;

/// A symbol; `NONE` (0) stands for an absent name.
pub type Sym = u32;
pub const NONE: Sym = 0;

#[derive(Default)]
pub struct Interner {
    ids: RandomMap<CompactString, Sym>,
    /// Indexed by symbol; slot 0 is unused so that `NONE` never resolves.
    names: Vec<CompactString>,
    counts: Vec<u32>,
    free: Vec<Sym>,
}

impl Interner {
    pub fn new() -> Self {
        Self {
            ids: RandomMap::default(),
            names: vec![CompactString::default()],
            counts: vec![0],
            free: Vec::new(),
        }
    }

    /// Returns the symbol for `name`, taking one reference.
    pub fn acquire(&mut self, name: &str) -> Sym {
        if let Some(&sym) = self.ids.get(name) {
            self.counts[sym as usize] += 1;
            return sym;
        }
        let name = CompactString::from(name);
        let sym = match self.free.pop() {
            Some(sym) => {
                self.names[sym as usize] = name.clone();
                self.counts[sym as usize] = 1;
                sym
            }
            None => {
                self.names.push(name.clone());
                self.counts.push(1);
                (self.names.len() - 1) as Sym
            }
        };
        self.ids.insert(name, sym);
        sym
    }

    /// Drops one reference; the name is forgotten with its last reference.
    pub fn release(&mut self, sym: Sym) {
        if sym == NONE {
            return;
        }
        let count = &mut self.counts[sym as usize];
        *count -= 1;
        if *count == 0 {
            let name = std::mem::take(&mut self.names[sym as usize]);
            self.ids.remove(&name);
            self.free.push(sym);
        }
    }

    /// The symbol of a name, if any stored span uses it.
    pub fn lookup(&self, name: &str) -> Option<Sym> {
        self.ids.get(name).copied()
    }

    pub fn resolve(&self, sym: Sym) -> &str {
        &self.names[sym as usize]
    }

    /// Number of distinct live names.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.ids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_forgotten_with_their_last_reference() {
        let mut interner = Interner::new();
        let a = interner.acquire("frontend");
        assert_eq!(interner.acquire("frontend"), a);
        assert_eq!(interner.resolve(a), "frontend");
        interner.release(a);
        assert_eq!(interner.lookup("frontend"), Some(a));
        interner.release(a);
        assert_eq!(interner.lookup("frontend"), None);
        assert_eq!(interner.len(), 0);
        // The slot is reused for the next new name.
        assert_eq!(interner.acquire("backend"), a);
    }
}
