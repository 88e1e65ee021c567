//! Generated short codes: base62 of a keyed permutation of the link id.
//!
//! Ids below 62^7 map to 7-character codes and the next 62^8 ids to 8-character codes. Each width
//! has its own permutation of `[0, 62^width)`: a balanced Feistel network over the smallest even
//! number of bits that covers the range, with cycle walking to stay inside it. The permutation is a
//! bijection, so two ids never share a code and a code decodes back to exactly one id without a
//! database read.

use siphasher::sip::SipHasher13;
use std::hash::Hasher;

/// The base62 alphabet, in ASCII order so that codes sort like their values.
pub const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Code widths that generated codes use, shortest first.
pub const WIDTHS: [usize; 2] = [7, 8];

const FEISTEL_ROUNDS: u64 = 6;

/// The largest id that has a generated code. Ids above it are never allocated for links.
pub const MAX_ENCODABLE_ID: u64 = 62u64.pow(7) + 62u64.pow(8) - 1;

/// Encodes link ids as short codes and decodes short codes back to ids.
#[derive(Clone)]
pub struct CodeCodec {
    key0: u64,
    key1: u64,
}

impl std::fmt::Debug for CodeCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeCodec { .. }")
    }
}

/// One width's permutation domain: `size` values, permuted over `2 * half_bits` bits.
struct Domain {
    width: usize,
    offset: u64,
    size: u64,
    half_bits: u32,
}

fn domains() -> [Domain; 2] {
    [domain(7, 0), domain(8, 62u64.pow(7))]
}

fn domain(width: usize, offset: u64) -> Domain {
    let size = 62u64.pow(width as u32);
    let bits = 64 - (size - 1).leading_zeros();
    Domain {
        width,
        offset,
        size,
        half_bits: bits.div_ceil(2),
    }
}

impl CodeCodec {
    /// Builds a codec keyed by `secret`. Changing the secret changes every generated code, so it
    /// must stay fixed for the lifetime of a deployment.
    pub fn new(secret: &[u8]) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(secret);
        let key0 = u64::from_le_bytes(digest[0..8].try_into().unwrap_or_default());
        let key1 = u64::from_le_bytes(digest[8..16].try_into().unwrap_or_default());
        Self { key0, key1 }
    }

    /// Returns the code for `id`, or `None` when `id` is 0 or above [`MAX_ENCODABLE_ID`].
    pub fn encode(&self, id: u64) -> Option<String> {
        if id == 0 {
            return None;
        }
        let domain = domains()
            .into_iter()
            .find(|d| id >= d.offset && id - d.offset < d.size)?;

        let value = self.permute(&domain, id - domain.offset);
        Some(to_base62(value, domain.width))
    }

    /// Returns the id behind a generated code, or `None` when `code` does not have the shape of a
    /// generated code (7 or 8 base62 characters).
    pub fn decode(&self, code: &str) -> Option<u64> {
        let domain = domains().into_iter().find(|d| d.width == code.len())?;
        let value = from_base62(code)?;

        let id = domain.offset + self.unpermute(&domain, value);
        (id != 0).then_some(id)
    }

    fn permute(&self, domain: &Domain, mut value: u64) -> u64 {
        // Cycle walking: the Feistel network permutes the whole power-of-two range, so repeat it
        // until the value falls back inside the domain. This stays a bijection on the domain.
        loop {
            value = self.feistel(domain, value, false);
            if value < domain.size {
                return value;
            }
        }
    }

    fn unpermute(&self, domain: &Domain, mut value: u64) -> u64 {
        loop {
            value = self.feistel(domain, value, true);
            if value < domain.size {
                return value;
            }
        }
    }

    fn feistel(&self, domain: &Domain, value: u64, inverse: bool) -> u64 {
        let mask = (1u64 << domain.half_bits) - 1;
        let mut left = value >> domain.half_bits;
        let mut right = value & mask;

        for step in 0..FEISTEL_ROUNDS {
            let round = if inverse {
                FEISTEL_ROUNDS - 1 - step
            } else {
                step
            };
            if inverse {
                let previous_right = left;
                left = right ^ (self.round_function(domain.width, round, previous_right) & mask);
                right = previous_right;
            } else {
                let next_right = left ^ (self.round_function(domain.width, round, right) & mask);
                left = right;
                right = next_right;
            }
        }
        (left << domain.half_bits) | right
    }

    fn round_function(&self, width: usize, round: u64, half: u64) -> u64 {
        let mut hasher = SipHasher13::new_with_keys(self.key0, self.key1);
        hasher.write_u64(width as u64);
        hasher.write_u64(round);
        hasher.write_u64(half);
        hasher.finish()
    }
}

