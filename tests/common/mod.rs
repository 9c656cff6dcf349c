//! Helpers shared by the end-to-end tests: run the real binary, read its JSON.

#![allow(dead_code)]

use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The third-party capture corpus: `$WSSCOPE_CORPUS`, else `../shared/corpus` beside the
/// repository. Panics with how to provide it when it is missing, so a test that needs it never
/// passes without it.
pub fn corpus_dir() -> PathBuf {
    let from_env = std::env::var_os("WSSCOPE_CORPUS");
    corpus_at(from_env.map(PathBuf::from)).unwrap_or_else(|e| panic!("{e}"))
}

/// The corpus in `dir` (default `../shared/corpus`), or why it cannot be used.
pub fn corpus_at(dir: Option<PathBuf>) -> Result<PathBuf, String> {
    let dir = dir.unwrap_or_else(|| root().join("..").join("shared").join("corpus"));
    if dir.join("EXPECTED.md").is_file() {
        Ok(dir)
    } else {
        Err(format!(
            "the third-party capture corpus is missing: {} has no EXPECTED.md. Put the corpus \
             there (../shared/corpus beside the repository) or point WSSCOPE_CORPUS at it.",
            dir.display()
        ))
    }
}

/// Runs `wsscope ARGS`.
pub fn wsscope<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_wsscope"))
        .args(args)
        .current_dir(root())
        // Hermetic: a key log in the developer's environment must not change the results.
        .env_remove("SSLKEYLOGFILE")
        .output()
        .expect("run wsscope")
}

/// `wsscope analyze --json - --payload full --quiet CAPTURE`, parsed.
pub fn report_for(capture: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "analyze".to_string(),
        "--json".into(),
        "-".into(),
        "--payload".into(),
        "full".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(capture.display().to_string());
    let out = wsscope(&args);
    assert!(
        out.status.code() == Some(0),
        "wsscope failed on {}: {}",
        capture.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("report is JSON")
}

/// The payload bytes of a message object (from `text` or `data_b64`).
pub fn payload(msg: &Value) -> Vec<u8> {
    if let Some(t) = msg["text"].as_str() {
        return t.as_bytes().to_vec();
    }
    match msg["data_b64"].as_str() {
        Some(b) => base64::engine::general_purpose::STANDARD
            .decode(b)
            .expect("base64"),
        None => Vec::new(),
    }
}

/// Hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Finding codes of a session (or the top-level list).
pub fn codes(findings: &Value) -> Vec<String> {
    findings
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["code"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
pub mod tmux;
