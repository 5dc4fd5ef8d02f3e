//! The source behind a guest's `wasi:random/random`: the operating system's CSPRNG
//! (`getrandom`), read on every call. wasmtime's default is a ChaCha generator seeded once per
//! store; generators (Password, SSHKey, …) draw secrets from this interface, so it is the OS's
//! own source instead. Should the OS source ever fail, the bytes come from wasmtime's default
//! generator (seeded from the OS) rather than failing the guest.

use std::convert::Infallible;

use rand_core::{Rng, TryRng};

pub(crate) struct OsRandom {
    fallback: Box<dyn Rng + Send>,
}

impl OsRandom {
    pub(crate) fn new() -> Self {
        OsRandom {
            fallback: wasmtime_wasi::random::thread_rng(),
        }
    }
}

impl TryRng for OsRandom {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        if getrandom::fill(dst).is_err() {
            self.fallback.fill_bytes(dst);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_fresh_bytes() {
        let mut rng = OsRandom::new();
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        rng.try_fill_bytes(&mut a).ok();
        rng.try_fill_bytes(&mut b).ok();
        assert_ne!(a, [0u8; 32]);
        assert_ne!(a, b);
    }
}
