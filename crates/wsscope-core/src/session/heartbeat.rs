//! Ping/pong pairing: each pong is matched with the unanswered ping of the other side that
//! carried the same payload, which gives the round-trip time.

use crate::tcp::Dir;
use crate::timestamp::Timestamp;
use std::collections::VecDeque;

/// Unanswered pings remembered per direction.
pub(super) const MAX_PENDING_PINGS: usize = 64;

/// Largest valid control-frame payload (RFC 6455 5.5): only valid pings are paired.
const MAX_PING_PAYLOAD: usize = 125;

/// The unanswered pings of both directions (payload, when sent), oldest first.
#[derive(Default)]
pub(super) struct Heartbeat {
    pings: [VecDeque<(Vec<u8>, Timestamp)>; 2],
}

impl Heartbeat {
    /// A ping from `dir`. Only valid pings are remembered (an oversized one may be kept whole
    /// up to the size cap); past [`MAX_PENDING_PINGS`] the oldest is forgotten.
    pub(super) fn on_ping(&mut self, dir: Dir, payload: &[u8], ts: Timestamp) {
        if payload.len() > MAX_PING_PAYLOAD {
            return;
        }
        let q = &mut self.pings[dir.index()];
        if q.len() >= MAX_PENDING_PINGS {
            q.pop_front();
        }
        q.push_back((payload.to_vec(), ts));
    }

    /// A pong from `dir`: the round-trip time in nanoseconds of the ping it answers (the
    /// oldest unanswered one from the other side with the same payload), if any.
    pub(super) fn on_pong(&mut self, dir: Dir, payload: &[u8], ts: Timestamp) -> Option<i64> {
        let q = &mut self.pings[dir.reverse().index()];
        let pos = q.iter().position(|(p, _)| p == payload)?;
        let (_, sent) = q.remove(pos)?;
        Some(ts.nanos_since(sent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: Dir = Dir::ClientToServer;
    const S: Dir = Dir::ServerToClient;

    #[test]
    fn a_pong_answers_the_ping_of_the_other_side_with_its_payload() {
        let mut h = Heartbeat::default();
        h.on_ping(C, b"a", Timestamp(1_000));
        h.on_ping(C, b"b", Timestamp(2_000));
        // Out of order, by payload.
        assert_eq!(h.on_pong(S, b"b", Timestamp(2_500)), Some(500));
        assert_eq!(h.on_pong(S, b"a", Timestamp(4_000)), Some(3_000));
        // Each ping is answered once.
        assert_eq!(h.on_pong(S, b"a", Timestamp(5_000)), None);
    }

    #[test]
    fn a_pong_from_the_pinging_side_or_with_another_payload_answers_nothing() {
        let mut h = Heartbeat::default();
        h.on_ping(S, b"x", Timestamp(1_000));
        assert_eq!(h.on_pong(S, b"x", Timestamp(2_000)), None, "same side");
        assert_eq!(h.on_pong(C, b"y", Timestamp(2_000)), None, "other payload");
        // The unanswered ping is still there for the right pong.
        assert_eq!(h.on_pong(C, b"x", Timestamp(3_000)), Some(2_000));
    }

    #[test]
    fn unanswered_pings_are_bounded_and_equal_payloads_pair_oldest_first() {
        let mut h = Heartbeat::default();
        for i in 0..(MAX_PENDING_PINGS as i64 + 10) {
            h.on_ping(C, &[], Timestamp(i));
        }
        assert_eq!(h.pings[C.index()].len(), MAX_PENDING_PINGS);
        // The 10 oldest were forgotten: the first pong pairs with ping 10.
        let last = MAX_PENDING_PINGS as i64 + 10;
        assert_eq!(h.on_pong(S, &[], Timestamp(last)), Some(last - 10));
    }

    #[test]
    fn an_oversized_ping_is_not_paired() {
        let mut h = Heartbeat::default();
        h.on_ping(C, &[0; 126], Timestamp(0));
        assert_eq!(h.on_pong(S, &[0; 126], Timestamp(1)), None);
    }
}