/// Whether `text` has the shape of a generated code: 7 or 8 ASCII letters and digits.
pub fn is_code_shaped(text: &str) -> bool {
    WIDTHS.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn to_base62(mut value: u64, width: usize) -> String {
    let mut digits = vec![b'0'; width];
    for slot in digits.iter_mut().rev() {
        *slot = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8(digits).unwrap_or_default()
}

fn from_base62(code: &str) -> Option<u64> {
    code.bytes().try_fold(0u64, |value, byte| {
        let digit = match byte {
            b'0'..=b'9' => byte - b'0',
            b'A'..=b'Z' => byte - b'A' + 10,
            b'a'..=b'z' => byte - b'a' + 36,
            _ => return None,
        };
        Some(value * 62 + u64::from(digit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn codec() -> CodeCodec {
        CodeCodec::new(b"test secret")
    }

    #[test]
    fn first_ids_get_seven_characters() {
        let codec = codec();
        for id in 1..1000 {
            let code = codec.encode(id).expect("id in range");
            assert_eq!(code.len(), 7, "id {id} gave {code}");
            assert_eq!(codec.decode(&code), Some(id));
        }
    }

    #[test]
    fn sequential_ids_do_not_look_sequential() {
        let codec = codec();
        let codes: Vec<String> = (1..=50).filter_map(|id| codec.encode(id)).collect();
        let shared_prefixes = codes
            .windows(2)
            .filter(|pair| pair[0][..4] == pair[1][..4])
            .count();
        assert!(shared_prefixes < 3, "codes look sequential: {codes:?}");
    }

    #[test]
    fn codes_are_distinct() {
        let codec = codec();
        let codes: HashSet<String> = (1..20_000).filter_map(|id| codec.encode(id)).collect();
        assert_eq!(codes.len(), 19_999);
    }

    #[test]
    fn width_boundary_switches_to_eight() {
        let codec = codec();
        let last_seven = 62u64.pow(7) - 1;
        assert_eq!(codec.encode(last_seven).map(|c| c.len()), Some(7));
        let first_eight = 62u64.pow(7);
        let code = codec.encode(first_eight).expect("id in range");
        assert_eq!(code.len(), 8);
        assert_eq!(codec.decode(&code), Some(first_eight));
        assert_eq!(codec.encode(MAX_ENCODABLE_ID).map(|c| c.len()), Some(8));
        assert_eq!(codec.encode(MAX_ENCODABLE_ID + 1), None);
        assert_eq!(codec.encode(0), None);
    }

    #[test]
    fn other_secret_gives_other_codes() {
        let other = CodeCodec::new(b"another secret");
        assert_ne!(codec().encode(42), other.encode(42));
    }

    #[test]
    fn decode_rejects_other_shapes() {
        let codec = codec();
        assert_eq!(codec.decode("abc"), None);
        assert_eq!(codec.decode("abcdefghi"), None);
        assert_eq!(codec.decode("abc-efg"), None);
        assert_eq!(codec.decode("abcdéf"), None);
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(id in 1..=MAX_ENCODABLE_ID) {
            let codec = codec();
            let code = codec.encode(id).expect("id in range");
            prop_assert!(is_code_shaped(&code));
            prop_assert_eq!(codec.decode(&code), Some(id));
        }

        #[test]
        fn encode_inverts_decode(code in "[0-9A-Za-z]{7,8}") {
            let codec = codec();
            if let Some(id) = codec.decode(&code) {
                prop_assert_eq!(codec.encode(id), Some(code));
            }
        }
    }
}
