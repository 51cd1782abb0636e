//! A Bloom filter over the request ids of one segment: looking a request up by id reads these
//! small filters and decodes only the segments whose filter may hold the id, instead of keeping
//! a per-row index on the id (which cost every insert a B-tree write).
//!
//! The format is stored on disk, so the hash is fixed here (FNV-1a, 64 bits) rather than taken
//! from the standard library, whose hasher may change between Rust versions. About 10 bits per
//! id and 7 probes: roughly 1 % false positives, never a false negative.

/// Bits per id (rounded up to a power of two in total).
const BITS_PER_ID: usize = 10;
/// Probes per id.
const PROBES: u64 = 7;
/// The smallest filter, in bytes.
const MIN_BYTES: usize = 8;

/// An id's hash: what [`build`] takes.
pub fn hash(id: &str) -> u64 {
    fnv1a(id.as_bytes())
}

/// The filter for the ids whose [`hash`]es are `hashes`.
pub fn build(hashes: &[u64]) -> Vec<u8> {
    let bytes = (hashes.len() * BITS_PER_ID)
        .div_ceil(8)
        .max(MIN_BYTES)
        .next_power_of_two();
    let mut filter = vec![0u8; bytes];
    for &hash in hashes {
        for bit in probes(hash, bytes) {
            filter[bit / 8] |= 1 << (bit % 8);
        }
    }
    filter
}

/// Whether `id` may be among the filter's ids (`false`: it certainly is not). A filter whose
/// size is not one [`build`] makes answers `true`, so a damaged filter costs time, never rows.
pub fn may_contain(filter: &[u8], id: &str) -> bool {
    if filter.len() < MIN_BYTES || !filter.len().is_power_of_two() {
        return true;
    }
    probes(hash(id), filter.len()).all(|bit| filter[bit / 8] & (1 << (bit % 8)) != 0)
}

/// The bit positions of an id with `hash` in a filter of `bytes` bytes (a power of two).
fn probes(hash: u64, bytes: usize) -> impl Iterator<Item = usize> {
    let (first, step) = (hash & 0xffff_ffff, (hash >> 32) | 1);
    let mask = (bytes as u64 * 8) - 1;
    (0..PROBES).map(move |i| (first.wrapping_add(i.wrapping_mul(step)) & mask) as usize)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_put_in_is_found_and_few_others_are() {
        let ids: Vec<String> = (0..1_000).map(|i| format!("{i:016x}")).collect();
        let hashes: Vec<u64> = ids.iter().map(|id| hash(id)).collect();
        let filter = build(&hashes);
        assert!(ids.iter().all(|id| may_contain(&filter, id)));
        let false_positives = (1_000..101_000)
            .filter(|i| may_contain(&filter, &format!("{i:016x}")))
            .count();
        // ~1 % expected; 3 % would mean the probes are badly spread.
        assert!(false_positives < 3_000, "{false_positives} of 100 000");
    }

    #[test]
    fn an_empty_set_contains_nothing_and_a_damaged_filter_everything() {
        let filter = build(&[]);
        assert_eq!(filter.len(), MIN_BYTES);
        assert!(!may_contain(&filter, "abc"));
        assert!(may_contain(&[0u8; 3], "abc"));
        assert!(may_contain(&[], "abc"));
    }

    #[test]
    fn the_hash_is_the_stored_format() {
        // FNV-1a 64 test vectors: a change here would make existing files' filters wrong.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
