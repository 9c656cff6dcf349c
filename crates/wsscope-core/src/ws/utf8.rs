//! Incremental UTF-8 validation: a text message arrives in pieces that may split a character.

/// Validates a byte stream fed in arbitrary pieces.
#[derive(Clone, Debug, Default)]
pub struct Utf8Validator {
    carry: [u8; 4],
    carry_len: usize,
    failed: bool,
}

impl Utf8Validator {
    /// A fresh validator.
    pub fn new() -> Self {
        Self::default()
    }

    /// True once an invalid sequence was seen.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Feeds the next piece.
    pub fn feed(&mut self, mut data: &[u8]) {
        if self.failed {
            return;
        }
        while self.carry_len > 0 {
            let Some((&b, rest)) = data.split_first() else {
                return;
            };
            self.carry[self.carry_len] = b;
            self.carry_len += 1;
            data = rest;
            match simdutf8::compat::from_utf8(&self.carry[..self.carry_len]) {
                Ok(_) => self.carry_len = 0,
                Err(e) if e.error_len().is_some() => {
                    self.failed = true;
                    return;
                }
                Err(_) if self.carry_len == 4 => {
                    self.failed = true;
                    return;
                }
                Err(_) => {}
            }
        }
        // SIMD validation: text payloads are the largest thing read byte by byte.
        if let Err(e) = simdutf8::compat::from_utf8(data) {
            if e.error_len().is_some() {
                self.failed = true;
            } else {
                let tail = &data[e.valid_up_to()..];
                self.carry[..tail.len()].copy_from_slice(tail);
                self.carry_len = tail.len();
            }
        }
    }

    /// True when everything fed is valid and no character is left unfinished.
    pub fn finish(&self) -> bool {
        !self.failed && self.carry_len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_split_agrees_with_std(bytes in proptest::collection::vec(any::<u8>(), 0..40), cut1 in 0usize..40, cut2 in 0usize..40) {
            let a = cut1.min(bytes.len());
            let b = cut2.min(bytes.len()).max(a);
            let mut v = Utf8Validator::new();
            v.feed(&bytes[..a]);
            v.feed(&bytes[a..b]);
            v.feed(&bytes[b..]);
            prop_assert_eq!(v.finish(), std::str::from_utf8(&bytes).is_ok());
        }

        #[test]
        fn split_valid_text_is_valid(s in ".{0,20}", cut in 0usize..80) {
            let bytes = s.as_bytes();
            let c = cut.min(bytes.len());
            let mut v = Utf8Validator::new();
            for piece in [&bytes[..c], &bytes[c..]] {
                for byte in piece.chunks(1) {
                    v.feed(byte);
                }
            }
            prop_assert!(v.finish());
        }
    }
}
