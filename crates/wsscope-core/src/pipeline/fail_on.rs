//! The `--fail-on` gate: which findings of a run make it fail.

use crate::finding::{Code, Severity};
use crate::sink::Tally;

/// One `--fail-on` item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    /// Any finding of this severity or worse.
    Severity(Severity),
    /// Any finding with this code.
    Code(Code),
}

impl FailOn {
    /// Whether findings of `code` match this item.
    pub fn matches(self, code: Code) -> bool {
        match self {
            FailOn::Severity(min) => code.severity() >= min,
            FailOn::Code(c) => c == code,
        }
    }
}

/// Parses a comma-separated `--fail-on` list.
pub fn parse_fail_on(list: &str) -> Result<Vec<FailOn>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            if let Some(sev) = Severity::parse(item) {
                Ok(FailOn::Severity(sev))
            } else if let Some(code) = Code::parse(item) {
                Ok(FailOn::Code(code))
            } else {
                Err(format!(
                    "unknown --fail-on item '{item}': use info, warning, error or a finding code (see `wsscope codes`)"
                ))
            }
        })
        .collect()
}

/// The finding codes of the run that match any `--fail-on` item, with how many findings each
/// had, in code order.
pub fn fail_on_matched(items: &[FailOn], tally: &Tally) -> Vec<(Code, u64)> {
    tally
        .totals
        .findings_by_code
        .iter()
        .filter(|(code, n)| **n > 0 && items.iter().any(|item| item.matches(**code)))
        .map(|(code, n)| (*code, *n))
        .collect()
}

/// True when any finding of the run matches any `--fail-on` item.
pub fn fail_on_matches(items: &[FailOn], tally: &Tally) -> bool {
    !fail_on_matched(items, tally).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_matching_codes_are_listed() {
        let mut tally = Tally::default();
        tally.add_finding(Code::TcpGap, Code::TcpGap.severity(), 2);
        tally.add_finding(Code::InvalidUtf8, Code::InvalidUtf8.severity(), 1);
        tally.add_finding(Code::OriginMissing, Code::OriginMissing.severity(), 3);
        let by_severity = parse_fail_on("error").expect("parse");
        assert_eq!(
            fail_on_matched(&by_severity, &tally),
            vec![(Code::InvalidUtf8, 1)]
        );
        let mixed = parse_fail_on("tcp-gap,error").expect("parse");
        assert_eq!(fail_on_matched(&mixed, &tally).len(), 2);
        let none = parse_fail_on("abrupt-close").expect("parse");
        assert!(!fail_on_matches(&none, &tally));
    }
}
