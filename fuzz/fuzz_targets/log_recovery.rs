//! `log_recovery`: see `sluice_fuzz::recovery`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice_fuzz::recovery::check_log_recovery(data));
