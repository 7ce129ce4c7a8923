//! A call over one transaction's gas cap (EIP-7825) fails in the default EVM and completes in
//! the measuring one, which reports what it took.

use zkml_contracts::evm::{Evm, GAS_LIMIT};

/// Creation code of a contract that counts down from 1,000,000 (26 gas a step: 26 million in
/// all), then stops.
fn countdown() -> Vec<u8> {
    let runtime = [
        0x62, 0x0f, 0x42, 0x40, // PUSH3 1000000
        0x5b, // loop: JUMPDEST
        0x60, 0x01, 0x90, 0x03, // PUSH1 1, SWAP1, SUB
        0x80, 0x60, 0x04, 0x57, // DUP1, PUSH1 loop, JUMPI
        0x00, // STOP
    ];
    let n = runtime.len() as u8;
    // CODECOPY(0, 12, n), RETURN(0, n)
    let mut code = vec![
        0x60, n, 0x60, 12, 0x60, 0x00, 0x39, 0x60, n, 0x60, 0x00, 0xf3,
    ];
    assert_eq!(code.len(), 12);
    code.extend(runtime);
    code
}

#[test]
fn a_call_over_the_cap_is_measured_beyond_it() {
    let mut capped = Evm::new();
    let at = capped.deploy(&countdown()).unwrap();
    let stopped = capped.call(at, vec![]).unwrap();
    assert!(!stopped.success, "{stopped:?}");
    assert_eq!(stopped.gas_used, GAS_LIMIT);

    let mut measuring = Evm::beyond_the_cap();
    let at = measuring.deploy(&countdown()).unwrap();
    let done = measuring.call(at, vec![]).unwrap();
    assert!(done.success, "{done:?}");
    // 26 gas a step, the base and the setup.
    assert!(
        (26_000_000..26_100_000).contains(&done.gas_used),
        "{}",
        done.gas_used
    );
}
