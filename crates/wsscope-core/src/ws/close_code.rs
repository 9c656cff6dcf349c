//! Close status codes (RFC 6455 7.4): meaning and whether a code may be sent.

/// A close status code (RFC 6455 7.4) with what it means and whether it may be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CloseCode(pub u16);

/// Whether a close code may appear in a close frame (RFC 6455 7.4.1, 7.4.2 and the IANA
/// registry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseCodeValidity {
    /// Defined (1000-1003, 1007-1014) or in a range open to libraries (3000-3999) and
    /// applications (4000-4999).
    Valid,
    /// Reserved so that it is never sent: 1004, 1005 (no status), 1006 (abnormal closure),
    /// 1015 (TLS failure).
    Reserved,
    /// Not assigned: below 1000, 1016-2999, 5000 and above.
    Unassigned,
}

impl CloseCode {
    /// The code's meaning in a few words.
    pub fn meaning(self) -> &'static str {
        match self.0 {
            1000 => "normal closure",
            1001 => "going away",
            1002 => "protocol error",
            1003 => "unsupported data",
            1004 => "reserved",
            1005 => "no status received (must not be sent)",
            1006 => "abnormal closure (must not be sent)",
            1007 => "invalid frame payload data",
            1008 => "policy violation",
            1009 => "message too big",
            1010 => "mandatory extension missing",
            1011 => "internal server error",
            1012 => "service restart",
            1013 => "try again later",
            1014 => "bad gateway",
            1015 => "TLS handshake failure (must not be sent)",
            3000..=3999 => "registered for libraries and frameworks",
            4000..=4999 => "private use by applications",
            _ => "not a valid close code",
        }
    }

    /// Whether the code may be sent.
    pub fn validity(self) -> CloseCodeValidity {
        match self.0 {
            1000..=1003 | 1007..=1014 | 3000..=4999 => CloseCodeValidity::Valid,
            1004..=1006 | 1015 => CloseCodeValidity::Reserved,
            _ => CloseCodeValidity::Unassigned,
        }
    }

    /// The code may appear in a close frame.
    pub fn is_valid(self) -> bool {
        self.validity() == CloseCodeValidity::Valid
    }
}

impl std::fmt::Display for CloseCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_code_validity_follows_rfc_6455_and_the_registry() {
        for (code, want) in [
            (999, CloseCodeValidity::Unassigned),
            (1000, CloseCodeValidity::Valid),
            (1003, CloseCodeValidity::Valid),
            (1004, CloseCodeValidity::Reserved),
            (1005, CloseCodeValidity::Reserved),
            (1006, CloseCodeValidity::Reserved),
            (1007, CloseCodeValidity::Valid),
            (1014, CloseCodeValidity::Valid),
            (1015, CloseCodeValidity::Reserved),
            (1016, CloseCodeValidity::Unassigned),
            (2999, CloseCodeValidity::Unassigned),
            (3000, CloseCodeValidity::Valid),
            (4999, CloseCodeValidity::Valid),
            (5000, CloseCodeValidity::Unassigned),
        ] {
            assert_eq!(CloseCode(code).validity(), want, "{code}");
        }
        assert_eq!(CloseCode(1001).meaning(), "going away");
        assert_eq!(CloseCode(4001).meaning(), "private use by applications");
    }
}
