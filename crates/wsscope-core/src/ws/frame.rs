//! Frame headers (RFC 6455 section 5.2) and masking (section 5.3).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! ```

/// Frame opcode; reserved values keep their number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Opcode {
    /// 0: continuation of a fragmented message.
    Continuation,
    /// 1: text.
    Text,
    /// 2: binary.
    Binary,
    /// 8: close.
    Close,
    /// 9: ping.
    Ping,
    /// 10: pong.
    Pong,
    /// 3-7 and 11-15.
    Reserved(u8),
}

impl Opcode {
    /// From the 4-bit field.
    pub fn from_u4(v: u8) -> Opcode {
        match v & 0x0f {
            0 => Opcode::Continuation,
            1 => Opcode::Text,
            2 => Opcode::Binary,
            8 => Opcode::Close,
            9 => Opcode::Ping,
            10 => Opcode::Pong,
            other => Opcode::Reserved(other),
        }
    }

    /// The 4-bit value.
    pub fn as_u4(self) -> u8 {
        match self {
            Opcode::Continuation => 0,
            Opcode::Text => 1,
            Opcode::Binary => 2,
            Opcode::Close => 8,
            Opcode::Ping => 9,
            Opcode::Pong => 10,
            Opcode::Reserved(v) => v,
        }
    }

    /// Control frames have the high opcode bit set (8-15).
    pub fn is_control(self) -> bool {
        self.as_u4() & 0x08 != 0
    }
}

/// A parsed frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Final fragment.
    pub fin: bool,
    /// RSV1 (permessage-deflate: "compressed").
    pub rsv1: bool,
    /// RSV2.
    pub rsv2: bool,
    /// RSV3.
    pub rsv3: bool,
    /// Opcode.
    pub opcode: Opcode,
    /// Masking key, if the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// Declared payload length.
    pub payload_len: u64,
    /// Header size in bytes (2 to 14).
    pub header_len: usize,
    /// The length used more bytes than needed.
    pub non_minimal_length: bool,
    /// A 64-bit length had its most significant bit set (`payload_len` keeps the raw value).
    pub length_msb_set: bool,
}

impl FrameHeader {
    /// Parses a header from the start of `buf`; `None` means more bytes are needed.
    pub fn parse(buf: &[u8]) -> Option<FrameHeader> {
        let (&b0, rest) = buf.split_first()?;
        let &b1 = rest.first()?;
        let masked = b1 & 0x80 != 0;
        let len7 = b1 & 0x7f;
        let (payload_len, ext_len, non_minimal, msb) = match len7 {
            126 => {
                let b = buf.get(2..4)?;
                let n = u64::from(u16::from_be_bytes([b[0], b[1]]));
                (n, 2, n < 126, false)
            }
            127 => {
                let b = buf.get(2..10)?;
                let n = u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
                (n, 8, n <= 0xffff, n >> 63 != 0)
            }
            n => (u64::from(n), 0, false, false),
        };
        let mask_at = 2 + ext_len;
        let mask = if masked {
            let m = buf.get(mask_at..mask_at + 4)?;
            Some([m[0], m[1], m[2], m[3]])
        } else {
            None
        };
        Some(FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv1: b0 & 0x40 != 0,
            rsv2: b0 & 0x20 != 0,
            rsv3: b0 & 0x10 != 0,
            opcode: Opcode::from_u4(b0),
            mask,
            payload_len,
            header_len: mask_at + if masked { 4 } else { 0 },
            non_minimal_length: non_minimal,
            length_msb_set: msb,
        })
    }
}

/// Unmasks (or masks) `buf` in place; `offset` is the position of `buf[0]` within the payload.
/// Word-at-a-time fast path; see [`apply_mask_simple`] for the reference.
pub fn apply_mask(buf: &mut [u8], mask: [u8; 4], offset: u64) {
    let shift = (offset % 4) as usize;
    let rotated = [
        mask[shift],
        mask[(shift + 1) % 4],
        mask[(shift + 2) % 4],
        mask[(shift + 3) % 4],
    ];
    let word = u64::from_ne_bytes([
        rotated[0], rotated[1], rotated[2], rotated[3], rotated[0], rotated[1], rotated[2],
        rotated[3],
    ]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        let v = u64::from_ne_bytes(bytes) ^ word;
        chunk.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= rotated[i % 4];
    }
}

/// Byte-by-byte masking, the RFC's definition: `out[i] = in[i] ^ key[(offset + i) % 4]`.
pub fn apply_mask_simple(buf: &mut [u8], mask: [u8; 4], offset: u64) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= mask[((offset + i as u64) % 4) as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_examples() {
        // RFC 6455 5.7: a single-frame unmasked text message "Hello".
        let h = FrameHeader::parse(&[0x81, 0x05, 0x48]).expect("header");
        assert!(h.fin);
        assert_eq!(h.opcode, Opcode::Text);
        assert_eq!(h.payload_len, 5);
        assert_eq!(h.header_len, 2);
        // A single-frame masked text message "Hello".
        let mut frame = vec![
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let h = FrameHeader::parse(&frame).expect("header");
        assert_eq!(h.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        apply_mask(&mut frame[6..], [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(&frame[6..], b"Hello");
        // 256 bytes binary in a single unmasked frame; 64 KiB with the 64-bit form.
        let h = FrameHeader::parse(&[0x82, 0x7e, 0x01, 0x00]).expect("header");
        assert_eq!((h.payload_len, h.header_len), (256, 4));
        let h = FrameHeader::parse(&[0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]).expect("header");
        assert_eq!(
            (h.payload_len, h.header_len, h.non_minimal_length),
            (65536, 10, false)
        );
    }

    #[test]
    fn needs_more_bytes() {
        assert_eq!(FrameHeader::parse(&[0x81]), None);
        assert_eq!(FrameHeader::parse(&[0x81, 0xfe, 0x00]), None);
        assert_eq!(FrameHeader::parse(&[0x81, 0x85, 1, 2, 3]), None);
    }

    #[test]
    fn length_anomalies() {
        let h = FrameHeader::parse(&[0x82, 0x7e, 0x00, 0x05]).expect("header");
        assert!(h.non_minimal_length);
        let h = FrameHeader::parse(&[0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0]).expect("header");
        assert!(h.length_msb_set);
    }

    proptest! {
        #[test]
        fn fast_mask_equals_simple(data in proptest::collection::vec(any::<u8>(), 0..100), mask in any::<[u8; 4]>(), offset in 0u64..16) {
            let mut a = data.clone();
            let mut b = data;
            apply_mask(&mut a, mask, offset);
            apply_mask_simple(&mut b, mask, offset);
            prop_assert_eq!(a, b);
        }
    }
}
