//! Compiles a Solidity verifier with zkml's pinned solc, deploys it in the in-process EVM and
//! calls it with the given calldata, printing the verdict and the gas used.
//!
//! The side-by-side benchmark runs EZKL's generated verifier through this, so both systems'
//! verifiers are compiled by the same compiler and executed by the same EVM.
//!
//! ```sh
//! evm-gas --source Verifier.sol --contract Halo2Verifier --calldata calldata.bin
//! ```
//!
//! Prints one JSON line: `verified` (the call returned ABI `true`), `gas_used` (the whole
//! transaction's, 21,000 base and calldata included), `runtime_bytes`, `calldata_bytes`, and
//! `tampered_rejected` (the same call with the last public value changed by one failed).
//! Exit codes: 0 accepted, 1 rejected, 2 the contract could not be compiled or deployed.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use zkml_contracts::evm::Evm;

#[derive(Parser)]
#[command(about = "Compile a Solidity verifier, deploy it in the local EVM, call it, report gas")]
struct Args {
    /// Solidity source file.
    #[arg(long)]
    source: PathBuf,
    /// Name of the contract to deploy.
    #[arg(long)]
    contract: String,
    /// The call's calldata: a raw binary file, or hex text (with or without 0x).
    #[arg(long)]
    calldata: PathBuf,
}

fn read_calldata(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read calldata {}", path.display()))?;
    let text = std::str::from_utf8(&bytes).ok().map(str::trim);
    if let Some(t) = text.filter(|t| !t.is_empty()) {
        let t = t.strip_prefix("0x").unwrap_or(t);
        if t.len() % 2 == 0 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            return hex::decode(t).context("calldata hex");
        }
    }
    Ok(bytes)
}

/// The index of the low byte of the last element of the `uint256[]` argument of a
/// `(bytes, uint256[])` call.
fn last_instance_byte(calldata: &[u8]) -> Option<usize> {
    let word = |at: usize| -> Option<usize> {
        let w = calldata.get(at..at + 32)?;
        if w[..24].iter().any(|&b| b != 0) {
            return None;
        }
        Some(u64::from_be_bytes(w[24..].try_into().ok()?) as usize)
    };
    let head = 4;
    let offset = word(head + 32)?;
    let len = word(head.checked_add(offset)?)?;
    if len == 0 {
        return None;
    }
    let last = head + offset + 32 * len + 31;
    (last < calldata.len()).then_some(last)
}

fn run(args: &Args) -> anyhow::Result<bool> {
    let source = std::fs::read_to_string(&args.source)
        .with_context(|| format!("cannot read {}", args.source.display()))?;
    let calldata = read_calldata(&args.calldata)?;
    let compiled = zkml_contracts::solc::compile(&source, &args.contract)
        .with_context(|| format!("compiling {}", args.source.display()))?;
    let mut evm = Evm::new();
    let addr = evm
        .deploy(&compiled.bytecode)
        .with_context(|| format!("deploying {}", args.contract))?;
    let calldata_bytes = calldata.len();
    // A sanity check that the call really verifies: the same calldata with the last public
    // value changed by one must be rejected.
    let mut tampered = calldata.clone();
    let at = last_instance_byte(&calldata).context(
        "the calldata is not an ABI call verifyProof(bytes proof, uint256[] instances) with public values",
    )?;
    tampered[at] ^= 1;
    let outcome = evm.call(addr, calldata).context("calling the verifier")?;
    let verified = outcome.returned_true();
    let tampered_rejected = !evm
        .call(addr, tampered)
        .context("calling the verifier")?
        .returned_true();
    println!(
        "{}",
        serde_json::json!({
            "verified": verified,
            "gas_used": outcome.gas_used,
            "runtime_bytes": evm.code_size(addr),
            "calldata_bytes": calldata_bytes,
            "tampered_rejected": tampered_rejected,
        })
    );
    Ok(verified)
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
