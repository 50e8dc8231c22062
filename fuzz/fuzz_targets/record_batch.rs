//! `record_batch`: see `sluice_fuzz::batch`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice_fuzz::batch::check_record_batch(data));
