//! Go's checksums: HighwayHash-64 keyed by the sha256 of a name. A stream's
//! meta.sum is keyed by the stream's name; each block's records and its
//! .fss file by `<stream>-<block index>`.

use highway::{HighwayHash, HighwayHasher, Key};
use sha2::{Digest, Sha256};

/// A keyed HighwayHash-64, ready to hash from its initial state.
#[derive(Clone)]
pub(crate) struct Hasher(HighwayHasher);

impl Hasher {
    /// Keyed by sha256 of `name`, the 32 bytes read as four little-endian
    /// words as Go's minio/highwayhash does.
    pub(crate) fn new(name: &str) -> Self {
        let digest = Sha256::digest(name.as_bytes());
        let mut key = [0u64; 4];
        for (k, chunk) in key.iter_mut().zip(digest.chunks_exact(8)) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            *k = u64::from_le_bytes(word);
        }
        Hasher(HighwayHasher::new(Key(key)))
    }

    /// The hasher of a stream's block `index`.
    pub(crate) fn for_block(stream: &str, index: u32) -> Self {
        Self::new(&format!("{stream}-{index}"))
    }

    /// The checksum of the parts hashed in order, as Go writes it (the
    /// 64-bit sum, little-endian).
    pub(crate) fn sum(&self, parts: &[&[u8]]) -> [u8; 8] {
        let mut h = self.0.clone();
        for p in parts {
            h.append(p);
        }
        h.finalize64().to_le_bytes()
    }
}

/// Lower-case hex, as Go's `hex.EncodeToString`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_hash_as_one() {
        let h = Hasher::for_block("ORDERS", 1);
        assert_eq!(h.sum(&[b"ab", b"", b"cd"]), h.sum(&[b"abcd"]));
        assert_ne!(
            h.sum(&[b"abcd"]),
            Hasher::for_block("ORDERS", 2).sum(&[b"abcd"])
        );
        assert_eq!(hex(&[0x0f, 0xa0]), "0fa0");
    }
}
