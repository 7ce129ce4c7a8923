//! One module per subcommand.

pub mod compile;
pub mod evm;
pub mod gen_srs;
pub mod inspect;
pub mod prove;
pub mod run;
pub mod setup;
pub mod verify;
