//! Serves the seed's five listeners (full, baseline, validation, logger, tracing) on 127.0.0.1
//! at 8080 + offset … 8084 + offset until killed, for trying `ibench load` before `ibench serve`.
//!
//! ```text
//! cargo run --release --example serve_seed -- 1000   # ports 9080..9084
//! ```

use interceptor_bench::connect::ConnectService;
use interceptor_bench::greeter::Greeter;
use interceptor_bench::server::serve;
use interceptor_bench::stack::{Interceptors, seed_stacks};

fn main() -> std::io::Result<()> {
    let offset: u16 = std::env::args().nth(1).map_or(Ok(0), |arg| arg.parse()).map_err(std::io::Error::other)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let interceptors = Interceptors::default();
        let mut servers = tokio::task::JoinSet::new();
        for (index, stack) in seed_stacks().into_iter().enumerate() {
            let port = 8080 + offset + index as u16;
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
            let service = ConnectService::greeter(stack.service(&interceptors, Greeter::new()));
            println!("{} on http://127.0.0.1:{port}", stack.name());
            servers.spawn(serve(listener, service, std::future::pending()));
        }
        while let Some(result) = servers.join_next().await {
            result.map_err(std::io::Error::other)??;
        }
        Ok(())
    })
}
