use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::*;

const DRAIN: Duration = Duration::from_secs(10);

fn counts(cut_short: usize, stuck: usize) -> Ended {
    Ended { cut_short, stuck }
}

/// A request that runs for `work`, unless cancelled first; tells which.
fn request(scope: &LinkScope, work: Duration) -> oneshot::Receiver<&'static str> {
    let (tx, rx) = oneshot::channel();
    scope.spawn_request(move |req| async move {
        let how = tokio::select! {
            () = tokio::time::sleep(work) => "finished",
            () = req.cancelled() => "cancelled",
        };
        let _ = tx.send(how);
    });
    rx
}

#[tokio::test(start_paused = true)]
async fn a_drain_lets_requests_finish_within_the_grace() {
    let shutdown = CancellationToken::new();
    let link = LinkScope::new(&shutdown);
    let short = request(&link, Duration::from_secs(3));
    let started = Instant::now();
    let ended = link.end(Some(DRAIN), DRAIN).await;
    assert_eq!(ended, counts(0, 0));
    assert_eq!(short.await, Ok("finished"));
    assert_eq!(started.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn a_drain_cancels_what_is_still_open_when_the_grace_is_over() {
    let shutdown = CancellationToken::new();
    let link = LinkScope::new(&shutdown);
    let short = request(&link, Duration::from_secs(1));
    let long = request(&link, Duration::from_secs(60));
    let started = Instant::now();
    let ended = link.end(Some(DRAIN), DRAIN).await;
    assert_eq!(ended, counts(1, 0));
    assert_eq!(short.await, Ok("finished"));
    assert_eq!(long.await, Ok("cancelled"));
    assert_eq!(started.elapsed(), DRAIN);
}

#[tokio::test(start_paused = true)]
async fn ending_without_grace_cancels_at_once() {
    let link = LinkScope::new(&CancellationToken::new());
    let long = request(&link, Duration::from_secs(60));
    let started = Instant::now();
    let ended = link.end(None, DRAIN).await;
    assert_eq!(ended.cut_short, 1);
    assert_eq!(long.await, Ok("cancelled"));
    assert_eq!(started.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn a_request_that_ignores_cancel_is_reported_stuck_after_the_bound() {
    let link = LinkScope::new(&CancellationToken::new());
    link.spawn_request(|_req| tokio::time::sleep(Duration::from_secs(600)));
    let started = Instant::now();
    let ended = link.end(Some(DRAIN), DRAIN).await;
    assert_eq!(ended, counts(1, 1));
    assert_eq!(started.elapsed(), DRAIN * 2);
}

#[tokio::test(start_paused = true)]
async fn shutdown_cancels_every_link_and_its_requests() {
    let shutdown = CancellationToken::new();
    let a = LinkScope::new(&shutdown);
    let b = LinkScope::new(&shutdown);
    let on_a = request(&a, Duration::from_secs(60));
    let on_b = request(&b, Duration::from_secs(60));
    shutdown.cancel();
    assert_eq!(on_a.await, Ok("cancelled"));
    assert_eq!(on_b.await, Ok("cancelled"));
    a.cancelled().await;
    b.cancelled().await;
}

#[tokio::test(start_paused = true)]
async fn a_finished_request_cancels_its_own_work_but_not_the_link() {
    let link = LinkScope::new(&CancellationToken::new());
    let (token_tx, token_rx) = oneshot::channel();
    let (done_tx, done_rx) = oneshot::channel::<()>();
    link.spawn_request(move |req| async move {
        // Work a bridge started for this request, e.g. an upstream call.
        let _ = token_tx.send(req.token().clone());
        let _ = done_rx.await;
    });
    let work = token_rx.await.expect("request started");
    assert!(!work.is_cancelled());
    let _ = done_tx.send(());
    work.cancelled().await;
    // The link and a later request are untouched.
    let later = request(&link, Duration::from_secs(1));
    assert_eq!(later.await, Ok("finished"));
}

#[tokio::test(start_paused = true)]
async fn ending_one_link_leaves_the_others() {
    let shutdown = CancellationToken::new();
    let a = LinkScope::new(&shutdown);
    let b = LinkScope::new(&shutdown);
    let on_b = request(&b, Duration::from_secs(5));
    let seen = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&seen);
    a.spawn_request(move |req| async move {
        req.cancelled().await;
        flag.store(true, Ordering::SeqCst);
    });
    a.end(None, DRAIN).await;
    assert!(seen.load(Ordering::SeqCst));
    assert_eq!(on_b.await, Ok("finished"));
    assert!(!shutdown.is_cancelled());
}
