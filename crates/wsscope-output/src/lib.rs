//! wsscope-output: the outputs of wsscope, at the edge of the pipeline.
//!
//! ```text
//! wsscope-core events, totals, outcomes -> report (JSON contract v2 types, JSON Schema)
//!                                        -> json (--json), ndjson (--ndjson), text (terminal)
//! ```
//!
//! [`report`] is the JSON contract: the only place where field names, enum spellings and
//! `schema_version` are decided. Each format is an [`output::Output`] (what to do with each kind
//! of event), made a [`wsscope_core::sink::Sink`] by [`output::OutputSink`]; they render what
//! core computed (session outcomes, close code meanings, totals) and none recomputes it.

pub mod json;
pub mod json_line;
pub mod jsonfmt;
pub mod ndjson;
pub mod output;
pub mod report;
pub mod text;
