//! Convenience layer producing complete WebSocket-over-TCP captures.

use super::capture::{capture_bytes, pcap_bytes, CaptureFormat, PcapOptions};
use super::conversation::Conversation;
use super::link::Link;
use super::ws::{FrameSpec, UpgradeRequest, UpgradeResponse, SAMPLE_KEY};
use super::{Dir, Packet};

/// A WebSocket session on top of a [`Conversation`], built by chaining.
///
/// ```ignore
/// let pcap = Session::new(Link::ethernet())
///     .upgrade(&UpgradeRequest::new(key), &UpgradeResponse::accepting(key))
///     .client_text("hi")
///     .server_text("hello")
///     .close(1000)
///     .pcap_bytes();
/// ```
#[derive(Debug)]
pub struct Session<'s> {
    conv: Conversation<'s>,
    mask_counter: u32,
}

impl<'s> Session<'s> {
    /// A session over [`Conversation::default_v4`] with the given link layer.
    pub fn new(link: Link) -> Self {
        Self::from_conversation(Conversation::default_v4().with_link(link))
    }

    /// A session over a caller-configured conversation.
    pub fn from_conversation(conv: Conversation<'s>) -> Self {
        Session {
            conv,
            mask_counter: 0,
        }
    }

    /// Access to the underlying conversation (for gaps, injections, timing).
    pub fn conversation(&mut self) -> &mut Conversation<'s> {
        &mut self.conv
    }

    /// Deterministic, ever-changing client masking key.
    pub fn next_mask(&mut self) -> [u8; 4] {
        self.mask_counter = self.mask_counter.wrapping_add(1);
        (0x9e37_79b9u32.wrapping_mul(self.mask_counter)).to_be_bytes()
    }

    /// TCP handshake, then the HTTP upgrade request and response.
    pub fn upgrade(mut self, req: &UpgradeRequest, resp: &UpgradeResponse) -> Self {
        self.conv.handshake();
        self.conv.client_send(&req.to_bytes());
        self.conv.server_send(&resp.to_bytes());
        self
    }

    /// Sends the concatenation of `frames` from `dir` in one `send` call.
    pub fn frames(mut self, dir: Dir, frames: &[FrameSpec]) -> Self {
        let mut buf = Vec::with_capacity(frames.iter().map(FrameSpec::encoded_len).sum());
        for f in frames {
            f.encode_into(&mut buf);
        }
        self.conv.send(dir, &buf);
        self
    }

    /// Client sends `frames` exactly as specified (masking is the caller's choice).
    pub fn client_message(self, frames: &[FrameSpec]) -> Self {
        self.frames(Dir::ClientToServer, frames)
    }

    /// Server sends `frames` exactly as specified.
    pub fn server_message(self, frames: &[FrameSpec]) -> Self {
        self.frames(Dir::ServerToClient, frames)
    }

    /// Client sends one masked text frame.
    pub fn client_text(mut self, s: &str) -> Self {
        let m = self.next_mask();
        self.client_message(&[FrameSpec::text(s, Some(m))])
    }

    /// Server sends one unmasked text frame.
    pub fn server_text(self, s: &str) -> Self {
        self.server_message(&[FrameSpec::text(s, None)])
    }

    /// Client sends one masked binary frame.
    pub fn client_binary(mut self, data: &[u8]) -> Self {
        let m = self.next_mask();
        self.client_message(&[FrameSpec::binary(data, Some(m))])
    }

    /// Server sends one unmasked binary frame.
    pub fn server_binary(self, data: &[u8]) -> Self {
        self.server_message(&[FrameSpec::binary(data, None)])
    }

    /// Client close frame with `code`, server echo, then TCP FINs both ways.
    pub fn close(mut self, code: u16) -> Self {
        let m = self.next_mask();
        self = self.client_message(&[FrameSpec::close(Some(code), "", Some(m))]);
        self = self.server_message(&[FrameSpec::close(Some(code), "", None)]);
        self.conv.close();
        self
    }

    /// Collected packets.
    pub fn into_packets(self) -> Vec<Packet> {
        self.conv.into_packets()
    }

    /// Classic pcap (LE, µs) of the collected packets with the right linktype.
    pub fn pcap_bytes(self) -> Vec<u8> {
        let linktype = self.conv.link().linktype();
        let opts = PcapOptions {
            linktype,
            snaplen: 262_144,
            ..PcapOptions::default()
        };
        pcap_bytes(opts, &self.conv.into_packets())
    }

    /// The collected packets in the given capture format.
    pub fn capture_bytes(self, format: CaptureFormat) -> Vec<u8> {
        let linktype = self.conv.link().linktype();
        capture_bytes(format, linktype, &self.conv.into_packets())
    }
}

