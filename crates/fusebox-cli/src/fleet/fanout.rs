//! Asking every target of a fleet at once, within bounds.
//!
//! At most `parallel` targets are asked at a time (each request is one
//! connection, so that also caps the connections open), in the order of
//! the fleet, and the answers come back in that order whatever order they
//! arrive in, so a table is the same from one run to the next. Each target
//! has its own deadline, which starts when its request does: a target that
//! has not answered by then is a failure saying so, and holds up no other.
//! (The [`Client`](crate::client::Client) keeps the same deadline on each
//! request; this one also covers whatever the caller does with the answer.)
//!
//! Everything runs on the command's one thread: the work per target is a
//! request and a JSON parse, and waiting is all the threads would add.

use std::future::Future;

use futures_util::stream::{self, StreamExt};

use crate::fleet::targets::{Fleet, Target};
use crate::Failure;

/// `ask` of every target of `fleet`, at most `fleet.parallel` at a time,
/// each within `fleet.timeout`: one result per target, in the fleet's
/// order, a failure as its message.
pub(crate) async fn each<'a, T, F, Fut>(fleet: &'a Fleet, ask: F) -> Vec<Result<T, String>>
where
    F: Fn(&'a Target) -> Fut,
    Fut: Future<Output = Result<T, Failure>> + 'a,
{
    let timeout = fleet.timeout;
    stream::iter(fleet.targets.iter().map(|target| {
        let asked = ask(target);
        async move {
            match tokio::time::timeout(timeout, asked).await {
                Ok(Ok(answer)) => Ok(answer),
                Ok(Err(Failure(what))) => Err(what),
                Err(_) => Err(format!(
                    "{}: no answer within {}",
                    target.client.base(),
                    fusebox::duration::human(timeout)
                )),
            }
        }
    }))
    .buffered(fleet.parallel.max(1))
    .collect()
    .await
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;
    use std::time::Duration;

    use super::*;
    use crate::client::Client;

    fn fleet(n: usize, parallel: usize, timeout: Duration) -> Fleet {
        let targets = (0..n)
            .map(|i| Target {
                label: format!("h{i}:1"),
                client: Client::new(&format!("http://h{i}:1"), crate::limit::DEFAULT_MAX_BODY)
                    .unwrap(),
            })
            .collect();
        Fleet {
            targets,
            parallel,
            timeout,
        }
    }

    /// Answers come back in the fleet's order though the later targets
    /// answer first; no more than `parallel` run at once; a target past its
    /// deadline fails alone. On tokio's paused clock: no real waiting.
    #[tokio::test(start_paused = true)]
    async fn order_kept_parallelism_capped_deadline_per_target() {
        let f = fleet(5, 2, Duration::from_secs(2));
        let running = Rc::new(Cell::new(0usize));
        let most = Rc::new(Cell::new(0usize));
        let started = tokio::time::Instant::now();
        let got = each(&f, |t| {
            let (running, most) = (running.clone(), most.clone());
            async move {
                running.set(running.get() + 1);
                most.set(most.get().max(running.get()));
                let i: u64 = t.label[1..2].parse().unwrap();
                // h0 takes 1.4 s, h1 1.2 s, ... h4 never answers in time.
                let wait = if i == 4 { 60_000 } else { 1_400 - 200 * i };
                tokio::time::sleep(Duration::from_millis(wait)).await;
                running.set(running.get() - 1);
                if i == 3 {
                    return Err(Failure("refused".to_owned()));
                }
                Ok(i)
            }
        })
        .await;
        assert_eq!(got[..3], [Ok(0), Ok(1), Ok(2)]);
        assert_eq!(got[3], Err("refused".to_owned()));
        assert_eq!(got[4], Err("http://h4:1: no answer within 2s".to_owned()));
        assert_eq!(most.get(), 2, "at most `parallel` at once");
        // h0 and h1 first (done at 1.4 s; an answer waiting for its turn
        // still holds its place), then h2 and h3 (done at 2.4 s), then h4
        // until its own deadline, 2 s after it started: 4.4 s, not 60.
        let took = started.elapsed();
        assert!((4_300..=4_500).contains(&took.as_millis()), "{took:?}");
    }
}
