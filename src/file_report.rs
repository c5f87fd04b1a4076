//! What the gateway learned about one file: a leaf shared by the inspector that fills it, the
//! signed verdict, the metrics and the logs that read it (docs/ARCHITECTURE.md, "Modules").

/// What the gateway learned about one file part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    pub field: String,
    pub filename: Option<String>,
    /// The detected (canonical) media type.
    pub content_type: String,
    pub size: u64,
    /// Lower-case hex SHA-256 of the part's content.
    pub sha256: String,
    /// Width × height of an image, when a structure check read them.
    pub dimensions: Option<(u32, u32)>,
    /// The malware scan's verdict, on routes that scan.
    pub scan: Option<crate::scan::Verdict>,
}
