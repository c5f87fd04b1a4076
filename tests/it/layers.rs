//! The layer rules of docs/ARCHITECTURE.md ("Modules and their order"), checked on the
//! `crate::` paths every file under src/ names (CI also runs modcycles for import circles):
//! leaves import nothing of the crate, no feature names the config assembler, and only the
//! glue names the glue.

use std::path::Path;

/// Every `src/` file (relative path) with its text.
fn sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    assert!(out.len() > 50, "src/ not found");
    out
}

/// The crate paths a file names: `crate::a::b…` as written, and each name inside a
/// `use crate::{…}` / `crate::a::{…}` group joined to its prefix (one level deep is enough here).
fn crate_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let path: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let after = &rest[path.len()..];
        if after.starts_with('{') {
            let group = &after[1..after.find('}').unwrap_or(after.len())];
            for name in group.split(',') {
                let name = name.split_whitespace().next().unwrap_or("");
                if !name.is_empty() {
                    out.push(format!("{path}{name}"));
                }
            }
        } else {
            out.push(path.trim_end_matches(':').to_string());
        }
    }
    out
}

fn is_glue(file: &str) -> bool {
    let top = file.split('/').next().unwrap().trim_end_matches(".rs");
    [
        "proxy", "server", "admin", "reload", "commands", "demo", "cli", "main", "lib",
    ]
    .contains(&top)
}

#[test]
fn leaves_import_nothing_of_the_crate() {
    for (file, text) in sources() {
        if [
            "config/error.rs",
            "clock.rs",
            "quota/error.rs",
            "rejection.rs",
        ]
        .contains(&file.as_str())
        {
            let named = crate_paths(&text);
            assert!(named.is_empty(), "{file} is a leaf but names {named:?}");
        }
    }
}

#[test]
fn no_feature_names_the_config_assembler() {
    let mut broken = Vec::new();
    for (file, text) in sources() {
        if file.starts_with("config") || is_glue(&file) || file.starts_with("backend") {
            continue;
        }
        for path in crate_paths(&text) {
            let Some(inner) = path.strip_prefix("config") else {
                continue;
            };
            let leaf = ["::error", "::file"].iter().any(|l| inner.starts_with(l));
            if !leaf {
                broken.push(format!("{file}: crate::{path}"));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "features take config::error and their own TOML structs, never the assembler:\n{}",
        broken.join("\n")
    );
}

#[test]
fn only_the_glue_names_the_glue() {
    let mut broken = Vec::new();
    for (file, text) in sources() {
        if is_glue(&file) || file.starts_with("backend") {
            continue;
        }
        for path in crate_paths(&text) {
            let top = path.split("::").next().unwrap();
            if ["proxy", "server", "admin", "commands", "demo", "cli"].contains(&top) {
                broken.push(format!("{file}: crate::{path}"));
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn the_path_reader_sees_groups_and_plain_paths() {
    let text = "use crate::config::{self, error::ConfigError};\nlet x = crate::clock::now_ms();";
    assert_eq!(
        crate_paths(text),
        [
            "config::self",
            "config::error::ConfigError",
            "clock::now_ms"
        ]
    );
}

/// The rows of the order block in docs/ARCHITECTURE.md ("The order the layers have"): per row,
/// the module paths it names (`config::error`, `inspect`, …).
fn documented_rows() -> Vec<Vec<String>> {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ARCHITECTURE.md"))
            .unwrap();
    let start = doc.find("The order the layers have").expect("order block");
    let block = &doc[start..];
    let block = &block[block.find("```\n").unwrap() + 4..];
    let block = &block[..block.find("```").unwrap()];
    block
        .lines()
        .filter(|l| !l.starts_with(' '))
        .map(|l| {
            let names = l.split("  ").next().unwrap();
            let mut plain = String::new();
            let mut depth = 0;
            for c in names.chars() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ if depth == 0 => plain.push(c),
                    _ => {}
                }
            }
            plain
                .split(',')
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
                .collect()
        })
        .collect()
}

/// The row of a module path: the row naming its longest listed prefix.
fn row_of(rows: &[Vec<String>], module: &str) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    for (i, row) in rows.iter().enumerate() {
        for name in row {
            let hit = module == name || module.starts_with(&format!("{name}::"));
            if hit && best.is_none_or(|(len, _)| name.len() > len) {
                best = Some((name.len(), i));
            }
        }
    }
    best.map(|(_, i)| i)
}

#[test]
fn the_documented_module_order_holds() {
    let rows = documented_rows();
    assert!(rows.len() > 10, "order block not read: {rows:?}");
    let mut broken = Vec::new();
    for (file, text) in sources() {
        let test = file.ends_with("tests.rs") || file.contains("/tests/");
        if file == "lib.rs" || file == "main.rs" || test {
            continue;
        }
        let text: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let module = file.trim_end_matches(".rs").replace('/', "::");
        let Some(own) = row_of(&rows, &module) else {
            broken.push(format!("{file}: in no row of the order"));
            continue;
        };
        for path in crate_paths(&text) {
            match row_of(&rows, &path) {
                Some(row) if row > own => broken.push(format!(
                    "{file} (row {}) names crate::{path} (row {}, below it)",
                    own + 1,
                    row + 1
                )),
                None => broken.push(format!("{file}: crate::{path} is in no row")),
                _ => {}
            }
        }
    }
    assert!(
        broken.is_empty(),
        "docs/ARCHITECTURE.md's module order is not the code's:\n{}",
        broken.join("\n")
    );
}
