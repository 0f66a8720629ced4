//! The sign-in throttle and the password checks it admits.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Result;
use axum::http::HeaderMap;

/// Sign-in attempts, counted per account and per client address, in memory.
///
/// An attempt is *reserved* — counted as a failure — in the same critical section that checks
/// the limits, before its password is verified; a correct password gives the reservation back.
/// Checking first and counting after let 150 parallel wrong passwords through to verification
/// when 5 were allowed (issue 11, finding 5): now no more attempts are ever verified than the
/// limits allow, however many arrive at once.
///
/// - An account gets 5 free failures in 15 minutes; then each further attempt waits twice as
///   long as the one before (30 s, 1 min, 2 min…), never more than 5 minutes, so an attacker
///   cannot keep a real operator out for long. A success clears the account's count.
/// - An address gets 30 failures in 15 minutes across all accounts. Past that it is *flooded*,
///   and it is not simply refused, because an address is not a person: behind a reverse proxy
///   (one not in `[web] trusted_proxies`) the whole hospital shares one, and refusing it would
///   let one attacker lock every operator out. From a flooded address:
///   - an account that does not exist is never verified (no password can be right for it); it
///     answers "wrong email or password" after as long as a check takes, so neither the answer
///     nor its timing tells it from an existing account;
///   - an existing account is verified while it has fewer than [`FLOODED_TRIES`] failures from
///     flooded addresses in the window; its correct password then signs in. Past that the
///     account itself is under attack and waits like any other throttled account.
///
///   So a correct password of an account that is not itself under attack is never refused
///   because of the address it comes from, a person's typo included; and a sprayer gets 2
///   guesses per existing account per window instead of 5, and no password checks at all on
///   invented accounts.
/// - At most [`password_check_slots`] passwords are verified at once (argon2 takes a core and
///   19 MiB each); the others queue, holding only their form.
pub struct Throttle {
    attempts: Mutex<Attempts>,
    checks: tokio::sync::Semaphore,
    /// The working memory of the checks, one per slot, kept between checks (see [`verify`]).
    memory: Mutex<Vec<Vec<argon2::Block>>>,
    /// How long a password check takes, in microseconds (a moving average): the pause of an
    /// attempt that is not verified.
    typical_check_us: AtomicU64,
}

const WINDOW: Duration = Duration::from_secs(15 * 60);
const FREE_PER_ACCOUNT: usize = 5;
const MAX_ACCOUNT_WAIT: Duration = Duration::from_secs(5 * 60);
const MAX_PER_ADDRESS: usize = 30;
/// Failures an account may have from flooded addresses in the window before it counts as under
/// attack: two lets a person behind a shared address mistype once.
const FLOODED_TRIES: usize = 2;
/// Attempts remembered per account or address (older ones change no decision).
const KEPT_PER_KEY: usize = 4 * MAX_PER_ADDRESS;
/// Accounts and addresses remembered; past this, those idle longest are forgotten first.
const MAX_KEYS: usize = 100_000;

/// Passwords verified at once: one per core the daemon may use.
pub fn password_check_slots() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

#[derive(Default)]
struct Attempts {
    by_account: HashMap<String, Vec<Attempt>>,
    by_address: HashMap<IpAddr, Vec<Attempt>>,
    next_id: u64,
}

#[derive(Clone, Copy)]
struct Attempt {
    at: Instant,
    id: u64,
    /// Made while its address was flooded.
    flooded: bool,
}

/// What to do with a sign-in attempt.
#[must_use]
pub enum Decision {
    /// Refuse without checking the password; the person may try again after this long.
    Wait(Duration),
    /// Check the password; the attempt is already counted as a failure.
    Check(Reservation),
    /// Answer as a wrong password without checking (an unknown account from a flooded address).
    Pretend(Reservation),
}

/// An attempt counted in advance, given back by [`Throttle::succeeded`].
pub struct Reservation {
    account: String,
    address: IpAddr,
    id: u64,
}

impl Attempts {
    fn prune(list: &mut Vec<Attempt>, now: Instant) {
        list.retain(|a| now.duration_since(a.at) < WINDOW);
        if list.len() > KEPT_PER_KEY {
            list.drain(..list.len() - KEPT_PER_KEY);
        }
    }

    /// Keeps the maps bounded under a spray of invented accounts or addresses.
    fn bound<K: Clone + Eq + std::hash::Hash>(map: &mut HashMap<K, Vec<Attempt>>, now: Instant) {
        if map.len() <= MAX_KEYS {
            return;
        }
        map.retain(|_, f| f.last().is_some_and(|a| now.duration_since(a.at) < WINDOW));
        // Down to half at least, so that the next clean-up is tens of thousands of attempts
        // away (each scans the whole map, under the lock).
        let mut last: Vec<Instant> = map
            .values()
            .filter_map(|f| f.last())
            .map(|a| a.at)
            .collect();
        if last.len() > MAX_KEYS / 2 {
            let cut = last.len() - MAX_KEYS / 2;
            let (_, cutoff, _) = last.select_nth_unstable(cut);
            let cutoff = *cutoff;
            map.retain(|_, f| f.last().is_some_and(|a| a.at > cutoff));
        }
    }
}

fn account_key(account: &str) -> String {
    account.trim().to_lowercase()
}

impl Throttle {
    /// A throttle verifying at most `slots` passwords at once.
    pub fn new(slots: usize) -> Throttle {
        Throttle {
            attempts: Mutex::default(),
            checks: tokio::sync::Semaphore::new(slots.max(1)),
            memory: Mutex::default(),
            typical_check_us: AtomicU64::new(50_000),
        }
    }

