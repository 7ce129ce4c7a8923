//! The `zkml` command line's commands, as a library: the binary parses arguments and calls them;
//! the fuzz targets reach the same file decoders (proof files, inputs) through it.

#![forbid(unsafe_code)]
// The commands' documentation is their `--help` text: clap takes it from the doc comments of
// the argument fields and of the binary's subcommands, and a doc comment on an argument
// struct would replace that text.
#![allow(missing_docs)]

pub mod aggregate;
pub mod chain;
pub mod claims;
pub mod commands;
pub mod common;
pub mod device;
pub mod groth16;
pub mod jobs;
pub mod key_cache;
pub mod plan_cache;
pub mod programs;
pub mod progress;
pub mod proving;
pub(crate) mod schedule;
pub mod stages;
