//! The proxy's worker threads: one per core, each running a single-threaded Tokio runtime that
//! serves the client connections handed to it from the first byte to the last, with its own
//! share of every target's idle upstream connections ([`current_slot`]). A request never changes
//! threads, so no thread has to wake another to finish it (with a work-stealing runtime, each
//! request woke the idle worker to look for work). The accept loop hands each new connection to
//! the worker serving the fewest.
//!
//! A worker whose thread or runtime cannot be created serves on the caller's runtime instead.
//! A worker whose serving panics (outside a connection's own task, whose panic Tokio contains)
//! loses the connections it was serving, is counted in [`restarts`], and serves its queue again
//! on a new runtime: the accept loop never hands connections to a worker that is gone.

use std::cell::Cell;
use std::future::Future;
use std::num::NonZeroUsize;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use tokio::sync::{Mutex, OwnedMutexGuard, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Connections waiting to be picked up by one worker; the accept loop waits when it is full.
const HANDOVER_QUEUE: usize = 256;

thread_local! {
    /// 0 outside the workers, `n + 1` on worker `n`.
    static SLOT: Cell<usize> = const { Cell::new(0) };
    /// Set on a worker's thread while it drops what it still served when it was cut.
    static CUTTING: Cell<bool> = const { Cell::new(false) };
}

static WORKERS: LazyLock<usize> =
    LazyLock::new(|| std::thread::available_parallelism().map_or(1, NonZeroUsize::get));

/// Worker restarts after a panic, since start, over all proxies in the process.
static RESTARTS: AtomicU64 = AtomicU64::new(0);

/// How many times a worker's serving panicked and was started again, since start.
pub fn restarts() -> u64 {
    RESTARTS.load(Ordering::Relaxed)
}

/// The process's exit status when a worker cannot be started again after a panic.
pub const EXIT_WORKER_LOST: i32 = 70;

/// A worker's end of its hand-over queue. The queue outlives a panic of the worker's serving:
/// the worker's next runtime takes over the same queue.
pub struct Handover<T>(OwnedMutexGuard<mpsc::Receiver<T>>);

impl<T> Handover<T> {
    /// The next item handed over; `None` once the queue is closed.
    pub async fn recv(&mut self) -> Option<T> {
        self.0.recv().await
    }
}

/// How many worker threads a proxy runs: one per core.
pub fn worker_count() -> usize {
    *WORKERS
}

/// How many per-thread shares ([`current_slot`] values) there are: one per worker, plus one for
/// every other thread.
pub fn slot_count() -> usize {
    worker_count() + 1
}

/// The current thread's share: `1..=worker_count()` on a worker, 0 anywhere else.
pub fn current_slot() -> usize {
    SLOT.with(Cell::get)
}

/// Whether the current thread is a worker dropping the connections it served because it was cut
/// (the end of a shutdown's drain period): a request ending now was cut by the gateway, not
/// abandoned by its client.
pub fn cutting() -> bool {
    CUTTING.with(Cell::get)
}

/// Running workers, each serving what it is handed with the same function. Dropping them cuts
/// whatever they still serve.
pub struct Workers<T> {
    workers: Vec<Worker<T>>,
    cut: CancellationToken,
}

struct Worker<T> {
    handover: mpsc::Sender<T>,
    /// Items handed over and not yet finished (see [`Load`]).
    load: Arc<AtomicUsize>,
    finished: oneshot::Receiver<()>,
}

/// Counts an item against its worker's load until dropped.
pub struct Load(Arc<AtomicUsize>);

impl Drop for Load {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<T: Send + 'static> Workers<T> {
    /// Starts [`worker_count`] workers, each running `serve` on the items handed to it until the
    /// hand-over channel closes and `serve` returns.
    pub fn start<F, Fut>(serve: F) -> Self
    where
        F: Fn(Handover<T>) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self::start_n(worker_count(), serve)
    }

    /// [`Workers::start`] with `count` workers.
    fn start_n<F, Fut>(count: usize, serve: F) -> Self
    where
        F: Fn(Handover<T>) -> Fut + Clone + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let cut = CancellationToken::new();
        let workers = (0..count)
            .map(|index| {
                Worker::on_thread(index, serve.clone(), cut.clone()).unwrap_or_else(|error| {
                    tracing::error!(%error, index, "cannot start a proxy worker thread; it serves on the main runtime");
                    Worker::on_current_runtime(serve.clone(), cut.clone())
                })
            })
            .collect();
        Self { workers, cut }
    }

    /// Hands `item` to the least loaded worker, waiting while its queue is full. `item` gets the
    /// [`Load`] it must hold until finished. Gives the item back if that worker has stopped.
    pub async fn hand_over(&self, item: impl FnOnce(Load) -> T) -> Result<(), T> {
        let worker = self
            .workers
            .iter()
            .min_by_key(|worker| worker.load.load(Ordering::Relaxed))
            .expect("at least one worker");
        worker.load.fetch_add(1, Ordering::Relaxed);
        let item = item(Load(worker.load.clone()));
        worker.handover.send(item).await.map_err(|closed| closed.0)
    }

    /// Closes the hand-over channels and waits until every worker has finished serving.
    pub async fn finish(self) {
        self.finish_or_cut(std::future::pending()).await;
    }

    /// [`Self::finish`], but once `cut` resolves, cuts whatever the workers still serve and
    /// waits until they have dropped it (so a request cut is reported before this returns).
    pub async fn finish_or_cut(mut self, cut: impl Future<Output = ()>) {
        let finished = std::mem::take(&mut self.workers)
            .into_iter()
            .map(|worker| {
                drop(worker.handover);
                worker.finished
            })
            .collect::<Vec<_>>();
        let all = futures_util::future::join_all(finished);
        tokio::pin!(all);
        tokio::select! {
            _ = &mut all => return,
            () = cut => {}
        }
        self.cut.cancel();
        all.await;
    }
}

