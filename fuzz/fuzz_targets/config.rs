//! A training config: any text gives a validated config or an error naming the key; a config
//! that parses can be sized against memory without overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(config) = trainer::config::TrainConfig::parse(std::path::Path::new("fuzz.toml"), text)
    {
        let _ = trainer::memory::check(&config, Some(1 << 30));
    }
});
