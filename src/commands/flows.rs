//! `wsscope flows`: every TCP connection as a table or as JSON.

use super::{config, execute};
use crate::cli::FlowsArgs;
use crate::output::{finish_output, open_output, STDOUT_CLOSED};
use anyhow::bail;
use std::io::{self, Write};
use std::process::ExitCode;
use wsscope_core::analyzer::Event;
use wsscope_core::escape::for_terminal;
use wsscope_core::sink::Sink;
use wsscope_core::totals::{CaptureTotals, RunTotals};
use wsscope_output::report::{
    flow_report, Endpoint, FlowReport, FlowsReport, TlsReport, SCHEMA_VERSION,
};
use wsscope_output::text::human_bytes;

/// Collects the flow records of a run.
#[derive(Default)]
struct FlowsSink {
    capture: String,
    flows: Vec<FlowReport>,
}

impl Sink for FlowsSink {
    fn begin_capture(&mut self, path: &str) -> io::Result<()> {
        self.capture = path.to_string();
        Ok(())
    }
    fn event(&mut self, ev: &Event<'_>) -> io::Result<()> {
        if let Event::Flow(r) = ev {
            self.flows.push(flow_report(r, &self.capture));
        }
        Ok(())
    }
    fn finish(&mut self, _: &RunTotals, _: &[CaptureTotals]) -> io::Result<()> {
        Ok(())
    }
}

/// Runs `flows`.
pub fn run(args: FlowsArgs) -> anyhow::Result<ExitCode> {
    let cfg = config(&args.common.analysis, 0);
    crate::keylog::load(&args.common.analysis, &cfg.keys)?;
    let mut sink = FlowsSink::default();
    let json_out = args
        .json
        .as_deref()
        .map(|p| open_output(p, &args.common.captures))
        .transpose()?;
    let outcome = execute(&args.common, &cfg, &mut sink)?;
    if outcome.captures.is_empty() && !outcome.errors.is_empty() {
        return Ok(ExitCode::from(2));
    }
    let mut flows = sink.flows;
    flows.sort_by(|a, b| (&a.capture, &a.first_ts, a.id).cmp(&(&b.capture, &b.first_ts, b.id)));
    let mut pending = None;
    let written = match json_out {
        Some((mut out, p)) => {
            pending = p;
            write_json(&mut out, flows)
        }
        None => print_table(&flows),
    };
    match written {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => bail!(STDOUT_CLOSED),
        Err(e) => bail!("{e}"),
        Ok(()) if !outcome.errors.is_empty() => finish_output(pending, 2),
        Ok(()) => finish_output(pending, 0),
    }
}

fn write_json(out: &mut dyn Write, flows: Vec<FlowReport>) -> io::Result<()> {
    let doc = FlowsReport {
        schema_version: SCHEMA_VERSION,
        flows,
    };
    let text = serde_json::to_string_pretty(&doc).map_err(io::Error::other)?;
    out.write_all(wsscope_core::escape::json_terminal_safe(text).as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}

/// The flow table on standard output.
fn print_table(flows: &[FlowReport]) -> io::Result<()> {
    let mut out = io::BufWriter::new(io::stdout());
    writeln!(
        out,
        "{:<5} {:<45} {:<45} {:<9} {:>10} {:>10} {:<9} {:<14} {:>6} {:>5}  TLS",
        "FLOW", "CLIENT", "SERVER", "CLASS", "C->S", "S->C", "BEGAN", "ENDED", "RETX", "GAPS"
    )?;
    for f in flows {
        let client = if f.roles_inferred {
            format!("{} (inferred)", endpoint(&f.client))
        } else {
            endpoint(&f.client)
        };
        writeln!(
            out,
            "{:<5} {:<45} {:<45} {:<9} {:>10} {:>10} {:<9} {:<14} {:>6} {:>5}{}",
            f.id,
            client,
            endpoint(&f.server),
            f.classification.as_str(),
            human_bytes(f.bytes_c2s),
            human_bytes(f.bytes_s2c),
            f.began.as_str(),
            f.ended.as_str(),
            f.retransmissions,
            f.gaps,
            f.tls.as_ref().map(tls_column).unwrap_or_default()
        )?;
    }
    out.flush()
}

/// The TLS column: `  TLS 1.3 sni=example.com alpn=h2 resumed` (escaped for the terminal).
fn tls_column(t: &TlsReport) -> String {
    let mut col = format!("  {}", t.version.as_deref().unwrap_or("TLS"));
    if let Some(sni) = &t.sni {
        col.push_str(&format!(" sni={}", for_terminal(sni)));
    }
    match (&t.alpn, t.alpn_offered.is_empty()) {
        (Some(a), _) => col.push_str(&format!(" alpn={}", for_terminal(a))),
        (None, false) => col.push_str(&format!(
            " alpn-offered={}",
            for_terminal(&t.alpn_offered.join(","))
        )),
        (None, true) => {}
    }
    if t.resumed {
        col.push_str(" resumed");
    }
    col.push_str(if t.decrypted {
        " decrypted"
    } else {
        " not-decrypted"
    });
    col
}

fn endpoint(e: &Endpoint) -> String {
    if e.ip.contains(':') {
        format!("[{}]:{}", e.ip, e.port)
    } else {
        format!("{}:{}", e.ip, e.port)
    }
}
