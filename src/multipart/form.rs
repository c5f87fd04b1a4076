//! Builds multipart/form-data bodies: for tests, benchmarks and the demo's examples.

/// A multipart/form-data body under construction.
#[derive(Debug, Clone)]
pub struct Form {
    boundary: String,
    body: Vec<u8>,
}

impl Form {
    pub fn new(boundary: &str) -> Self {
        Self {
            boundary: boundary.to_string(),
            body: Vec::new(),
        }
    }

    /// The request `Content-Type` for this body.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// Adds a part with raw header lines (without the CRLF terminators) and content.
    pub fn raw_part(mut self, headers: &[&str], content: &[u8]) -> Self {
        self.body
            .extend_from_slice(format!("--{}\r\n", self.boundary).as_bytes());
        for h in headers {
            self.body.extend_from_slice(h.as_bytes());
            self.body.extend_from_slice(b"\r\n");
        }
        self.body.extend_from_slice(b"\r\n");
        self.body.extend_from_slice(content);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    pub fn field(self, name: &str, value: &str) -> Self {
        let cd = format!("Content-Disposition: form-data; name=\"{name}\"");
        self.raw_part(&[&cd], value.as_bytes())
    }

    pub fn file(self, name: &str, filename: &str, content_type: &str, content: &[u8]) -> Self {
        let cd =
            format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"");
        let ct = format!("Content-Type: {content_type}");
        self.raw_part(&[&cd, &ct], content)
    }

    /// The body up to where a new file part's content starts: for streaming large content,
    /// followed by the content and [`Form::tail_after_content`].
    pub fn open_file(&self, name: &str, filename: &str, content_type: &str) -> Vec<u8> {
        let mut head = self.clone().file(name, filename, content_type, b"").body;
        head.truncate(head.len() - 2);
        head
    }

    /// What follows a streamed file part's content: its CRLF and the closing delimiter.
    pub fn tail_after_content(&self) -> Vec<u8> {
        let mut tail = b"\r\n".to_vec();
        tail.extend_from_slice(&self.closing());
        tail
    }

    /// The body without its closing delimiter (to build truncated or streamed bodies).
    pub fn open_body(&self) -> &[u8] {
        &self.body
    }

    /// The closing delimiter for this boundary.
    pub fn closing(&self) -> Vec<u8> {
        format!("--{}--\r\n", self.boundary).into_bytes()
    }

    /// The complete body.
    pub fn finish(mut self) -> Vec<u8> {
        let closing = self.closing();
        self.body.extend_from_slice(&closing);
        self.body
    }
}
