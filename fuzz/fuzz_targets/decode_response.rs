//! `decode_response`: see `sluice_fuzz::codec`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sluice_fuzz::codec::check_decode_response(data));