    /// Decides an attempt on `account` (which `exists` or not) from `address`, and counts it.
    pub fn reserve(&self, account: &str, address: IpAddr, exists: bool) -> Decision {
        let now = Instant::now();
        let key = account_key(account);
        // Nothing below can leave the maps half-changed, so a poisoned lock is taken as it is.
        let mut guard = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
        let a = &mut *guard;
        let account_list = a.by_account.entry(key.clone()).or_default();
        Attempts::prune(account_list, now);
        if account_list.len() >= FREE_PER_ACCOUNT {
            let extra = (account_list.len() - FREE_PER_ACCOUNT) as u32;
            let wait = Duration::from_secs(30)
                .saturating_mul(1 << extra.min(10))
                .min(MAX_ACCOUNT_WAIT);
            let until = account_list.last().map_or(now, |l| l.at) + wait;
            if until > now {
                return Decision::Wait(until - now);
            }
        }
        let flooded_tries: Vec<Instant> = account_list
            .iter()
            .filter(|t| t.flooded)
            .map(|t| t.at)
            .collect();
        let address_list = a.by_address.entry(address).or_default();
        Attempts::prune(address_list, now);
        let flooded = address_list.len() >= MAX_PER_ADDRESS;
        if flooded && flooded_tries.len() >= FLOODED_TRIES {
            let until = flooded_tries[flooded_tries.len() - FLOODED_TRIES] + WINDOW;
            return Decision::Wait(
                until
                    .saturating_duration_since(now)
                    .max(Duration::from_secs(1)),
            );
        }
        let id = a.next_id;
        a.next_id += 1;
        let attempt = Attempt {
            at: now,
            id,
            flooded,
        };
        a.by_address.entry(address).or_default().push(attempt);
        a.by_account.entry(key.clone()).or_default().push(attempt);
        Attempts::bound(&mut a.by_account, now);
        Attempts::bound(&mut a.by_address, now);
        let reservation = Reservation {
            account: key,
            address,
            id,
        };
        if flooded && !exists {
            Decision::Pretend(reservation)
        } else {
            Decision::Check(reservation)
        }
    }

    /// The password was right: the account's failures are forgotten, and the address's
    /// reservation is given back.
    pub fn succeeded(&self, r: Reservation) {
        let mut a = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
        a.by_account.remove(&r.account);
        if let Some(list) = a.by_address.get_mut(&r.address) {
            list.retain(|t| t.id != r.id);
        }
    }

    /// Verifies `password` against `hash`, waiting for a free slot (see [`Throttle`]).
    pub async fn check(&self, password: String, hash: String) -> Result<bool> {
        let _slot = self
            .checks
            .acquire()
            .await
            .map_err(|e| anyhow::anyhow!("password check slots: {e}"))?;
        let started = Instant::now();
        // A slot is held, so a memory is free or one more may be made.
        let mut memory = self
            .memory
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        let (ok, memory) = tokio::task::spawn_blocking(move || {
            let ok = verify(&password, &hash, &mut memory);
            (ok, memory)
        })
        .await
        .map_err(|e| anyhow::anyhow!("password check: {e}"))?;
        self.memory
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(memory);
        let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let old = self.typical_check_us.load(Ordering::Relaxed);
        self.typical_check_us
            .store(old - old / 8 + took / 8, Ordering::Relaxed);
        Ok(ok)
    }

    /// Waits as long as a password check usually takes, using no CPU and no memory.
    pub async fn pretend_check(&self) {
        let us = self.typical_check_us.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_micros(us)).await;
    }
}

/// Whether `password` matches the PHC `hash` (as [`crate::users::verify_password`]), computed in
/// `memory`, which is grown to the hash's cost once and then reused.
///
/// argon2 needs 19 MiB per check. Allocated afresh each time on the blocking pool's threads,
/// that memory stayed in each thread's malloc arena: 200 parallel sign-ins, only 2 checked at
/// a time, still took the daemon to 415 MiB. Kept per slot, it is 19 MiB per core, once.
fn verify(password: &str, hash: &str, memory: &mut Vec<argon2::Block>) -> bool {
    use argon2::{Algorithm, Argon2, Params, PasswordHash, Version};
    let Ok(h) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (h.salt, h.hash) else {
        return false;
    };
    let algorithm = Algorithm::try_from(h.algorithm);
    let version = h.version.map(Version::try_from).transpose();
    let (Ok(algorithm), Ok(version), Ok(params)) = (algorithm, version, Params::try_from(&h))
    else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), argon2::Block::default());
    }
    let argon2 = Argon2::new(algorithm, version.unwrap_or_default(), params);
    let computed = argon2::password_hash::Output::init_with(expected.len(), |out| {
        argon2
            .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut memory[..])
            .map_err(|_| argon2::password_hash::Error::Password)
    });
    // What the password filled it with does not stay there until the next check.
    memory.fill(argon2::Block::default());
    // `Output`'s equality takes the same time wherever the outputs differ.
    computed.is_ok_and(|c| c == expected)
}

/// The address the sign-in limits count: the peer's, or — when the peer is one of `trusted`
/// proxies — the rightmost address in `X-Forwarded-For` that is not itself a trusted proxy
/// (the one our proxy saw: addresses to its left are whatever the client wrote). A header
/// that cannot be read leaves the peer's address.
pub fn client_address(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &[crate::config::IpNet],
) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for entry in forwarded.iter().rev() {
        match entry.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip.to_canonical();
                if !is_trusted(client) {
                    break;
                }
            }
            Err(_) => return peer,
        }
    }
    client
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
