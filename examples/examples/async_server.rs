//! An async TCP server that farms CPU-bound requests to a process `Pool`
//! and streams the results back (the `async` feature; issue 15).
//!
//! Each client sends a number `n` on a line; the server splits "count the
//! primes below `n`" into ten ranges, hands them to the pool with `imap`,
//! and writes each partial count back as it arrives (`next_async`: no
//! thread waits for a worker), then the total. The server, its
//! connections and three clients are tasks on one thread (`smol`); the
//! counting runs in two worker processes. The same code runs under tokio:
//! the futures of `multiprocess` need no particular runtime.

use std::error::Error;
use std::net::SocketAddr;
use std::sync::Arc;

use multiprocess::Pool;
use smol::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use smol::net::{TcpListener, TcpStream};
use smol::stream::StreamExt;

/// How many pieces one request is cut into.
const PIECES: u64 = 10;

fn is_prime(n: u64) -> bool {
    n >= 2
        && (2..)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

/// Runs in a worker process: the primes in `lo..hi`.
fn primes_in((lo, hi): (u64, u64)) -> u64 {
    (lo..hi).filter(|&n| is_prime(n)).count() as u64
}

/// Answers one connection's requests, streaming partial counts.
async fn handle(stream: TcpStream, pool: Arc<Pool>) -> Result<(), Box<dyn Error>> {
    let mut lines = BufReader::new(stream.clone()).lines();
    let mut out = stream;
    while let Some(line) = lines.next().await {
        let n: u64 = line?.trim().parse()?;
        let step = n.div_ceil(PIECES).max(1);
        let ranges: Vec<(u64, u64)> = (0..n)
            .step_by(step as usize)
            .map(|lo| (lo, (lo + step).min(n)))
            .collect();
        let mut results = pool.imap(primes_in, ranges)?;
        let mut total = 0;
        while let Some(count) = results.next_async().await {
            total += count?;
            out.write_all(format!("partial {total}\n").as_bytes())
                .await?;
        }
        out.write_all(format!("done {total}\n").as_bytes()).await?;
    }
    Ok(())
}

/// Accepts connections for ever, one task each.
async fn serve(listener: TcpListener, pool: Arc<Pool>) {
    while let Ok((stream, _)) = listener.accept().await {
        let pool = Arc::clone(&pool);
        smol::spawn(async move {
            if let Err(e) = handle(stream, pool).await {
                eprintln!("connection failed: {e}");
            }
        })
        .detach();
    }
}

/// Asks for the primes below `n`; returns (partial answers seen, total).
async fn client(address: SocketAddr, n: u64) -> Result<(usize, u64), Box<dyn Error + Send + Sync>> {
    let mut stream = TcpStream::connect(address).await?;
    stream.write_all(format!("{n}\n").as_bytes()).await?;
    let mut lines = BufReader::new(stream).lines();
    let mut partials = 0;
    while let Some(line) = lines.next().await {
        let line = line?;
        if let Some(total) = line.strip_prefix("done ") {
            return Ok((partials, total.parse()?));
        }
        partials += 1;
    }
    Err("the server hung up".into())
}

fn main() -> Result<(), Box<dyn Error>> {
    let pool = Arc::new(Pool::with_processes(2)?);
    smol::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let server = smol::spawn(serve(listener, Arc::clone(&pool)));
        let requests = [10_000u64, 100_000, 300_000];
        let clients: Vec<_> = requests
            .iter()
            .map(|&n| smol::spawn(client(address, n)))
            .collect();
        for (n, c) in requests.iter().zip(clients) {
            let (partials, total) = c.await.map_err(|e| e.to_string())?;
            println!("primes below {n}: {total} ({partials} partial results streamed)");
        }
        drop(server);
        Ok::<(), Box<dyn Error>>(())
    })
}
