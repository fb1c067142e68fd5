//! Argon2id password hashing on a bounded pool of dedicated threads, off the async runtime.
//!
//! Each hash needs `memory_kib` of scratch memory (19 MiB by default). Run on the blocking
//! pool, every concurrent sign-in allocated its own and the allocator kept it: 128 parallel
//! failed sign-ins left the process at 4 GB. Here a fixed number of workers (about one per
//! core) each own one buffer, reused for every hash, so hashing memory is capped at
//! `workers × memory_kib`; at most `queue` requests wait, and beyond that the caller gets a
//! 503 with `Retry-After` instead of another slot in an unbounded line.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

use crate::error::AppError;

/// Cost parameters (memory in KiB, iterations, lanes).
#[derive(Debug, Clone, Copy)]
pub struct PasswordCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub lanes: u32,
}

impl Default for PasswordCost {
    /// OWASP's Argon2id recommendation: m = 19 MiB, t = 2, p = 1.
    fn default() -> Self {
        Self { memory_kib: 19 * 1024, iterations: 2, lanes: 1 }
    }
}

impl PasswordCost {
    /// The cheapest parameters Argon2 accepts; for tests only.
    pub fn insecure_fast() -> Self {
        Self { memory_kib: 8, iterations: 1, lanes: 1 }
    }

    fn params(self) -> Result<Params, AppError> {
        Params::new(self.memory_kib, self.iterations, self.lanes, None).map_err(AppError::internal)
    }
}

/// Stored hashes asking for more memory than this are refused rather than allocated
/// (1 GiB: fifty times the default cost; only a corrupt row would get there).
const MAX_MEMORY_BLOCKS: usize = 1024 * 1024;

/// How long a caller turned away by a full queue is told to wait (`Retry-After`, seconds).
const RETRY_AFTER_SECS: u64 = 1;

type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// The hashing pool: `workers` threads, started on first use and stopped when the last
/// handle is dropped. Cloning shares the pool.
#[derive(Clone)]
pub struct PasswordPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    workers: usize,
    queue: usize,
    sender: OnceLock<Result<SyncSender<Job>, String>>,
}

impl std::fmt::Debug for PasswordPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordPool")
            .field("workers", &self.inner.workers)
            .field("queue", &self.inner.queue)
            .finish()
    }
}

impl PasswordPool {
    /// A pool of `workers` threads (at least one) with room for `queue` waiting requests.
    pub fn new(workers: usize, queue: usize) -> Self {
        Self { inner: Arc::new(PoolInner { workers: workers.max(1), queue, sender: OnceLock::new() }) }
    }

    /// Threads that hash at once.
    pub fn workers(&self) -> usize {
        self.inner.workers
    }

    fn sender(&self) -> Result<&SyncSender<Job>, AppError> {
        self.inner
            .sender
            .get_or_init(|| start_workers(self.inner.workers, self.inner.queue))
            .as_ref()
            .map_err(|e| AppError::internal(format!("password workers: {e}")))
    }

    /// Runs `f` on a worker with its scratch memory; a full queue is `AppError::Busy`.
    async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Vec<Block>) -> Result<R, AppError> + Send + 'static,
    ) -> Result<R, AppError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |memory| {
            // The caller went away (client disconnected): skip the work.
            if !tx.is_closed() {
                let _ = tx.send(f(memory));
            }
        });
        match self.sender()?.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                tracing::warn!(
                    workers = self.inner.workers,
                    queue = self.inner.queue,
                    "password hashing queue full"
                );
                return Err(AppError::Busy(RETRY_AFTER_SECS));
            }
            Err(TrySendError::Disconnected(_)) => return Err(AppError::internal("password workers stopped")),
        }
        rx.await.map_err(|_| AppError::internal("password worker dropped the request"))?
    }

    /// Hashes a password into a PHC string.
    pub async fn hash(&self, cost: PasswordCost, password: String) -> Result<String, AppError> {
        self.run(move |memory| hash_with(cost, password.as_bytes(), memory)).await
    }

    /// Verifies a password against a stored PHC string.
    ///
    /// The parameters come from the stored hash, so old hashes keep verifying after a cost change.
    pub async fn verify(&self, password: String, phc: String) -> Result<bool, AppError> {
        self.run(move |memory| verify_with(password.as_bytes(), &phc, memory)).await
    }

    /// The work of one verification at the current cost, for an unknown email, so that
    /// sign-in takes the same time whether or not the account exists.
    pub async fn verify_unknown(&self, cost: PasswordCost, password: String) -> Result<(), AppError> {
        self.hash(cost, password).await.map(drop)
    }
}

