//! Writes the benchmark `CheckRequest`, gRPC-framed, for `h2load -d FILE`.
//! `bench-request FILE`

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: bench-request FILE"))?;
    let bytes = gatehouse_bench::framed(&gatehouse_bench::check_request());
    std::fs::write(&path, &bytes)?;
    eprintln!("{path}: {} bytes", bytes.len());
    Ok(())
}
