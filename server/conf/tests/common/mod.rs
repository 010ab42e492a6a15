//! Helpers shared by the integration tests that generate inputs.

/// xorshift64*: tiny, deterministic, good enough to shuffle bytes and pick
/// from tables.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    #[allow(dead_code)] // used by one of the test binaries only
    pub fn pick<'a>(&mut self, options: &[&'a str]) -> &'a str {
        options[self.below(options.len())]
    }

    #[allow(dead_code)] // used by one of the test binaries only
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}
