//! The full demo with its defaults: two 30 s runs, the dashboard on a free
//! port, the report in `target/fusebox-demo/report.html`. An optional
//! argument sets the total duration in seconds (`-- 8` for a quick look).
//!
//! ```sh
//! cargo run --release -p fusebox-demo --example demo
//! ```

use std::time::Duration;

use fusebox_demo::DemoOptions;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut opts = DemoOptions::default();
    if let Some(secs) = std::env::args().nth(1).and_then(|a| a.parse::<f64>().ok()) {
        opts.duration = Duration::from_secs_f64(secs.max(1.0));
    }
    let report = fusebox_demo::run(opts).await?;
    println!();
    println!("{}", report.table());
    Ok(())
}
