//! The reference backend's storage: files and JSON records on local disk under a data
//! directory, plus an in-memory index. Uploads land in `tmp/` and are renamed into `files/`
//! only when complete, so a cut-off upload leaves nothing behind.

use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};

/// One stored media object, as the API returns it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Record {
    pub id: String,
    pub url: String,
    pub key: String,
    pub size: u64,
    pub content_type: String,
    pub sha256: String,
    pub original_name: Option<String>,
    pub tags: Vec<String>,
    pub folder: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Identity the gateway sent upstream (absent without a gateway).
    pub tenant: Option<String>,
    pub subject: Option<String>,
    pub mode: Option<String>,
    pub key_label: Option<String>,
    /// The type the gateway detected, if it said so.
    pub detected_type: Option<String>,
    #[serde(skip)]
    pub created_unix: u64,
    /// From the gateway's verified verdict (`--verdict-key-file`): image size and scan status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abuse_status: Option<String>,
}

/// List filters and paging.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub page: usize,
    pub page_size: usize,
    /// A category (`image`) or a type (`image/png`).
    pub kind: Option<String>,
    /// Substring of the original name, a tag or the folder.
    pub search: Option<String>,
}

pub struct Store {
    dir: PathBuf,
    index: DashMap<String, Record>,
}

/// Ids are 32 lower-case hex characters: nothing else ever touches the filesystem.
pub fn valid_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

impl Store {
    /// Opens (creating) the data directory, clears leftovers in `tmp/`, loads the records.
    pub fn open(dir: &Path) -> io::Result<Self> {
        for sub in ["files", "meta", "tmp"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        for e in std::fs::read_dir(dir.join("tmp"))? {
            let _ = std::fs::remove_file(e?.path());
        }
        let index = DashMap::new();
        for e in std::fs::read_dir(dir.join("meta"))? {
            let path = e?.path();
            if path.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            if let Ok(mut r) = serde_json::from_slice::<Record>(&std::fs::read(&path)?) {
                r.created_unix = crate::backend::time::parse_rfc3339(&r.created_at).unwrap_or(0);
                index.insert(r.id.clone(), r);
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            index,
        })
    }

    pub fn temp_path(&self, id: &str) -> PathBuf {
        self.dir.join("tmp").join(format!("{id}.part"))
    }

    pub fn file_path(&self, id: &str) -> PathBuf {
        self.dir.join("files").join(id)
    }

    /// Moves a completed upload into place and records it (the record is written last).
    pub fn commit(&self, record: Record) -> io::Result<Record> {
        std::fs::rename(self.temp_path(&record.id), self.file_path(&record.id))?;
        let meta = self.dir.join("meta").join(format!("{}.json", record.id));
        let tmp = self.dir.join("tmp").join(format!("{}.json", record.id));
        std::fs::write(&tmp, serde_json::to_vec_pretty(&record)?)?;
        std::fs::rename(&tmp, meta)?;
        self.index.insert(record.id.clone(), record.clone());
        Ok(record)
    }

    fn visible(r: &Record, tenant: Option<&str>) -> bool {
        tenant.is_none_or(|t| r.tenant.as_deref() == Some(t))
    }

    pub fn get(&self, id: &str, tenant: Option<&str>) -> Option<Record> {
        self.index
            .get(id)
            .map(|r| r.clone())
            .filter(|r| Self::visible(r, tenant))
    }

    /// Removes a record and its file; `false` if it did not exist (for this tenant).
    pub fn delete(&self, id: &str, tenant: Option<&str>) -> io::Result<bool> {
        if self.get(id, tenant).is_none() {
            return Ok(false);
        }
        self.index.remove(id);
        let _ = std::fs::remove_file(self.dir.join("meta").join(format!("{id}.json")));
        let _ = std::fs::remove_file(self.file_path(id));
        Ok(true)
    }

    /// Newest first, filtered, one page; returns the page and the total matching.
    pub fn list(&self, q: &Query, tenant: Option<&str>) -> (Vec<Record>, usize) {
        let search = q.search.as_ref().map(|s| s.to_lowercase());
        let mut all: Vec<Record> = self
            .index
            .iter()
            .map(|r| r.clone())
            .filter(|r| Self::visible(r, tenant))
            .filter(|r| match &q.kind {
                Some(k) if k.contains('/') => r.content_type == *k,
                Some(k) => {
                    r.content_type.starts_with(&format!("{k}/"))
                        || crate::media::category(&r.content_type).as_str() == k
                }
                None => true,
            })
            .filter(|r| match &search {
                Some(s) => {
                    r.original_name
                        .as_deref()
                        .is_some_and(|n| n.to_lowercase().contains(s))
                        || r.tags.iter().any(|t| t.to_lowercase().contains(s))
                        || r.folder
                            .as_deref()
                            .is_some_and(|f| f.to_lowercase().contains(s))
                }
                None => true,
            })
            .collect();
        all.sort_by(|a, b| (b.created_unix, &b.id).cmp(&(a.created_unix, &a.id)));
        let total = all.len();
        let start = (q.page.max(1) - 1).saturating_mul(q.page_size);
        let page = all.into_iter().skip(start).take(q.page_size).collect();
        (page, total)
    }
}
