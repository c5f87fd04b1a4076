//! The integration tests, one binary (one link of pingora instead of one per file). Tests that
//! read process-wide state stay in binaries of their own: tests/metrics.rs and
//! tests/metrics_primed.rs (the metric registry), tests/demo.rs (exact metric counts) and
//! tests/memory.rs (the process's resident set).

mod common;

mod answers;
mod auth;
mod backend;
mod browser_cors;
mod browser_svg;
mod cli;
mod connections;
mod cors;
mod example_flowkiwi;
mod example_soku;
mod examples;
mod faults;
mod h2_refusals;
mod idempotency;
mod layers;
mod limits;
mod pdf_differential;
mod quota;
mod quota_redis;
mod raw_body;
mod reject;
mod reload;
mod s3;
mod s3_complete;
mod s3_multipart;
mod s3_post;
mod scan;
mod structure;
mod tls_h2;
mod tus;
mod upgrade;
mod upload;
mod verdict;
