//! Log output: human-readable lines or one JSON object per line. In the JSON format the access
//! line's `files` is an array of objects, not a delimited string a filename could break.

use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, Ordering};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

static JSON: AtomicBool = AtomicBool::new(false);

/// Logs to stdout, human-readable (colour only on a terminal: no escape codes in files) or one
/// JSON object per line. pingora's own `log` lines come through the same subscriber.
pub fn init(json: bool) {
    use std::io::IsTerminal;
    JSON.store(json, Ordering::Relaxed);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,pingora_core=warn,pingora_proxy=warn".into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        logs.json()
            .with_current_span(true)
            .with_span_list(false)
            .map_event_format(StructuredFiles)
            .init();
    } else {
        logs.with_ansi(std::io::stdout().is_terminal()).init();
    }
}

/// Each file of a request as the access line logs it: a JSON array of
/// `{field, filename, detected_type, size, sha256}` (with `dimensions` and `scan` when known)
/// in the JSON format; `field:filename:type:size:sha256[:WxH][:scan=…]`, comma-separated
/// (`-` when none), in the human one.
pub fn describe_files(files: &[crate::file_report::FileReport]) -> String {
    if JSON.load(Ordering::Relaxed) {
        return files_json(files).to_string();
    }
    if files.is_empty() {
        return "-".into();
    }
    files
        .iter()
        .map(|f| {
            let dims = f
                .dimensions
                .map_or(String::new(), |(w, h)| format!(":{w}x{h}"));
            let scan = match &f.scan {
                Some(crate::scan::Verdict::Infected(sig)) => format!(":scan=infected({sig})"),
                Some(v) => format!(":scan={}", v.as_str()),
                None => String::new(),
            };
            format!(
                "{}:{}:{}:{}:{}{dims}{scan}",
                f.field,
                f.filename.as_deref().unwrap_or(""),
                f.content_type,
                f.size,
                f.sha256
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn files_json(files: &[crate::file_report::FileReport]) -> Value {
    files
        .iter()
        .map(|f| {
            let mut o = json!({
                "field": f.field,
                "filename": f.filename,
                "detected_type": f.content_type,
                "size": f.size,
                "sha256": f.sha256,
            });
            if let Some((w, h)) = f.dimensions {
                o["dimensions"] = json!({"width": w, "height": h});
            }
            match &f.scan {
                Some(crate::scan::Verdict::Infected(sig)) => {
                    o["scan"] = json!("infected");
                    o["signature"] = json!(sig);
                }
                Some(v) => o["scan"] = json!(v.as_str()),
                None => {}
            }
            o
        })
        .collect()
}

/// The JSON formatter, with an event's `files` field (JSON text, see [`describe_files`])
/// written as the JSON value it is.
struct StructuredFiles<F>(F);

impl<S, N, F> FormatEvent<S, N> for StructuredFiles<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        if event.metadata().fields().field("files").is_none() {
            return self.0.format_event(ctx, writer, event);
        }
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        if let Ok(mut v) = serde_json::from_str::<Value>(&line)
            && let Some(Value::String(text)) = v["fields"].get("files")
            && let Ok(files) = serde_json::from_str::<Value>(text)
        {
            v["fields"]["files"] = files;
            line = format!("{v}\n");
        }
        writer.write_str(&line)
    }
}