/// Starts the workers; they share one bounded channel and stop when it closes.
fn start_workers(workers: usize, queue: usize) -> Result<SyncSender<Job>, String> {
    let (tx, rx) = sync_channel::<Job>(queue);
    let rx = Arc::new(Mutex::new(rx));
    let mut started = 0;
    for i in 0..workers {
        let rx = rx.clone();
        match std::thread::Builder::new().name(format!("password-{i}")).spawn(move || worker(&rx)) {
            Ok(_) => started += 1,
            Err(e) => tracing::error!(error = %e, "cannot start a password worker"),
        }
    }
    if started == 0 {
        return Err("no password worker could be started".into());
    }
    Ok(tx)
}

fn worker(rx: &Mutex<Receiver<Job>>) {
    // Grown to the largest cost seen, then reused: the memory stays with the thread.
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = match rx.lock() {
            Ok(guard) => match guard.recv() {
                Ok(job) => job,
                Err(_) => return, // the pool was dropped
            },
            Err(_) => return,
        };
        // A panic in a job must not take the worker with it; its caller sees the
        // dropped reply as an internal error.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut memory)));
    }
}

/// The first `params.block_count()` blocks of `memory`, growing it if needed.
fn blocks<'a>(memory: &'a mut Vec<Block>, params: &Params) -> Result<&'a mut [Block], AppError> {
    let n = params.block_count();
    if n > MAX_MEMORY_BLOCKS {
        return Err(AppError::internal(format!("password hash wants {n} KiB of memory")));
    }
    if memory.len() < n {
        memory.resize(n, Block::default());
    }
    Ok(&mut memory[..n])
}

fn hash_with(cost: PasswordCost, password: &[u8], memory: &mut Vec<Block>) -> Result<String, AppError> {
    let params = cost.params()?;
    let mut salt = [0u8; Salt::RECOMMENDED_LENGTH];
    crate::auth::secrets::fill_random(&mut salt);
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password, &salt, &mut out, blocks(memory, &params)?)
        .map_err(AppError::internal)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(AppError::internal)?,
        salt: Some(Salt::new(&salt).map_err(AppError::internal)?),
        hash: Some(Output::new(&out).map_err(AppError::internal)?),
    };
    Ok(phc.to_string())
}

fn verify_with(password: &[u8], phc: &str, memory: &mut Vec<Block>) -> Result<bool, AppError> {
    let parsed = PasswordHash::new(phc).map_err(AppError::internal)?;
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Err(AppError::internal("stored password hash has no salt or output"));
    };
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).map_err(AppError::internal)?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(AppError::internal)?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).map_err(AppError::internal)?;
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params.clone())
        .hash_password_into_with_memory(password, salt, &mut out, blocks(memory, &params)?)
        .map_err(AppError::internal)?;
    Ok(out.ct_eq(expected.as_bytes()).into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use argon2::{PasswordHasher, PasswordVerifier};
    use futures_util::FutureExt;

    fn cost() -> PasswordCost {
        PasswordCost { memory_kib: 64, iterations: 1, lanes: 1 }
    }

    #[tokio::test]
    async fn hashes_are_standard_phc_strings_both_ways() {
        let pool = PasswordPool::new(1, 4);
        let mine = pool.hash(cost(), "correct horse".into()).await.unwrap();
        assert!(mine.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{mine}");
        // the library verifies ours…
        let parsed = PasswordHash::new(&mine).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse", &parsed).is_ok());
        // …and we verify the library's (hashes stored before the pool existed)
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, cost().params().unwrap())
            .hash_password(b"battery staple")
            .unwrap()
            .to_string();
        assert!(pool.verify("battery staple".into(), theirs.clone()).await.unwrap());
        assert!(!pool.verify("battery stapler".into(), theirs).await.unwrap());
        assert!(pool.verify("correct horse".into(), mine.clone()).await.unwrap());
        assert!(!pool.verify("".into(), mine).await.unwrap());
        assert!(pool.verify("x".into(), "not a hash".into()).await.is_err());
    }

    #[tokio::test]
    async fn a_full_queue_is_busy_not_a_longer_line() {
        let pool = PasswordPool::new(1, 1);
        // Occupy the only worker until released.
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
        let busy = pool.clone();
        let first = tokio::spawn(async move {
            busy.run(move |_| {
                let _ = started_tx.send(());
                let _ = wait.recv();
                Ok(())
            })
            .await
        });
        started.await.unwrap();
        // One request may wait: polled once, it is queued (then abandoned; the worker skips it).
        assert!(pool.hash(cost(), "queued".into()).now_or_never().is_none());
        // The next is turned away at once rather than queued.
        let err = pool.hash(cost(), "third".into()).await.unwrap_err();
        assert!(matches!(err, AppError::Busy(1)), "{err:?}");
        release.send(()).unwrap();
        first.await.unwrap().unwrap();
        // Once the worker has drained the abandoned request, the pool takes work again (the
        // drain races this call, so it may first answer Busy; it must not stay busy).
        let mut later = pool.hash(cost(), "later".into()).await;
        for _ in 0..200 {
            if later.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            later = pool.hash(cost(), "later".into()).await;
        }
        assert!(later.is_ok(), "{later:?}");
    }
}
