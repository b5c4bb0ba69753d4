//! `math.random` as Redis implements it: the 48-bit linear congruential generator of `lrand48`,
//! so that a script gets the same sequence on every platform (and, seeded from a Raft entry, on
//! every node).

/// `lrand48`'s state.
#[derive(Debug, Clone, Copy)]
pub struct Rand48(u64);

const MASK: u64 = (1 << 48) - 1;
/// The largest value [`Rand48::next`] returns, plus one (Redis's `REDIS_LRAND48_MAX`).
pub const MAX: i64 = i32::MAX as i64;

impl Default for Rand48 {
    /// The state `lrand48` starts with before any seed.
    fn default() -> Self {
        Rand48(0x1234_ABCD_330E)
    }
}

impl Rand48 {
    /// `srand48(seed)`: the seed's 32 bits above the fixed low word 0x330E.
    pub fn seeded(seed: i32) -> Self {
        Rand48((((seed as u32) as u64) << 16) | 0x330E)
    }

    /// The next non-negative 31-bit value.
    pub fn next(&mut self) -> i64 {
        self.0 = (self.0.wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB)) & MASK;
        (self.0 >> 17) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_lrand48() {
        // glibc: srand48(0); lrand48() x3.
        let mut r = Rand48::seeded(0);
        assert_eq!(
            [r.next(), r.next(), r.next()],
            [366850414, 1610402240, 206956554]
        );
    }
}
