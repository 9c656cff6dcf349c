//! wsscope-output: the outputs of wsscope, at the edge of the pipeline.
//!
//! ```text
//! wsscope-core events, totals, outcomes -> report (JSON contract v2 types, JSON Schema)
//!                                        -> json (--json), ndjson (--ndjson), text (terminal)
//! ```
//!
//! [`report`] is the JSON contract: the only place where field names, enum spellings and
//! `schema_version` are decided. The sinks implement [`wsscope_core::sink::Sink`] and render
//! what core computed (session outcomes, close code meanings, totals); none recomputes it.

pub mod json;
pub mod json_line;
pub mod ndjson;
pub mod report;
pub mod text;
