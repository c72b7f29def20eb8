//! Fuzz target `inspect`: byte 0 picks the declared format, byte 1 the chunk size, the
//! rest is fed to an `Inspector`. The body is `imagefleet_inspector::fuzz_one`, which
//! also asserts the memory bound and that chunking does not change the verdict.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    imagefleet_inspector::fuzz_one(data);
});
