//! Opens N live-event WebSockets to a running gateway's dashboard and reads everything pushed,
//! as N open dashboards would, until killed. Used by `bench/dashboard.sh`.
//!
//! `cargo run --release --features ssr --example live_clients -- ws://127.0.0.1:3985/api/live 20`

use futures_util::StreamExt;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("usage: live_clients <ws url> <count>");
    let count: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(20);
    let mut tasks = Vec::with_capacity(count);
    for _ in 0..count {
        let (socket, _) = tokio_tungstenite::connect_async(url.as_str())
            .await
            .expect("cannot connect");
        tasks.push(tokio::spawn(async move {
            let (_, mut read) = socket.split();
            let mut messages = 0u64;
            while let Some(Ok(_)) = read.next().await {
                messages += 1;
            }
            messages
        }));
    }
    println!("{count} live clients connected");
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap_or(0);
    }
    println!("{total} messages received");
}
