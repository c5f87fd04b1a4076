//! The streaming inspection of one upload: the multipart parser, the sniffer, the upload
//! policy and SHA-256 hashing combined over a byte stream fed in any chunking. It also says how
//! far the stream may be forwarded: bytes of an undecided file part, the delimiter and headers
//! between parts, and the closing delimiter are held back until they are safe to release.

pub mod aws_chunked;
mod framing;
mod hash;
mod holdback;
mod part;
mod resumable;
mod scans;
mod stream;

pub use crate::file_report::FileReport;
pub use framing::{Ending, Framing, RAW_FIELD};
pub use holdback::Holdback;
pub use resumable::follows_stream;
pub use stream::UploadStream;

use crate::idempotency::Fingerprint;
use crate::media;
use crate::multipart::Event;
use crate::policy::{PartKind, UploadPolicy};
use crate::rejection::Rejection;
use crate::sniff::svg::SvgCheck;
use crate::sniff::{self, ActiveScanner, Detected, FIRST_LOOK, Sniff};
use bytes::Bytes;
use framing::Reader;
use part::{FilePart, check_size, svg_refused, svg_size};
use std::collections::HashSet;
use std::sync::Arc;

enum Part {
    File(Box<FilePart>),
    Field {
        name: String,
        value: Vec<u8>,
        max_bytes: usize,
    },
}

/// Inspects one upload body (multipart, or raw: the body is the file).
pub struct Inspector {
    policy: Arc<UploadPolicy>,
    parser: Reader,
    part: Option<Part>,
    parts: usize,
    file_parts: usize,
    fields: HashSet<String>,
    total: u64,
    hold_from: Option<u64>,
    files: Vec<FileReport>,
    /// Offloaded digests still to collect: (index in `files`, hasher).
    pending: Vec<(usize, hash::PartHasher)>,
    first_type: Option<String>,
    complete: bool,
    scans: scans::Scans,
    /// Field names clients may not send (the gateway's own verdict fields).
    reserved: Vec<String>,
    /// The form fields' names and values, in order (the payload's fingerprint).
    form: Fingerprint,
    /// The text fields, kept for an S3 presigned POST's policy checks (`UploadPolicy::s3_form`).
    kept: Vec<(String, Vec<u8>)>,
}

fn invalid(e: String) -> Rejection {
    Rejection::InvalidMultipart(e)
}

impl Inspector {
    pub fn new(policy: Arc<UploadPolicy>, framing: &Framing) -> Self {
        let parser = Reader::new(framing, policy.max_part_header_bytes);
        Self {
            scans: scans::Scans::new(policy.scan.clone()),
            policy,
            parser,
            part: None,
            parts: 0,
            file_parts: 0,
            fields: HashSet::new(),
            total: 0,
            hold_from: Some(0),
            files: Vec::new(),
            pending: Vec::new(),
            first_type: None,
            complete: false,
            form: Fingerprint::default(),
            reserved: Vec::new(),
            kept: Vec::new(),
        }
    }

    /// The text fields read so far, for an S3 presigned POST (`UploadPolicy::s3_form`).
    pub fn kept_fields(&self) -> &[(String, Vec<u8>)] {
        &self.kept
    }

    /// The bytes of the file being read, or of the files read.
    pub fn file_bytes(&self) -> u64 {
        let done: u64 = self.files.iter().map(|f| f.size).sum();
        match &self.part {
            Some(Part::File(f)) => done + f.size,
            _ => done,
        }
    }

    /// Refuses parts named `names` (fields the gateway adds itself).
    pub fn reserve(&mut self, names: Vec<String>) {
        self.reserved = names;
    }

    /// Where the closing delimiter (`CRLF--boundary--`) starts, once a multipart body is
    /// complete (a raw body has none).
    pub fn closing_delimiter_at(&self) -> Option<u64> {
        (self.complete && !self.parser.is_raw()).then(|| self.parser.last_delimiter_at())
    }

    /// Body bytes seen so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Whether the first file part's type has been decided (and passed).
    pub fn first_file_decided(&self) -> bool {
        self.first_type.is_some()
    }

