//! `zkml`: compile ONNX models to exact integer programs, run them, and (in later stages) prove
//! and verify their execution.

#![forbid(unsafe_code)]

mod commands;
mod common;
mod stages;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Verifiable machine-learning inference.
#[derive(Parser)]
#[command(name = "zkml", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile an ONNX model into a quantized integer program (.zkml).
    Compile(commands::compile::Args),
    /// Run a model (.onnx or .zkml) on an input and compare it with the float model.
    Run(commands::run::Args),
    /// Show a compiled program: ops, shapes, scales, parameters, lookup tables.
    Inspect(commands::inspect::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (json, result) = match cli.command {
        Command::Compile(a) => (a.json, commands::compile::run(a)),
        Command::Run(a) => (a.json, commands::run::run(a)),
        Command::Inspect(a) => (a.json, commands::inspect::run(a)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            common::report_error(&e, json);
            ExitCode::from(1)
        }
    }
}
