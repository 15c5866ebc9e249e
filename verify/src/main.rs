//! `gatehouse-verify`: placeholder until the verify issue lands. It already
//! reports the interface versions this host loads, so CI logs record them.

fn main() {
    println!(
        "gatehouse-verify {} (plugin interfaces: {})",
        env!("CARGO_PKG_VERSION"),
        gatehouse::loader::SUPPORTED_INTERFACES.join(", ")
    );
}