impl<T> Drop for Workers<T> {
    fn drop(&mut self) {
        self.cut.cancel();
    }
}

impl<T: Send + 'static> Worker<T> {
    /// A worker on a thread of its own, with its own runtime.
    fn on_thread<F, Fut>(index: usize, serve: F, cut: CancellationToken) -> std::io::Result<Self>
    where
        F: Fn(Handover<T>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let (handover, incoming) = mpsc::channel(HANDOVER_QUEUE);
        let incoming = Arc::new(Mutex::new(incoming));
        let (finish, finished) = oneshot::channel();
        let mut runtime = Some(new_runtime()?);
        std::thread::Builder::new()
            .name(format!("proxy-worker-{index}"))
            .spawn(move || {
                SLOT.set(index + 1);
                loop {
                    let runtime = match runtime.take().map_or_else(new_runtime, Ok) {
                        Ok(runtime) => runtime,
                        Err(error) => {
                            tracing::error!(%error, index, "a proxy worker cannot start again; the gateway exits");
                            std::process::exit(EXIT_WORKER_LOST);
                        }
                    };
                    let incoming = incoming.clone();
                    let serving = async {
                        serve(Handover(incoming.lock_owned().await)).await;
                    };
                    let served = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        runtime.block_on(serve_until_cut(serving, cut.clone()));
                    }));
                    // Cut, finished or panicked, nothing this worker serves outlives its runtime.
                    CUTTING.set(cut.is_cancelled());
                    drop(runtime);
                    if served.is_ok() {
                        break;
                    }
                    RESTARTS.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(
                        index,
                        "a proxy worker panicked: its connections were cut; it serves again"
                    );
                }
                let _ = finish.send(());
            })?;
        Ok(Self {
            handover,
            load: Arc::default(),
            finished,
        })
    }

    /// A worker that is a task on the caller's runtime.
    fn on_current_runtime<F, Fut>(serve: F, cut: CancellationToken) -> Self
    where
        F: FnOnce(Handover<T>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (handover, incoming) = mpsc::channel(HANDOVER_QUEUE);
        let (finish, finished) = oneshot::channel();
        tokio::spawn(async move {
            let incoming = Arc::new(Mutex::new(incoming)).lock_owned().await;
            serve_until_cut(serve(Handover(incoming)), cut).await;
            let _ = finish.send(());
        });
        Self {
            handover,
            load: Arc::default(),
            finished,
        }
    }
}

