//! Offline compilation with the pinned solc (`contracts/package.json`), run by Node.js.
//!
//! The compiler is found in `$ZKML_SOLC_DIR` (a directory holding `compile.js` and
//! `node_modules/solc`), else in this crate's directory. Node.js is `$ZKML_NODE`, else `node`
//! on the `PATH`. Nothing is downloaded.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The pinned compiler version.
pub const SOLC_VERSION: &str = "0.8.28";

/// A compiled contract.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// Creation bytecode.
    pub bytecode: Vec<u8>,
    /// Runtime (deployed) bytecode.
    pub runtime: Vec<u8>,
    /// The ABI, as solc reports it.
    pub abi: serde_json::Value,
}

/// Why compilation failed.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The compiler is not installed.
    #[error(
        "the Solidity compiler is not installed at {0} (run `npm ci --prefix contracts` from the repository root, or set ZKML_SOLC_DIR)"
    )]
    NotInstalled(PathBuf),
    /// Node.js could not be run.
    #[error("cannot run Node.js ({node}): {source}")]
    Node {
        /// The command tried.
        node: String,
        /// The error.
        source: std::io::Error,
    },
    /// solc reported errors.
    #[error("solc failed: {0}")]
    Solc(String),
    /// The output was not what solc writes.
    #[error("unexpected solc output: {0}")]
    Output(String),
}

/// The directory holding `compile.js` and the installed compiler.
pub fn solc_dir() -> PathBuf {
    std::env::var_os("ZKML_SOLC_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// Compiles `source` (optimizer on, 200 runs, EVM version cancun) and returns contract
/// `name`.
pub fn compile(source: &str, name: &str) -> Result<Compiled, CompileError> {
    compile_with(source, name, true)
}

/// Compiles `source` (EVM version cancun) with the optimizer on (200 runs) or off, and
/// returns contract `name`. Generated contracts written in assembly gain nothing from the
/// optimizer, and the largest of them exhaust its memory.
pub fn compile_with(source: &str, name: &str, optimize: bool) -> Result<Compiled, CompileError> {
    let dir = solc_dir();
    if !dir.join("node_modules/solc/soljson.js").exists() || !dir.join("compile.js").exists() {
        return Err(CompileError::NotInstalled(dir));
    }
    let input = serde_json::json!({
        "language": "Solidity",
        "sources": {"Verifier.sol": {"content": source}},
        "settings": {
            "optimizer": {"enabled": optimize, "runs": 200},
            "evmVersion": "cancun",
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}}
        }
    });
    let node = std::env::var("ZKML_NODE").unwrap_or_else(|_| "node".into());
    let mut child = Command::new(&node)
        .arg("compile.js")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| CompileError::Node {
            node: node.clone(),
            source,
        })?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(input.to_string().as_bytes())
        .map_err(|source| CompileError::Node {
            node: node.clone(),
            source,
        })?;
    let out = child
        .wait_with_output()
        .map_err(|source| CompileError::Node { node, source })?;
    if !out.status.success() {
        return Err(CompileError::Solc(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| CompileError::Output(e.to_string()))?;
    if let Some(errors) = v["errors"].as_array() {
        let fatal: Vec<String> = errors
            .iter()
            .filter(|e| e["severity"] == "error")
            .map(|e| e["formattedMessage"].as_str().unwrap_or("?").to_string())
            .collect();
        if !fatal.is_empty() {
            return Err(CompileError::Solc(fatal.join("\n")));
        }
    }
    let c = &v["contracts"]["Verifier.sol"][name];
    let code = |key: &str| -> Result<Vec<u8>, CompileError> {
        let s = c["evm"][key]["object"]
            .as_str()
            .ok_or_else(|| CompileError::Output(format!("no {key} for {name}")))?;
        hex::decode(s).map_err(|e| CompileError::Output(e.to_string()))
    };
    Ok(Compiled {
        bytecode: code("bytecode")?,
        runtime: code("deployedBytecode")?,
        abi: c["abi"].clone(),
    })
}