/// A complete, well-formed session over `link`: TCP handshake, upgrade with the
/// RFC 6455 sample key, client text "Hello", server text "Hello", close 1000
/// from both sides, TCP FINs.
pub fn simple_session(link: Link) -> Vec<Packet> {
    Session::new(link)
        .upgrade(
            &UpgradeRequest::new(SAMPLE_KEY),
            &UpgradeResponse::accepting(SAMPLE_KEY),
        )
        .client_text("Hello")
        .server_text("Hello")
        .close(1000)
        .into_packets()
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{SlicedPacket, TransportSlice};
    use pcap_parser::pcapng::{parse_sections, Block};
    use pcap_parser::traits::PcapNGPacketBlock;
    use pcap_parser::{parse_pcap_frame, parse_pcap_header};

    fn streams(frames: &[&[u8]]) -> (Vec<u8>, Vec<u8>) {
        let mut c2s = Vec::new();
        let mut s2c = Vec::new();
        for f in frames {
            let sp = SlicedPacket::from_ethernet(f).expect("parse");
            let Some(TransportSlice::Tcp(t)) = &sp.transport else {
                panic!("no tcp")
            };
            if t.destination_port() == 80 {
                c2s.extend_from_slice(t.payload());
            } else {
                s2c.extend_from_slice(t.payload());
            }
        }
        (c2s, s2c)
    }

    #[test]
    fn simple_session_pcap_contents() {
        let bytes = Session::new(Link::ethernet())
            .upgrade(
                &UpgradeRequest::new(SAMPLE_KEY),
                &UpgradeResponse::accepting(SAMPLE_KEY),
            )
            .client_message(&[FrameSpec::text("Hello", Some([0x37, 0xfa, 0x21, 0x3d]))])
            .server_text("Hello")
            .pcap_bytes();
        let (mut rest, hdr) = parse_pcap_header(&bytes).expect("hdr");
        assert_eq!(hdr.network.0, 1);
        let mut frames = Vec::new();
        while !rest.is_empty() {
            let (r, f) = parse_pcap_frame(rest).expect("frame");
            frames.push(f.data);
            rest = r;
        }
        let (c2s, s2c) = streams(&frames);
        let req = UpgradeRequest::new(SAMPLE_KEY).to_bytes();
        assert!(c2s.starts_with(&req));
        assert_eq!(
            &c2s[req.len()..],
            &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]
        );
        let resp = UpgradeResponse::accepting(SAMPLE_KEY).to_bytes();
        assert!(s2c.starts_with(&resp));
        assert_eq!(&s2c[resp.len()..], b"\x81\x05Hello");
    }

    #[test]
    fn simple_session_every_link_and_format() {
        for link in Link::all() {
            let pkts = simple_session(link.clone());
            assert!(pkts.len() > 10);
            for fmt in CaptureFormat::all() {
                let b = capture_bytes(fmt, link.linktype(), &pkts);
                let n = match fmt {
                    CaptureFormat::Pcap { .. } => {
                        let (mut rest, h) = parse_pcap_header(&b).expect("hdr");
                        assert_eq!(h.network.0 as u32, link.linktype());
                        let mut n = 0;
                        while !rest.is_empty() {
                            let (r, _) = if h.is_bigendian() {
                                pcap_parser::parse_pcap_frame_be(rest).expect("f")
                            } else {
                                parse_pcap_frame(rest).expect("f")
                            };
                            rest = r;
                            n += 1;
                        }
                        n
                    }
                    CaptureFormat::PcapNg { .. } => {
                        let (_, s) = parse_sections(&b).expect("pcapng");
                        s[0].blocks
                            .iter()
                            .filter(|b| match b {
                                Block::EnhancedPacket(e) => {
                                    assert!(!e.packet_data().is_empty());
                                    true
                                }
                                _ => false,
                            })
                            .count()
                    }
                };
                assert_eq!(n, pkts.len());
            }
        }
        let frames: Vec<Vec<u8>> = simple_session(Link::ethernet())
            .into_iter()
            .map(|p| p.data)
            .collect();
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        let (c2s, s2c) = streams(&refs);
        // client close is masked (0x88 0x82), server close is 88 02 03 e8
        assert!(s2c.ends_with(&[0x88, 0x02, 0x03, 0xe8]));
        assert_eq!(c2s[c2s.len() - 8..c2s.len() - 6], [0x88, 0x82]);
    }
}
