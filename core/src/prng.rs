//! A small seeded PRNG (xoshiro256**, seeded through splitmix64).
//!
//! The core and the simulator draw every random choice from one of these, so a run is a pure
//! function of its seed. It is written out here rather than taken from a crate so that its
//! output can never change under us with a dependency upgrade: a seed printed today must
//! reproduce the same run next year.

/// Deterministic pseudo-random generator. Not for cryptography.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Prng {
    state: [u64; 4],
}

impl Prng {
    /// A generator whose whole output is decided by `seed`.
    pub fn new(seed: u64) -> Self {
        let mut splitmix = seed;
        let mut state = [0u64; 4];
        for word in &mut state {
            splitmix = splitmix.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = splitmix;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            *word = z ^ (z >> 31);
        }
        assert!(state.iter().any(|&word| word != 0));
        Self { state }
    }

    /// A child generator for a sub-component, so that adding draws in one component does not
    /// shift every other component's stream.
    pub fn fork(&mut self) -> Self {
        Self::new(self.next_u64())
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.state[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let shifted = self.state[1] << 17;
        self.state[2] ^= self.state[0];
        self.state[3] ^= self.state[1];
        self.state[1] ^= self.state[2];
        self.state[0] ^= self.state[3];
        self.state[2] ^= shifted;
        self.state[3] = self.state[3].rotate_left(45);
        result
    }

    /// A uniform value in `0..bound`. `bound` must be positive.
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0, "Prng::below needs a positive bound");
        // Lemire's multiply-shift with rejection: unbiased and branch-light.
        loop {
            let product = u128::from(self.next_u64()) * u128::from(bound);
            let low = product as u64;
            if low >= bound.wrapping_neg() % bound {
                let value = (product >> 64) as u64;
                assert!(value < bound);
                return value;
            }
        }
    }

    /// A uniform value in `low..=high`.
    pub fn range_inclusive(&mut self, low: u64, high: u64) -> u64 {
        assert!(low <= high);
        if high - low == u64::MAX {
            return self.next_u64();
        }
        low + self.below(high - low + 1)
    }

    /// True with probability `parts_per_million / 1_000_000`.
    pub fn chance(&mut self, parts_per_million: u32) -> bool {
        assert!(parts_per_million <= 1_000_000);
        self.below(1_000_000) < u64::from(parts_per_million)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_known_values() {
        // Goal: the stream is a pure function of the seed and never changes between releases.
        let mut a = Prng::new(42);
        let mut b = Prng::new(42);
        let first: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let second: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        assert_eq!(first, second);
        let mut c = Prng::new(43);
        assert_ne!(first[0], c.next_u64());
        // Pinned: a change to the generator breaks every printed seed, so it must be deliberate.
        let mut pinned = Prng::new(0);
        assert_eq!(pinned.next_u64(), 0x99EC_5F36_CB75_F2B4);
    }

    #[test]
    fn below_stays_in_bounds_and_covers_the_range() {
        let mut prng = Prng::new(7);
        let mut seen = [false; 10];
        for _ in 0..1000 {
            let value = prng.below(10);
            assert!(value < 10);
            seen[value as usize] = true;
        }
        assert!(seen.iter().all(|&hit| hit));
        assert_eq!(prng.range_inclusive(5, 5), 5);
        assert!(!prng.chance(0));
        assert!(prng.chance(1_000_000));
    }
}