    /// The detected type of the first file part, once decided.
    pub fn first_type(&self) -> Option<&str> {
        self.first_type.as_deref()
    }

    /// The file parts completed so far, in order (digests complete after [`Self::settle`]).
    pub fn files(&self) -> &[FileReport] {
        &self.files
    }

    /// File parts started so far (the one being read included).
    pub fn file_parts(&self) -> usize {
        self.file_parts
    }

    /// Whether the body's closing delimiter has been read and the body ended.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Whether offloaded hashing has work to hand over or digests to collect.
    pub fn needs_settle(&self) -> bool {
        !self.pending.is_empty()
            || matches!(&self.part, Some(Part::File(f)) if f.hasher.has_backlog())
            || self.scans.needs_settle()
    }

    /// Hands queued chunks to offloaded hashers and collects finished parts' digests, waiting
    /// asynchronously (never blocking the runtime thread). A lost digest fails the request.
    pub async fn settle(&mut self) -> Result<(), Rejection> {
        if let Some(Part::File(f)) = &mut self.part {
            f.hasher.flush().await;
        }
        for (index, hasher) in std::mem::take(&mut self.pending) {
            let sha256 = hasher.finish().await.ok_or_else(|| {
                Rejection::Internal("the file's SHA-256 could not be computed".into())
            })?;
            self.files[index].sha256 = sha256;
        }
        self.scans.settle(&mut self.files).await
    }

    /// The payload's fingerprint on top of `base` (src/idempotency.rs), once the body is
    /// complete and every digest settled: the form fields, then each file's field, filename and
    /// SHA-256. Independent of the boundary and the chunking, so a client's retry matches.
    pub fn fingerprint(&self, mut base: Fingerprint) -> Option<String> {
        if !self.complete || !self.pending.is_empty() {
            return None;
        }
        base.add(self.form.clone().hex().as_bytes());
        for f in &self.files {
            base.add(f.field.as_bytes());
            base.add(f.filename.as_deref().unwrap_or("").as_bytes());
            base.add(f.sha256.as_bytes());
        }
        Some(base.hex())
    }

    /// Absolute offset up to which the body may be forwarded upstream.
    pub fn releasable(&self) -> u64 {
        if self.complete {
            return self.total;
        }
        let parsed = self.parser.position();
        let held = self.hold_from.map_or(parsed, |h| h.min(parsed));
        if self.parser.is_resumable() {
            // Its final byte waits for the verdict (`Reader::position`): a scanned tail would
            // leave bytes inspected but never sent when a request of the upload ends.
            return held;
        }
        self.scans.hold(parsed).map_or(held, |h| h.min(held))
    }

    /// Feeds the next body bytes (shared, not copied, where the parser can avoid it).
    pub fn feed(&mut self, chunk: Bytes) -> Result<(), Rejection> {
        self.total += chunk.len() as u64;
        self.policy.check_total(self.total)?;
        self.parser.push(chunk);
        while let Some(event) = self.parser.poll()? {
            self.on_event(event)?;
        }
        Ok(())
    }

    /// The body ended: the closing boundary must have been read (a raw body's part ends here).
    pub fn finish(&mut self) -> Result<(), Rejection> {
        self.parser.finish()?;
        while let Some(event) = self.parser.poll()? {
            self.on_event(event)?;
        }
        self.complete = true;
        Ok(())
    }

