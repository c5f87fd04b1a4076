//! The malware scans of one upload's file parts (src/scan.rs): the open part's scan is fed every
//! data byte; at the part's end its verdict is awaited (in `Inspector::settle`) before anything
//! after the part's last bytes is released. While a part is scanned, its last [`TAIL`] bytes
//! are held, so the backend never has a complete file before the verdict.

use super::FileReport;
use crate::rejection::Rejection;
use crate::scan::{Scan, ScanSettings, Verdict};
use bytes::Bytes;
use std::sync::Arc;

/// Bytes of a scanned part held back until its verdict.
pub const TAIL: u64 = 4096;

#[derive(Default)]
pub struct Scans {
    settings: Option<Arc<ScanSettings>>,
    open: Option<Scan>,
    /// Ended parts waiting for their verdict: index in the files, and the scan.
    pending: Vec<(usize, Scan)>,
    /// Where the held tail of the ended parts begins.
    held_from: Option<u64>,
}

impl Scans {
    pub fn new(settings: Option<Arc<ScanSettings>>) -> Self {
        Self {
            settings,
            ..Self::default()
        }
    }

    /// A file part starts.
    pub fn start_part(&mut self) {
        self.open = self.settings.as_deref().map(Scan::start);
    }

    pub fn push(&mut self, data: &Bytes) {
        if let Some(s) = &mut self.open {
            s.push(data);
        }
    }

    /// The file part that becomes `files[index]` ended; its data ended at `end` (the next
    /// delimiter).
    pub fn end_part(&mut self, index: usize, end: u64) {
        if let Some(s) = self.open.take() {
            self.pending.push((index, s));
            let from = end.saturating_sub(TAIL);
            self.held_from = Some(self.held_from.map_or(from, |h| h.min(from)));
        }
    }

    pub fn needs_settle(&self) -> bool {
        !self.pending.is_empty() || self.open.as_ref().is_some_and(Scan::has_backlog)
    }

    /// Where release must stop: the open part's tail, or the ended parts' held tails.
    pub fn hold(&self, parsed: u64) -> Option<u64> {
        let open = self.open.as_ref().map(|_| parsed.saturating_sub(TAIL));
        match (open, self.held_from) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Feeds clamd what is queued and collects the verdicts of ended parts, refusing as the
    /// route says.
    pub async fn settle(&mut self, files: &mut [FileReport]) -> Result<(), Rejection> {
        if let Some(s) = &mut self.open {
            s.flush().await;
        }
        let Some(settings) = self.settings.clone() else {
            return Ok(());
        };
        for (index, scan) in std::mem::take(&mut self.pending) {
            let verdict = scan.verdict().await;
            let file = &mut files[index];
            let refusal = match &verdict {
                Verdict::Clean => None,
                Verdict::Infected(signature) => {
                    tracing::warn!(field = %file.field, %signature, "malware found by clamd");
                    Some(Rejection::Malware)
                }
                Verdict::OverLimit if settings.allow_over_limit => None,
                Verdict::OverLimit => Some(Rejection::TooLarge(format!(
                    "the file exceeds the malware scanner's limit of {} bytes",
                    settings.max_bytes
                ))),
                Verdict::Failed(kind, why) => {
                    tracing::error!(kind, "clamd gave no verdict: {why}");
                    (!settings.fail_open).then_some(Rejection::ScanUnavailable)
                }
            };
            file.scan = Some(verdict);
            if let Some(r) = refusal {
                return Err(r);
            }
        }
        self.held_from = None;
        Ok(())
    }
}
