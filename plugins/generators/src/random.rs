//! Randomness from the host's `wasi:random/random` (through std's `getrandom`), and an
//! unbiased choice below a bound.

use crate::Error;

/// Fills `buf` with random bytes.
pub fn fill(buf: &mut [u8]) -> Result<(), Error> {
    getrandom::getrandom(buf).map_err(|e| Error::Generate(format!("no randomness: {e}")))
}

/// A uniformly random number in `0..n` (`n > 0`), by rejection sampling.
pub fn below(n: usize) -> Result<usize, Error> {
    if n == 0 {
        return Err(Error::Generate("empty range".into()));
    }
    let n = n as u64;
    // The largest multiple of n that fits: values at or above it would bias the result.
    let zone = u64::MAX - (u64::MAX % n);
    loop {
        let mut b = [0u8; 8];
        fill(&mut b)?;
        let v = u64::from_le_bytes(b);
        if v < zone {
            return Ok((v % n) as usize);
        }
    }
}

/// `rand_core`'s view of the same source, for key generation.
pub struct HostRng;

impl rand_core::RngCore for HostRng {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }

    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        // `RngCore::fill_bytes` cannot report a failure, and a key made from unrandom bytes
        // must never be returned: the instance stops (the host reports a trap).
        if getrandom::getrandom(dest).is_err() {
            std::process::abort();
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        getrandom::getrandom(dest).map_err(|e| rand_core::Error::from(e.code()))
    }
}

impl rand_core::CryptoRng for HostRng {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut seen = [false; 7];
        for _ in 0..2000 {
            let v = below(7).unwrap();
            seen[v] = true;
        }
        assert!(seen.iter().all(|s| *s));
        assert!(below(0).is_err());
        assert_eq!(below(1).unwrap(), 0);
    }
}