    fn on_event(&mut self, event: Event) -> Result<(), Rejection> {
        match event {
            Event::PartStart(head) if self.parser.is_raw() => {
                self.parts += 1;
                self.part = Some(self.start_file(head)?);
            }
            Event::PartStart(head) => {
                if self.reserved.contains(&head.name) {
                    let name = &head.name;
                    return Err(Rejection::field(
                        name,
                        false,
                        "invalid",
                        format!("the form field {name:?} is reserved for the gateway"),
                    ));
                }
                self.parts += 1;
                if self.parts > self.policy.max_parts {
                    return Err(invalid(format!(
                        "more than {} parts",
                        self.policy.max_parts
                    )));
                }
                if self.policy.s3_form && self.file_parts > 0 {
                    return Err(invalid(
                        "the file must be the form's last field (S3 ignores what follows it)"
                            .into(),
                    ));
                }
                let kind = self.policy.classify(
                    &head.name,
                    head.filename.as_deref(),
                    head.content_type.as_deref(),
                    &self.fields,
                )?;
                self.part = Some(match kind {
                    PartKind::File => self.start_file(head)?,
                    PartKind::Field { max_bytes } => {
                        self.hold_from = None;
                        Part::Field {
                            name: head.name,
                            value: Vec::new(),
                            max_bytes,
                        }
                    }
                });
            }
            Event::Data(data) => match &mut self.part {
                Some(Part::File(f)) => {
                    f.size += data.len() as u64;
                    f.hasher.update(data.clone());
                    self.scans.push(&data);
                    // Bytes the structure check and the active-content scanner have not been
                    // given (both start with the window): each byte once, whatever the chunking.
                    let fresh = if f.detected.is_none() {
                        let used = self.sniff_more(&data)?;
                        &data[used..]
                    } else {
                        check_size(f)?;
                        &data[..]
                    };
                    if let Some(Part::File(f)) = &mut self.part
                        && let Some(check) = &mut f.structure
                    {
                        check.feed(fresh)?;
                    }
                    if let Some(Part::File(f)) = &mut self.part
                        && let Some(scanner) = &mut f.scanner
                        && scanner.scan(fresh)
                    {
                        return Err(Rejection::UnsupportedMediaType(format!(
                            "{} with active content (script) is not allowed on this route",
                            f.detected.as_ref().map_or("", |d| d.mime.as_str())
                        )));
                    }
                    if let Some(Part::File(f)) = &mut self.part
                        && let Some(svg) = &mut f.svg
                    {
                        svg.feed(fresh).map_err(svg_refused)?;
                        svg_size(&self.policy, svg)?;
                    }
                }
                Some(Part::Field {
                    name,
                    value,
                    max_bytes,
                }) => {
                    UploadPolicy::check_field_len(name, value.len() + data.len(), *max_bytes)?;
                    value.extend_from_slice(&data);
                }
                None => return Err(Rejection::Internal("part data outside a part".into())),
            },
            Event::PartEnd => {
                match self.part.take() {
                    Some(Part::File(mut f)) => {
                        if f.size == 0 {
                            let field = &f.field;
                            return Err(Rejection::field(
                                field,
                                true,
                                "empty",
                                format!("file part {field:?} is empty"),
                            ));
                        }
                        if f.detected.is_none() {
                            let window = std::mem::take(&mut f.sniff);
                            self.decide(&mut f, &window, true)?;
                        }
                        if let Some(svg) = &mut f.svg {
                            svg.finish().map_err(svg_refused)?;
                        }
                        let dimensions = match &mut f.structure {
                            Some(check) => check.finish()?,
                            None => None,
                        };
                        self.scans
                            .end_part(self.files.len(), self.parser.last_delimiter_at());
                        self.end_file(*f, dimensions)?;
                    }
                    Some(Part::Field { name, value, .. }) => {
                        self.policy.check_field_value(&name, &value)?;
                        self.form.add(name.as_bytes());
                        self.form.add(&value);
                        if self.policy.s3_form {
                            self.kept.push((name.clone(), value));
                        }
                        self.fields.insert(name);
                    }
                    None => return Err(Rejection::Internal("part end outside a part".into())),
                }
                self.hold_from = Some(self.parser.last_delimiter_at());
            }
            Event::Finished if self.parser.is_raw() => {}
            Event::Finished => {
                let mut present = self.fields.clone();
                present.extend(self.files.iter().map(|f| f.field.clone()));
                self.policy.check_required(&present)?;
            }
        }
        Ok(())
    }

