//! A resumable upload's file (src/tus.rs) as the [`Inspector`] reads it over several requests:
//! where the file ends, a request that ends before it, an inspection continued by an instance
//! that did not read the file's start, and which types need the whole stream on one instance.

use super::{Ending, Inspector, Part, scans};
use crate::media;
use crate::policy::UploadPolicy;
use crate::rejection::Rejection;
use crate::sniff;
use bytes::Bytes;

/// Whether a file of type `mime` is checked by something that must read it whole, from its
/// first byte, in one stream (structure, SVG or active-content checks, the malware scan).
pub fn follows_stream(policy: &UploadPolicy, mime: &str) -> bool {
    policy.scan.is_some()
        || (matches!(mime, "image/svg+xml" | "text/html") && !policy.allows_active_content())
        || policy
            .structure
            .as_deref()
            .is_some_and(|r| crate::structure::Check::applies(r, mime))
}

impl Inspector {
    /// Sets where a raw file ends (src/tus.rs: a resumable upload's length).
    pub fn set_ending(&mut self, ending: Ending) {
        self.parser.set_ending(ending);
    }

    /// A resumable file's request ended before the file did (src/tus.rs): an undecided type is
    /// decided on what was read (the next request's bytes cannot be waited for), so everything
    /// read may go.
    pub fn pause(&mut self) -> Result<(), Rejection> {
        let Some(Part::File(mut f)) = self.part.take() else {
            return Ok(());
        };
        let result = match f.detected.is_none() && f.size > 0 {
            true => {
                let window = std::mem::take(&mut f.sniff);
                self.decide(&mut f, &window, true)
            }
            false => Ok(()),
        };
        self.part = Some(Part::File(f));
        result
    }

    /// Continues a resumable file whose first `offset` bytes another instance (or an earlier
    /// process) inspected as `detected`: from here on only its size, limit and hash follow.
    pub fn continue_at(&mut self, offset: u64, detected: &str) -> Result<(), Rejection> {
        self.parser.skip_to(offset);
        self.scans = scans::Scans::new(None);
        self.feed(Bytes::new())?;
        self.total = offset;
        self.first_type = Some(detected.to_string());
        self.hold_from = None;
        if let Some(Part::File(f)) = &mut self.part {
            f.limit = self.policy.limit_for(media::category(detected));
            f.size = offset;
            f.detected = Some(sniff::Detected {
                mime: detected.to_string(),
                active: false,
            });
        }
        Ok(())
    }
}
