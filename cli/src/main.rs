//! `zkml`: compile ONNX models to exact integer programs, run them, prove their execution,
//! and verify proofs natively or in a local EVM.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use zkml_cli::{commands, common};

/// jemalloc returns memory freed by one stage (the planner's candidate layouts, an earlier
/// segment's polynomials) to the system within seconds, where glibc's allocator keeps it in
/// its per-thread arenas for the rest of the process.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
    /// Generate a KZG SRS locally (INSECURE: for testing only).
    GenSrs(commands::gen_srs::Args),
    /// Generate the proving and verifying keys of a compiled program.
    Setup(commands::setup::Args),
    /// Prove a model's output on an input (one shot from an ONNX model, or with --pk).
    Prove(commands::prove::Args),
    /// Evaluate a program once and write each segment's witness file (for `prove --segment`).
    Witness(zkml_cli::jobs::WitnessArgs),
    /// Assemble segment proofs into a chain file, verified.
    Chain(zkml_cli::jobs::ChainArgs),
    /// Verify a proof or a chain file: exit 0 when valid, 1 when invalid, 2 on unreadable input.
    Verify(commands::verify::Args),
    /// Generate and compile (offline, pinned solc) the Solidity verifier for a verifying key.
    CreateEvmVerifier(commands::evm::CreateArgs),
    /// Print the calldata of `verifyProof(bytes, uint256[])` for a proof file.
    EncodeCalldata(commands::evm::CalldataArgs),
    /// Verify a proof with the Solidity verifier in a local EVM, reporting gas: exit 0 when
    /// accepted, 1 when rejected, 2 on unreadable input.
    VerifyEvm(commands::evm::VerifyArgs),
}

/// Exit status of a run whose reader went away, as a shell reports a process ended by
/// SIGPIPE (128 + 13).
const CLOSED_OUTPUT: i32 = 141;

/// A reader that stops early (`zkml inspect model.zkml | head`) closes the pipe, and Rust's
/// printing then panics: end quietly instead, as other command-line tools do.
fn end_quietly_when_the_reader_leaves() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(CLOSED_OUTPUT);
        }
        report(info)
    }));
}

fn main() -> ExitCode {
    end_quietly_when_the_reader_leaves();
    let cli = Cli::parse();
    let (json, result) = match cli.command {
        Command::Verify(a) => return commands::verify::run(a),
        Command::VerifyEvm(a) => return commands::evm::verify(a),
        Command::CreateEvmVerifier(a) => (a.json, commands::evm::create(a)),
        Command::EncodeCalldata(a) => (a.json, commands::evm::calldata(a)),
        Command::GenSrs(a) => (a.json, commands::gen_srs::run(a)),
        Command::Setup(a) => (a.json, commands::setup::run(a)),
        Command::Prove(a) => (a.json, commands::prove::run(a)),
        Command::Witness(a) => (a.json, zkml_cli::jobs::witness(a)),
        Command::Chain(a) => (a.json, zkml_cli::jobs::assemble(a)),
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
