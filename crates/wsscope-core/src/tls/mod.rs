//! TLS building blocks (sans-IO), not yet wired into the pipeline.
pub mod hello;
pub mod keylog;
pub mod keys;
pub mod record;
pub mod tls12;
