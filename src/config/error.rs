//! Configuration errors: a leaf module (it imports nothing from the crate), so every section's
//! validator — `auth`, `policy`, the assembler in `config` — can report into it without an
//! import circle.

/// One configuration problem: where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    pub path: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// A header name the config names at `path` (any case; kept lower-cased).
pub fn header_name(value: &str, path: impl Into<String>) -> Result<http::HeaderName, ConfigError> {
    http::HeaderName::try_from(value.to_ascii_lowercase())
        .map_err(|_| ConfigError::new(path, format!("{value:?} is not a valid header name")))
}

/// Every error found in a config, one per line when displayed.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
pub struct ConfigErrors(pub Vec<ConfigError>);

/// Collects every error while a config is validated section by section.
#[derive(Debug, Default)]
pub struct Collector(Vec<ConfigError>);

impl Collector {
    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError::new(path, message));
    }

    /// The entry `name` of a named table (`[errors.NAME]`, `[upstreams.NAME]`,
    /// `[quotas.tiers.NAME]`), or an error at `path` saying which table should define it.
    pub fn named<V: Clone>(
        &mut self,
        (what, table): (&str, &str),
        entries: &std::collections::HashMap<String, V>,
        name: &str,
        path: impl Into<String>,
    ) -> Option<V> {
        let found = entries.get(name).cloned();
        if found.is_none() {
            self.push(
                path,
                format!("no {what} named {name:?} (define [{table}.{name}])"),
            );
        }
        found
    }

    /// The value of a one-error check, its error kept for the report.
    pub fn take_one<T>(&mut self, result: Result<T, ConfigError>) -> Option<T> {
        result.map_err(|e| self.0.push(e)).ok()
    }

    /// The value of a section validator, its errors kept for the report.
    pub fn take<T>(&mut self, result: Result<T, Vec<ConfigError>>) -> Option<T> {
        result.map_err(|mut e| self.0.append(&mut e)).ok()
    }

    /// `value` if nothing was reported, else every error.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> Result<T, Vec<ConfigError>> {
        if self.0.is_empty() {
            Ok(value())
        } else {
            Err(self.0)
        }
    }
}
