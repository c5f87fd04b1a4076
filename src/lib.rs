//! upload-gateway: a pingora reverse proxy that enforces upload policy while multipart
//! uploads stream through it.
#![forbid(unsafe_code)]

pub mod admin;
pub mod auth;
pub mod backend;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod connections;
pub mod cors;
pub mod demo;
pub mod errors;
pub mod file_report;
pub mod idempotency;
pub mod inspect;
pub mod json_body;
pub mod logs;
pub mod media;
pub mod metrics;
pub mod multipart;
pub mod policy;
pub mod proxy;
pub mod query;
pub mod quota;
pub mod rejection;
pub mod reload;
pub mod reply;
pub mod request_id;
pub mod s3;
pub mod scan;
pub mod server;
pub mod sniff;
pub mod ssrf;
pub mod stores;
pub mod structure;
pub mod trace;
pub mod tus;
pub mod verdict;