    fn start_file(&mut self, head: crate::multipart::PartHead) -> Result<Part, Rejection> {
        self.file_parts += 1;
        if self.file_parts > self.policy.max_file_parts {
            return Err(invalid(format!(
                "more than {} file parts",
                self.policy.max_file_parts
            )));
        }
        let declared = head.content_type.as_deref().map(media::canonical);
        self.policy.check_declared(declared.as_deref())?;
        self.hold_from = Some(self.parser.position());
        self.scans.start_part();
        Ok(Part::File(Box::new(FilePart {
            field: head.name,
            filename: head.filename,
            declared,
            sniff: Vec::new(),
            detected: None,
            limit: 0,
            size: 0,
            hasher: match self.parser.is_resumable() {
                true => hash::PartHasher::Off,
                false => hash::PartHasher::default(),
            },
            scanner: None,
            svg: None,
            structure: None,
        })))
    }

    /// Adds part bytes to the sniff buffer, deciding at fixed checkpoints (the first look, then
    /// the full window) so the answer never depends on how the body was chunked.
    /// Returns how many bytes of `data` went into the sniff window.
    fn sniff_more(&mut self, mut data: &[u8]) -> Result<usize, Rejection> {
        let total = data.len();
        let Some(Part::File(mut f)) = self.part.take() else {
            return Ok(0);
        };
        let window = self.policy.sniff_bytes;
        let result = loop {
            let checkpoint = if f.sniff.len() < FIRST_LOOK {
                FIRST_LOOK.min(window)
            } else {
                window
            };
            let take = (checkpoint - f.sniff.len()).min(data.len());
            f.sniff.extend_from_slice(&data[..take]);
            data = &data[take..];
            if f.sniff.len() < checkpoint {
                break Ok(());
            }
            let last = checkpoint == window;
            let sniffed = std::mem::take(&mut f.sniff);
            match sniff::detect(&sniffed, last) {
                Sniff::Done(d) => break self.accept(&mut f, d, &sniffed),
                Sniff::NeedMore => f.sniff = sniffed,
            }
        };
        self.part = Some(Part::File(f));
        result.map(|()| total - data.len())
    }

    fn decide(&mut self, f: &mut FilePart, window: &[u8], last: bool) -> Result<(), Rejection> {
        match sniff::detect(window, last) {
            Sniff::Done(d) => self.accept(f, d, window),
            Sniff::NeedMore => Err(Rejection::Internal(
                "final sniff left the type undecided".into(),
            )),
        }
    }

    fn accept(
        &mut self,
        f: &mut FilePart,
        detected: Detected,
        seen: &[u8],
    ) -> Result<(), Rejection> {
        self.policy.check_type(f.declared.as_deref(), &detected)?;
        f.limit = self.policy.limit_for(media::category(&detected.mime));
        if self.first_type.is_none() {
            self.first_type = Some(detected.mime.clone());
        }
        // Text kinds are judged through the whole part: SVG parsed, HTML and plain text
        // scanned (in plain text, renderable markup counts too).
        if !self.policy.allows_active_content() {
            match detected.mime.as_str() {
                "image/svg+xml" => {
                    let mut svg = SvgCheck::new();
                    svg.feed(seen).map_err(svg_refused)?;
                    svg_size(&self.policy, &svg)?;
                    f.svg = Some(svg);
                }
                "text/html" => f.scanner = Some(ActiveScanner::after(seen)),
                "text/plain" => f.scanner = Some(ActiveScanner::after_text(seen)),
                _ => {}
            }
        }
        if let Some(rules) = &self.policy.structure {
            f.structure = crate::structure::Check::start(rules, &detected.mime, seen)?;
        }
        f.detected = Some(detected);
        f.sniff = Vec::new();
        self.hold_from = None;
        check_size(f)
    }

    fn end_file(&mut self, f: FilePart, dimensions: Option<(u32, u32)>) -> Result<(), Rejection> {
        check_size(&f)?;
        let detected = f.detected.map(|d| d.mime).unwrap_or_default();
        let sha256 = match f.hasher.finish_inline() {
            Ok(sha256) => sha256,
            Err(offloaded) => {
                self.pending.push((self.files.len(), offloaded));
                String::new()
            }
        };
        self.files.push(FileReport {
            field: f.field,
            filename: f.filename,
            content_type: detected,
            size: f.size,
            sha256,
            dimensions,
            scan: None,
        });
        Ok(())
    }
}

#[cfg(test)]
mod chunking_tests;
#[cfg(test)]
mod tests;