fn new_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

async fn serve_until_cut(serving: impl Future<Output = ()>, cut: CancellationToken) {
    tokio::select! {
        () = serving => {}
        () = cut.cancelled() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Mutex;

    /// Each item is a reply channel; the worker answers with its slot and keeps the load.
    type Item = (Load, oneshot::Sender<usize>);

    fn start_recording_workers(kept: Arc<Mutex<Vec<Load>>>) -> Workers<Item> {
        Workers::start(move |mut incoming: Handover<Item>| {
            let kept = kept.clone();
            async move {
                while let Some((load, reply)) = incoming.recv().await {
                    kept.lock().unwrap().push(load);
                    let _ = reply.send(current_slot());
                }
            }
        })
    }

    #[tokio::test]
    async fn items_go_to_the_least_loaded_worker_on_threads_of_their_own() {
        let kept = Arc::new(Mutex::new(Vec::new()));
        let workers = start_recording_workers(kept.clone());
        let mut slots = Vec::new();
        for _ in 0..worker_count() * 3 {
            let (reply, answer) = oneshot::channel();
            assert!(workers.hand_over(|load| (load, reply)).await.is_ok());
            slots.push(answer.await.unwrap());
        }
        assert_eq!(current_slot(), 0, "the test's own thread is no worker");
        // Every item is still held, so each round fills the least loaded worker: all of them
        // take the same number.
        for slot in 1..=worker_count() {
            assert_eq!(slots.iter().filter(|&&s| s == slot).count(), 3, "{slots:?}");
        }
        assert_eq!(
            slots.iter().collect::<HashSet<_>>().len(),
            worker_count(),
            "{slots:?}"
        );
        workers.finish().await;
    }

    #[tokio::test]
    async fn finishing_waits_for_every_worker_and_dropping_cuts_them() {
        let (done_tx, mut done) = mpsc::unbounded_channel();
        let workers = Workers::start(move |mut incoming: Handover<u32>| {
            let done_tx = done_tx.clone();
            async move {
                while let Some(item) = incoming.recv().await {
                    let _ = done_tx.send(item);
                }
                let _ = done_tx.send(u32::MAX);
            }
        });
        assert!(workers.hand_over(|_load| 7).await.is_ok());
        workers.finish().await;
        let mut seen = Vec::new();
        while let Ok(item) = done.try_recv() {
            seen.push(item);
        }
        assert_eq!(
            seen.iter().filter(|&&i| i == u32::MAX).count(),
            worker_count()
        );
        assert!(seen.contains(&7));

        let (started_tx, mut started) = mpsc::unbounded_channel();
        let workers = Workers::start(move |_incoming: Handover<()>| {
            let started_tx = started_tx.clone();
            async move {
                let _ = started_tx.send(());
                std::future::pending::<()>().await;
            }
        });
        for _ in 0..worker_count() {
            started.recv().await.unwrap();
        }
        drop(workers);
        // Every worker's runtime was dropped with its serving future and its sender.
        assert!(started.recv().await.is_none());
    }

    #[tokio::test]
    async fn a_worker_that_panics_serves_its_queue_again() {
        let (served_tx, mut served) = mpsc::unbounded_channel();
        let workers = Workers::start_n(1, move |mut incoming: Handover<u32>| {
            let served_tx = served_tx.clone();
            async move {
                while let Some(item) = incoming.recv().await {
                    assert_ne!(item, 0, "item 0 makes the worker panic");
                    let _ = served_tx.send(item);
                }
            }
        });
        let before = restarts();
        assert!(workers.hand_over(|_load| 0).await.is_ok());
        assert!(workers.hand_over(|_load| 5).await.is_ok());
        assert_eq!(served.recv().await, Some(5), "the same worker serves on");
        assert!(restarts() > before);
        workers.finish().await;
    }
}
