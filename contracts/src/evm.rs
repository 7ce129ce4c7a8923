//! An in-process EVM (revm, mainnet rules at its latest hardfork) to deploy verifiers and
//! measure what a call costs.

use revm::context::result::{ExecutionResult, Output};
use revm::context::TxEnv;
use revm::database::{CacheDB, EmptyDB};
pub use revm::primitives::Address;
use revm::primitives::{Bytes, TxKind, U256};
use revm::{Context, ExecuteCommitEvm, MainBuilder, MainContext};

/// Why a transaction did not run.
#[derive(Debug, thiserror::Error)]
pub enum EvmError {
    /// Deployment failed.
    #[error("deployment failed: {0}")]
    Deploy(String),
    /// The EVM rejected the transaction itself.
    #[error("transaction rejected: {0}")]
    Transaction(String),
}

/// What a call did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallOutcome {
    /// The call returned (true) or reverted / halted (false).
    pub success: bool,
    /// Returned data.
    pub output: Vec<u8>,
    /// Gas used by the whole transaction (21,000 base and calldata included).
    pub gas_used: u64,
}

impl CallOutcome {
    /// The call returned the ABI encoding of `true`.
    pub fn returned_true(&self) -> bool {
        self.success
            && self.output.len() == 32
            && self.output[..31] == [0u8; 31]
            && self.output[31] == 1
    }
}

/// A fresh chain with one funded account.
pub struct Evm {
    db: CacheDB<EmptyDB>,
    nonce: u64,
    /// Contracts of any size may be deployed (measurements only).
    no_code_limit: bool,
}

const CALLER: Address = Address::new([0x11; 20]);
/// The per-transaction gas cap of current mainnet rules (EIP-7825).
pub const GAS_LIMIT: u64 = 1 << 24;

impl Default for Evm {
    fn default() -> Self {
        Self::new()
    }
}

impl Evm {
    /// An empty chain.
    pub fn new() -> Self {
        let mut db = CacheDB::new(EmptyDB::default());
        db.insert_account_info(
            CALLER,
            revm::state::AccountInfo {
                balance: U256::from(10u128.pow(24)),
                ..Default::default()
            },
        );
        Self {
            db,
            nonce: 0,
            no_code_limit: false,
        }
    }

    /// An empty chain that deploys contracts of any size: for measuring the gas of contracts
    /// over the code size limits of EIP-170 and EIP-3860, which mainnet would refuse.
    pub fn without_code_limit() -> Self {
        Self {
            no_code_limit: true,
            ..Self::new()
        }
    }

    fn transact(&mut self, kind: TxKind, data: Vec<u8>) -> Result<ExecutionResult, EvmError> {
        let tx = TxEnv::builder()
            .caller(CALLER)
            .kind(kind)
            .data(Bytes::from(data))
            .gas_limit(GAS_LIMIT)
            .gas_price(0)
            .nonce(self.nonce)
            .build()
            .map_err(|e| EvmError::Transaction(format!("{e:?}")))?;
        let no_code_limit = self.no_code_limit;
        let mut evm = Context::mainnet()
            .with_db(&mut self.db)
            .modify_cfg_chained(|c| {
                c.disable_nonce_check = false;
                if no_code_limit {
                    c.limit_contract_code_size = Some(usize::MAX / 2);
                    c.limit_contract_initcode_size = Some(usize::MAX / 2);
                }
            })
            .build_mainnet();
        let result = evm
            .transact_commit(tx)
            .map_err(|e| EvmError::Transaction(format!("{e:?}")))?;
        self.nonce += 1;
        Ok(result)
    }

    /// Deploys creation bytecode; returns the contract address.
    pub fn deploy(&mut self, bytecode: &[u8]) -> Result<Address, EvmError> {
        match self.transact(TxKind::Create, bytecode.to_vec())? {
            ExecutionResult::Success {
                output: Output::Create(_, Some(addr)),
                ..
            } => Ok(addr),
            other => Err(EvmError::Deploy(format!("{other:?}"))),
        }
    }

    /// Deploys a built verifier in the documented order: the key contracts, then the verifier
    /// bound to them. Returns the verifier's address.
    pub fn deploy_verifier(
        &mut self,
        artifacts: &crate::VerifierArtifacts,
    ) -> Result<Address, EvmError> {
        let creations: Vec<&[u8]> = artifacts
            .key_parts
            .iter()
            .map(|p| p.creation.as_slice())
            .collect();
        self.deploy_with_keys(&artifacts.compiled.bytecode, &creations)
    }

    /// Deploys key contracts from their creation codes, then the verifier `bytecode` with
    /// their addresses as constructor arguments. Returns the verifier's address.
    pub fn deploy_with_keys(
        &mut self,
        bytecode: &[u8],
        key_creations: &[&[u8]],
    ) -> Result<Address, EvmError> {
        let mut keys = Vec::with_capacity(key_creations.len());
        for code in key_creations {
            keys.push(self.deploy(code)?.into_array());
        }
        self.deploy(&crate::verifier_creation(bytecode, &keys))
    }

    /// Deploys a chain verifier: every segment's verifier (with its key contracts), then the
    /// chain contract bound to them. Returns the chain contract's address.
    pub fn deploy_chain(
        &mut self,
        artifacts: &crate::chain::ChainArtifacts,
    ) -> Result<Address, EvmError> {
        let mut segments = Vec::with_capacity(artifacts.segments.len());
        for s in &artifacts.segments {
            segments.push(self.deploy_verifier(s)?.into_array());
        }
        let mut data = Vec::with_capacity(artifacts.data_parts.len());
        for part in &artifacts.data_parts {
            data.push(self.deploy(&part.creation)?.into_array());
        }
        self.deploy(&artifacts.chain_creation(&segments, &data))
    }

    /// Calls `to` with `data` in a transaction.
    pub fn call(&mut self, to: Address, data: Vec<u8>) -> Result<CallOutcome, EvmError> {
        let r = self.transact(TxKind::Call(to), data)?;
        let gas_used = r.tx_gas_used();
        Ok(match r {
            ExecutionResult::Success { output, .. } => CallOutcome {
                success: true,
                output: output.into_data().to_vec(),
                gas_used,
            },
            ExecutionResult::Revert { output, .. } => CallOutcome {
                success: false,
                output: output.to_vec(),
                gas_used,
            },
            ExecutionResult::Halt { .. } => CallOutcome {
                success: false,
                output: Vec::new(),
                gas_used,
            },
        })
    }

    /// The runtime code at `addr`.
    pub fn code_size(&mut self, addr: Address) -> usize {
        self.db
            .cache
            .accounts
            .get(&addr)
            .and_then(|a| a.info.code.as_ref())
            .map_or(0, |c| c.original_bytes().len())
    }
}
