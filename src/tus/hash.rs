//! SHA-256 of a resumable upload, carried between requests and instances: the hasher's state
//! (RustCrypto's `SerializableState`: the compression state, the byte count and the partial
//! block) is kept as hex in the upload's record.

use sha2::digest::common::hazmat::{SerializableState, SerializedState};
use sha2::{Digest, Sha256};

/// A running SHA-256 that can be stored and resumed.
#[derive(Clone, Default)]
pub struct ResumableHash(Sha256);

impl ResumableHash {
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The state as hex, to store.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0.serialize())
    }

    /// A state stored by [`Self::to_hex`]; `None` if it is not one.
    pub fn from_hex(s: &str) -> Option<Self> {
        let bytes = hex::decode(s).ok()?;
        let state = SerializedState::<Sha256>::try_from(&bytes[..]).ok()?;
        Sha256::deserialize(&state).ok().map(Self)
    }

    /// The digest so far, as lower-case hex.
    pub fn hex_digest(&self) -> String {
        hex::encode(self.0.clone().finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_state_continues_to_the_one_shot_digest() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut h = ResumableHash::default();
        h.update(&data[..3333]);
        let stored = h.to_hex();
        let mut resumed = ResumableHash::from_hex(&stored).unwrap();
        resumed.update(&data[3333..]);
        assert_eq!(resumed.hex_digest(), hex::encode(Sha256::digest(&data)));
        assert!(ResumableHash::from_hex("00").is_none());
        assert!(ResumableHash::from_hex("zz").is_none());
    }
}
