fn main() { let d = burn::tensor::Device::default(); println!("{d:?}"); }
