#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zkml_fuzz_targets::zkey(data));
