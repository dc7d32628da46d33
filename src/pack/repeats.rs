//! Finding the repeated values of a stream too long to keep, in two readings of it and about a byte and a half
//! per value: the first reading adds each value's 8-byte digest to a Bloom filter and keeps the digests the
//! filter may have seen already (its suspects: every repeat, and about one value in a hundred besides); the
//! second counts the suspects, and the digests counted twice are the repeats (of the values, or of their
//! digests: a caller confirms them with the values themselves). A stream without suspects needs no second
//! reading.

/// Bits of filter per value expected (with [`PROBES`] probes, about 2% of the last values added are false
/// suspects, fewer of the earlier ones).
const BITS_PER_VALUE: usize = 8;
/// Bit positions set and tested per digest.
const PROBES: u64 = 6;
/// The smallest and the largest filter, in bits: more values than the largest one was made for make more
/// suspects, never a wrong answer.
const MIN_BITS: usize = 1 << 12;
const MAX_BITS: usize = 1 << 27;

/// The first reading: a Bloom filter of digests and the digests it may have seen before.
pub(crate) struct RepeatFilter {
    bits: Vec<u64>,
    /// The number of bits, less one (a power of two, less one).
    mask: u64,
    suspects: Vec<u64>,
}

impl RepeatFilter {
    /// A filter for about `expected` values (a count that may be wrong: it sizes the filter, within bounds).
    pub(crate) fn new(expected: usize) -> RepeatFilter {
        let bits = expected.saturating_mul(BITS_PER_VALUE).clamp(MIN_BITS, MAX_BITS).next_power_of_two();
        RepeatFilter { bits: vec![0; bits / 64], mask: bits as u64 - 1, suspects: Vec::new() }
    }

    /// Adds `digest`, keeping it as a suspect when every bit it sets was set already.
    pub(crate) fn add(&mut self, digest: u64) {
        // Double hashing: probe i is the low half plus i times the (odd) high half, modulo the size.
        let step = (digest >> 32) | 1;
        let mut seen = true;
        for i in 0..PROBES {
            let bit = digest.wrapping_add(i.wrapping_mul(step)) & self.mask;
            let (word, mask) = ((bit / 64) as usize, 1u64 << (bit % 64));
            seen &= self.bits[word] & mask != 0;
            self.bits[word] |= mask;
        }
        if seen {
            self.suspects.push(digest);
        }
    }

    /// The suspects, for the second reading (the filter itself is dropped).
    pub(crate) fn into_suspects(self) -> Suspects {
        let mut digests = self.suspects;
        digests.sort_unstable();
        digests.dedup();
        digests.shrink_to_fit();
        let counts = vec![0; digests.len()];
        Suspects { digests, counts }
    }
}

/// The second reading: how often each suspect digest comes (up to twice).
pub(crate) struct Suspects {
    /// Sorted, each once.
    digests: Vec<u64>,
    counts: Vec<u8>,
}

impl Suspects {
    /// Whether there is nothing to count: no value of the first reading can be a repeat.
    pub(crate) fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// Counts `digest` if it is a suspect.
    pub(crate) fn count(&mut self, digest: u64) {
        if let Ok(i) = self.digests.binary_search(&digest) {
            self.counts[i] = self.counts[i].saturating_add(1).min(2);
        }
    }

    /// The digests counted more than once, sorted.
    pub(crate) fn repeated(&self) -> Vec<u64> {
        self.digests.iter().zip(&self.counts).filter(|(_, c)| **c > 1).map(|(d, _)| *d).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A well-mixed digest of `i` (splitmix64), as the hashers of names and paths give.
    fn digest(i: u64) -> u64 {
        let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn repeats(values: &[u64], expected: usize) -> (Vec<u64>, usize) {
        let mut filter = RepeatFilter::new(expected);
        for &v in values {
            filter.add(digest(v));
        }
        let mut suspects = filter.into_suspects();
        let n = suspects.digests.len();
        for &v in values {
            suspects.count(digest(v));
        }
        (suspects.repeated(), n)
    }

    #[test]
    fn every_repeat_is_found_and_nothing_else() {
        let mut values: Vec<u64> = (0..100_000).collect();
        values.extend([17, 99_999, 50_000, 17]);
        let (found, suspects) = repeats(&values, 100_000);
        let mut want = vec![digest(17), digest(50_000), digest(99_999)];
        want.sort_unstable();
        assert_eq!(found, want);
        // Few false suspects at the size the filter was made for.
        assert!(suspects < 100_000 / 50, "{suspects} suspects");
    }

    #[test]
    fn distinct_values_have_no_repeats_however_wrong_the_expected_count() {
        let values: Vec<u64> = (0..50_000).collect();
        for expected in [0, 10, 50_000, usize::MAX] {
            assert_eq!(repeats(&values, expected).0, Vec::<u64>::new(), "expected {expected}");
        }
        // Far more values than expected: most are suspects, the answer is still exact.
        let (found, suspects) = repeats(&[values.as_slice(), &[3, 3]].concat(), 10);
        assert_eq!(found, [digest(3)]);
        assert!(suspects > 10_000, "{suspects} suspects");
        assert!(RepeatFilter::new(0).into_suspects().is_empty());
    }
}
