//! The name tables of reps, regions and products: dense indexes by the name's bytes.

/// The hasher of the validator's maps: fast on short keys, seeded per process.
pub(super) type FastHash = foldhash::fast::RandomState;

/// Names (of reps, regions, products) seen so far, each with a dense index: an
/// open-addressing table looked up by the name's bytes, three times per row, so it is
/// made cheap. The slots are 8 bytes (32 bits of the hash and the index), kept at most a
/// quarter full, so a table of a few hundred names stays in the L1 cache and a lookup
/// nearly always ends at its first slot; a name's key keeps its first and last 8 bytes and
/// its length, which decide equality outright for names of up to 16 bytes (and leave only
/// the middle to compare for longer ones). The hash is a seeded multiply-fold of the
/// words: a file cannot choose names that collide. Public so that the benchmarks' floor
/// (`perfkit bare-numbers`) uses the same tables.
pub struct Names {
    /// `hash >> 32 << 32 | (index + 1)`; 0 is an empty slot.
    pub(super) slots: Vec<u64>,
    pub(super) keys: Vec<NameKey>,
    pub(super) names: Vec<Box<[u8]>>,
    pub(super) seed: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct NameKey {
    pub(super) head: u64,
    pub(super) tail: u64,
    pub(super) len: usize,
}

/// The first and last 8 bytes of `k` (overlapping when shorter than 16; zero-padded when
/// shorter than 8).
#[inline]
pub(super) fn name_words(k: &[u8]) -> (u64, u64) {
    let word = |b: &[u8]| b.try_into().map_or(0, u64::from_le_bytes);
    match k.len() {
        n if n >= 8 => (word(&k[..8]), word(&k[n - 8..])),
        _ => (k.iter().rev().fold(0u64, |w, &b| w << 8 | u64::from(b)), 0),
    }
}

/// `a == b`, 8 bytes at a time and inline (names and id prefixes are short: a call to
/// `memcmp` would cost more than the comparison).
#[inline]
pub(super) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a.len() < 8 {
        return a == b;
    }
    let word = |x: &[u8], i: usize| x[i..i + 8].try_into().map_or(0, u64::from_le_bytes);
    let last = a.len() - 8;
    let mut i = 0;
    while i < last {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    word(a, last) == word(b, last)
}

#[inline]
pub(super) fn fold_mul(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

impl Default for Names {
    fn default() -> Self {
        Names::new()
    }
}

impl Names {
    pub fn new() -> Names {
        use std::hash::BuildHasher;
        let seed = std::collections::hash_map::RandomState::new().hash_one(0x5EED_u64) | 1;
        Names { slots: vec![0; 64], keys: Vec::new(), names: Vec::new(), seed }
    }

    #[inline]
    pub(super) fn hash(&self, k: &[u8], head: u64, tail: u64) -> u64 {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut h = fold_mul(head ^ self.seed, tail ^ K ^ k.len() as u64);
        let n = k.len();
        if n > 16 {
            let middle = &k[8..n - 8];
            let mut words = middle.chunks_exact(8);
            for w in &mut words {
                h = fold_mul(h ^ w.try_into().map_or(0, u64::from_le_bytes), K);
            }
            if !words.remainder().is_empty() {
                let w = k[n - 16..n - 8].try_into().map_or(0, u64::from_le_bytes);
                h = fold_mul(h ^ w, K);
            }
        }
        h
    }

    /// The index of `name`, adding it the first time. Inlined (the cold part is not) so
    /// that a row's three lookups, which do not depend on each other, overlap.
    #[inline(always)]
    pub fn slot(&mut self, name: &[u8]) -> usize {
        // No table reaches `usize::MAX` names: memory ends long before.
        self.slot_within(name, usize::MAX).unwrap_or(usize::MAX)
    }

    /// The index of `name`, adding it the first time if fewer than `max` names are known;
    /// `None` when `name` is new and the table is full (nothing is added).
    #[inline(always)]
    pub fn slot_within(&mut self, name: &[u8], max: usize) -> Option<usize> {
        let (head, tail) = name_words(name);
        let key = NameKey { head, tail, len: name.len() };
        let hash = self.hash(name, head, tail);
        let tag = hash & !0xFFFF_FFFF;
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                return (self.names.len() < max).then(|| self.add(i, name, key, tag));
            }
            if slot & !0xFFFF_FFFF == tag {
                let index = (slot as u32 - 1) as usize;
                if self.keys[index] == key
                    && (name.len() <= 16 || same_bytes(&self.names[index], name))
                {
                    return Some(index);
                }
            }
            i = (i + 1) & mask;
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn add(&mut self, at: usize, name: &[u8], key: NameKey, tag: u64) -> usize {
        let index = self.names.len();
        self.names.push(Box::from(name));
        self.keys.push(key);
        self.slots[at] = tag | (index as u64 + 1);
        if self.names.len() * 4 > self.slots.len() {
            let grown = vec![0u64; 2 * self.slots.len()];
            let old = std::mem::replace(&mut self.slots, grown);
            for slot in old.into_iter().filter(|&slot| slot != 0) {
                // The tag is the hash's high half; the slot came from its low bits, which
                // are recomputed from the name (no need to keep them).
                let index = (slot as u32 - 1) as usize;
                let k = self.keys[index];
                let hash = self.hash(&self.names[index], k.head, k.tail);
                let mask = self.slots.len() - 1;
                let mut i = hash as usize & mask;
                while self.slots[i] != 0 {
                    i = (i + 1) & mask;
                }
                self.slots[i] = slot;
            }
        }
        index
    }

    /// How many names there are.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The name at `i` as text (names come only from rows found valid UTF-8).
    pub(super) fn text(&self, i: usize) -> String {
        String::from_utf8_lossy(&self.names[i]).into_owned()
    }
}
