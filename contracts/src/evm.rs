//! An in-process EVM (revm, mainnet rules at its latest hardfork) to deploy verifiers and
//! measure what a call costs.

use revm::bytecode::opcode::{self, OpCode};
use revm::context::result::{ExecutionResult, Output};
use revm::context::TxEnv;
use revm::database::{CacheDB, EmptyDB};
use revm::interpreter::interpreter::EthInterpreter;
use revm::interpreter::interpreter_types::Jumps;
use revm::interpreter::Interpreter;
pub use revm::primitives::Address;
use revm::primitives::{Bytes, TxKind, U256};
use revm::{Context, ExecuteCommitEvm, InspectCommitEvm, Inspector, MainBuilder, MainContext};

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
    /// Gas each transaction may use: [`GAS_LIMIT`] but when measuring.
    gas_limit: u64,
}

const CALLER: Address = Address::new([0x11; 20]);
/// The per-transaction gas cap of current mainnet rules (EIP-7825).
pub const GAS_LIMIT: u64 = 1 << 24;

/// Gas a transaction may use in [`Evm::beyond_the_cap`].
pub const MEASURING_GAS_LIMIT: u64 = 1 << 32;

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
            gas_limit: GAS_LIMIT,
        }
    }

    /// An empty chain whose transactions may use up to [`MEASURING_GAS_LIMIT`] gas and deploy
    /// contracts of any size: for measuring what a verification over one transaction's cap
    /// would take. Mainnet would refuse such a transaction.
    pub fn beyond_the_cap() -> Self {
        Self {
            no_code_limit: true,
            gas_limit: MEASURING_GAS_LIMIT,
            ..Self::new()
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
        self.transact_with(kind, data, None)
    }

    fn transact_with(
        &mut self,
        kind: TxKind,
        data: Vec<u8>,
        profile: Option<&mut GasProfile>,
    ) -> Result<ExecutionResult, EvmError> {
        let tx = TxEnv::builder()
            .caller(CALLER)
            .kind(kind)
            .data(Bytes::from(data))
            .gas_limit(self.gas_limit)
            .gas_price(0)
            .nonce(self.nonce)
            .build()
            .map_err(|e| EvmError::Transaction(format!("{e:?}")))?;
        let (no_code_limit, gas_limit) = (self.no_code_limit, self.gas_limit);
        let ctx = Context::mainnet()
            .with_db(&mut self.db)
            .modify_cfg_chained(|c| {
                c.disable_nonce_check = false;
                if no_code_limit {
                    c.limit_contract_code_size = Some(usize::MAX / 2);
                    c.limit_contract_initcode_size = Some(usize::MAX / 2);
                }
                if gas_limit > GAS_LIMIT {
                    c.tx_gas_limit_cap = Some(gas_limit);
                }
            });
        let result = match profile {
            None => ctx.build_mainnet().transact_commit(tx),
            Some(p) => {
                let mut evm = ctx.build_mainnet_with_inspector(Profiler::new(p));
                evm.inspect_tx_commit(tx)
            }
        }
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
        self.call_with(to, data, None)
    }

    /// [`Evm::call`], with the execution's gas counted per opcode and per precompile.
    pub fn call_profiled(
        &mut self,
        to: Address,
        data: Vec<u8>,
    ) -> Result<(CallOutcome, GasProfile), EvmError> {
        let mut profile = GasProfile::default();
        let out = self.call_with(to, data, Some(&mut profile))?;
        Ok((out, profile.sorted()))
    }

    fn call_with(
        &mut self,
        to: Address,
        data: Vec<u8>,
        profile: Option<&mut GasProfile>,
    ) -> Result<CallOutcome, EvmError> {
        let r = self.transact_with(TxKind::Call(to), data, profile)?;
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

/// Where a call's execution gas went: per opcode, with the precompiles called by `STATICCALL`
/// apart (their own cost and the call's). Gas outside execution (the 21,000 base, calldata)
/// is not in it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GasProfile {
    /// `(name, executions, gas)`.
    pub rows: Vec<(String, u64, u64)>,
}

impl GasProfile {
    /// Execution gas in all.
    pub fn total(&self) -> u64 {
        self.rows.iter().map(|r| r.2).sum()
    }

    /// The rows, most gas first.
    pub fn sorted(mut self) -> Self {
        self.rows
            .sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
        self
    }

    fn add(&mut self, name: String, gas: u64) {
        match self.rows.iter_mut().find(|r| r.0 == name) {
            Some(r) => {
                r.1 += 1;
                r.2 += gas;
            }
            None => self.rows.push((name, 1, gas)),
        }
    }
}

/// Counts each instruction's gas: the drop in gas across it, or for a call (whose frame runs
/// after the instruction) from it to the next instruction, which is what it forwarded less
/// what came back.
struct Profiler<'a> {
    profile: &'a mut GasProfile,
    /// The instruction under way: its name, the gas before it, whether it is a call.
    current: Option<(String, u64, bool)>,
}

impl<'a> Profiler<'a> {
    fn new(profile: &'a mut GasProfile) -> Self {
        Self {
            profile,
            current: None,
        }
    }
}

impl<CTX> Inspector<CTX, EthInterpreter> for Profiler<'_> {
    fn step(&mut self, interp: &mut Interpreter<EthInterpreter>, _: &mut CTX) {
        let remaining = interp.gas.remaining();
        if let Some((name, before, _)) = self.current.take() {
            self.profile.add(name, before.saturating_sub(remaining));
        }
        let op = interp.bytecode.opcode();
        let call = matches!(
            op,
            opcode::STATICCALL | opcode::CALL | opcode::DELEGATECALL | opcode::CALLCODE
        );
        let mut name =
            OpCode::new(op).map_or_else(|| format!("0x{op:02x}"), |o| o.as_str().to_string());
        if call {
            let to = interp.stack.peek(1).unwrap_or_default();
            if to < U256::from(0x100) {
                name = format!("{name} precompile {}", to.to::<u64>());
            }
        }
        self.current = Some((name, remaining, call));
    }

    fn step_end(&mut self, interp: &mut Interpreter<EthInterpreter>, _: &mut CTX) {
        if matches!(self.current, Some((_, _, false))) {
            let (name, before, _) = self.current.take().expect("matched");
            self.profile
                .add(name, before.saturating_sub(interp.gas.remaining()));
        }
    }
}
