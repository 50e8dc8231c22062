//! `decode_request`: see `sluice_fuzz::codec`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice_fuzz::codec::check_decode_request(data));
