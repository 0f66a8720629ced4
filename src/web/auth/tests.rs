use super::*;
use crate::web::auth::*;

fn waits(d: &Decision) -> bool {
    matches!(d, Decision::Wait(_))
}

/// A wrong password: the reservation simply stays counted.
fn fail(t: &Throttle, account: &str, ip: IpAddr) -> Decision {
    t.reserve(account, ip, true)
}

#[test]
fn an_account_is_slowed_not_locked_out() {
    let t = Throttle::new(1);
    let ip: IpAddr = [127, 0, 0, 1].into();
    for _ in 0..FREE_PER_ACCOUNT {
        assert!(!waits(&fail(&t, "OP@h.test ", ip)));
    }
    let Decision::Wait(wait) = t.reserve("op@h.test", ip, true) else {
        panic!("the sixth attempt waits");
    };
    assert!(wait <= Duration::from_secs(30), "{wait:?}");
    // Waiting attempts are not counted: the wait does not grow while one is refused.
    for _ in 0..20 {
        assert!(waits(&t.reserve("op@h.test", ip, true)));
    }
    let Decision::Wait(again) = t.reserve("op@h.test", ip, true) else {
        panic!()
    };
    assert!(again <= wait, "{again:?}");
    // Another account from another address is not affected.
    assert!(!waits(&t.reserve(
        "other@h.test",
        [10, 0, 0, 1].into(),
        true
    )));
}

#[test]
fn a_success_gives_its_reservation_back() {
    let t = Throttle::new(1);
    let ip: IpAddr = [127, 0, 0, 1].into();
    for _ in 0..FREE_PER_ACCOUNT - 1 {
        let _ = fail(&t, "op@h.test", ip);
    }
    let Decision::Check(r) = t.reserve("op@h.test", ip, true) else {
        panic!()
    };
    t.succeeded(r);
    // The account starts again; the address counts the four failures only.
    for _ in 0..FREE_PER_ACCOUNT {
        assert!(!waits(&fail(&t, "op@h.test", [10, 0, 0, 9].into())));
    }
    let a = t.attempts.lock().unwrap();
    assert_eq!(a.by_address[&ip].len(), FREE_PER_ACCOUNT - 1);
}

#[test]
fn parallel_attempts_are_counted_before_any_is_verified() {
    // Issue 11, finding 5: 150 parallel wrong passwords for one account verified 39.
    let t = std::sync::Arc::new(Throttle::new(1));
    let ip: IpAddr = [192, 0, 2, 1].into();
    let checked = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..150 {
            s.spawn(|| {
                if let Decision::Check(_) = t.reserve("op@h.test", ip, true) {
                    checked.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(checked.into_inner(), FREE_PER_ACCOUNT);
}

#[test]
fn a_flooded_address_still_lets_a_person_in() {
    let t = Throttle::new(1);
    let proxy: IpAddr = [10, 0, 0, 1].into();
    // An attacker behind the hospital's proxy sprays invented accounts.
    let mut verified = 0;
    for i in 0..200 {
        match t.reserve(&format!("nobody{i}@h.test"), proxy, false) {
            Decision::Check(_) => verified += 1,
            Decision::Pretend(_) => {}
            Decision::Wait(_) => panic!("an unknown account is answered like a known one"),
        }
    }
    assert_eq!(
        verified, MAX_PER_ADDRESS,
        "no check past the address's limit"
    );
    // An operator behind the same proxy mistypes once, then gets in.
    assert!(matches!(fail(&t, "op@h.test", proxy), Decision::Check(_)));
    let Decision::Check(r) = t.reserve("op@h.test", proxy, true) else {
        panic!("a typo does not lock a person out");
    };
    t.succeeded(r);
    // An account the flood keeps guessing is under attack: it waits.
    let _ = fail(&t, "admin@h.test", proxy);
    let _ = fail(&t, "admin@h.test", proxy);
    assert!(waits(&t.reserve("admin@h.test", proxy, true)));
    // …and an invented account the same, so the answer tells nothing.
    let _ = t.reserve("ghost@h.test", proxy, false);
    let _ = t.reserve("ghost@h.test", proxy, false);
    assert!(waits(&t.reserve("ghost@h.test", proxy, false)));
    // Elsewhere the same account is only under its own rule.
    assert!(!waits(&t.reserve(
        "admin@h.test",
        [10, 9, 9, 9].into(),
        true
    )));
}

#[test]
fn the_throttle_forgets_idle_keys_past_its_bound() {
    let t = Throttle::new(1);
    for i in 0..(MAX_KEYS as u32 + 10) {
        let _ = t.reserve(
            &format!("u{i}@h.test"),
            IpAddr::from(i.to_be_bytes()),
            false,
        );
    }
    let a = t.attempts.lock().unwrap();
    assert!(a.by_account.len() <= MAX_KEYS && a.by_address.len() <= MAX_KEYS);
}

#[test]
fn checks_in_kept_memory_agree_with_the_library() {
    let hash = crate::users::hash_password("una-password-lunga").unwrap();
    let mut memory = Vec::new();
    assert!(verify("una-password-lunga", &hash, &mut memory));
    let kept = memory.len();
    assert!(kept > 0);
    assert!(!verify("una-password-lunga ", &hash, &mut memory));
    assert!(!verify("", &hash, &mut memory));
    assert_eq!(memory.len(), kept, "the memory is reused, not grown");
    assert!(
        verify("una-password-lunga", &hash, &mut memory),
        "and works again"
    );
    // Other costs, algorithms and versions, as the library writes them.
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
    let params = |m, t, p, out| argon2::Params::new(m, t, p, out).unwrap();
    for (alg, version, params) in [
        (
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            params(64, 1, 1, None),
        ),
        (
            argon2::Algorithm::Argon2i,
            argon2::Version::V0x10,
            params(32, 2, 2, Some(16)),
        ),
        (
            argon2::Algorithm::Argon2d,
            argon2::Version::V0x13,
            params(8, 3, 1, Some(64)),
        ),
    ] {
        let h = argon2::Argon2::new(alg, version, params)
            .hash_password(b"segreta", &salt)
            .unwrap()
            .to_string();
        assert!(verify("segreta", &h, &mut memory), "{h}");
        assert!(!verify("Segreta", &h, &mut memory), "{h}");
        assert!(crate::users::verify_password("segreta", &h), "{h}");
        assert!(!crate::users::verify_password("Segreta", &h), "{h}");
    }
    for bad in [
        "",
        "plain",
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ",
        "$md5$x$y",
    ] {
        assert!(!verify("x", bad, &mut memory), "{bad}");
    }
}

#[test]
fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
    let trusted: Vec<crate::config::IpNet> =
        vec!["10.0.0.1".parse().unwrap(), "10.0.1.0/24".parse().unwrap()];
    let mut h = HeaderMap::new();
    h.append("x-forwarded-for", "6.6.6.6, 203.0.113.9".parse().unwrap());
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    // From a stranger the header is whatever it wrote.
    assert_eq!(
        client_address(ip("198.51.100.1"), &h, &trusted),
        ip("198.51.100.1")
    );
    assert_eq!(client_address(ip("10.0.0.1"), &h, &[]), ip("10.0.0.1"));
    // From the proxy: the address the proxy appended, not what the client put before it.
    assert_eq!(
        client_address(ip("10.0.0.1"), &h, &trusted),
        ip("203.0.113.9")
    );
    assert_eq!(
        client_address(ip("::ffff:10.0.0.1"), &h, &trusted),
        ip("203.0.113.9")
    );
    // Through two trusted proxies.
    h.append("x-forwarded-for", "10.0.1.5".parse().unwrap());
    assert_eq!(
        client_address(ip("10.0.0.1"), &h, &trusted),
        ip("203.0.113.9")
    );
    // A header that cannot be read leaves the peer.
    let mut bad = HeaderMap::new();
    bad.insert("x-forwarded-for", "unknown".parse().unwrap());
    assert_eq!(
        client_address(ip("10.0.0.1"), &bad, &trusted),
        ip("10.0.0.1")
    );
    assert_eq!(
        client_address(ip("10.0.0.1"), &HeaderMap::new(), &trusted),
        ip("10.0.0.1")
    );
}

/// Targets known to send browsers elsewhere (OWASP, PortSwigger and bug-bounty lists), as
/// the handler receives them (the query string already decoded once).
const BYPASSES: &[&str] = &[
    "/\t/evil.test",
    "/\n/evil.test",
    "/\r/evil.test",
    "/\r\n/evil.test",
    "/\x0b/evil.test",
    "/\x0c/evil.test",
    "/\0/evil.test",
    "/\x7f/evil.test",
    "/ /evil.test",
    "//evil.test",
    "///evil.test",
    "////evil.test/",
    "/\\evil.test",
    "\\/evil.test",
    "\\\\evil.test",
    "/\\/evil.test",
    "/%5cevil.test",
    "/%5Cevil.test",
    "/%2f/evil.test",
    "/%2F%2Fevil.test",
    "/%252f%252fevil.test",
    "/%09/evil.test",
    "/%0a/evil.test",
    "/%00/evil.test",
    "/.//evil.test",
    "/./evil.test",
    "/../evil.test",
    "/x/..//evil.test",
    "/.%2e/evil.test",
    "/%2e%2e/evil.test",
    "https://evil.test",
    "http:evil.test",
    "http:/evil.test",
    "javascript:alert(1)",
    "data:text/html,x",
    "evil.test",
    "@evil.test",
    "//evil.test@urp.test",
    "/\u{3000}/evil.test",
    "/\u{ff0f}evil.test",
    "/\u{2215}evil.test",
    "/\u{ff3c}evil.test",
    "/\u{200b}/evil.test",
    "\u{ff0f}\u{ff0f}evil.test",
    "",
];

#[test]
fn only_local_paths_are_followed_after_sign_in() {
    for p in BYPASSES {
        assert_eq!(safe_target(Some(p)), "/", "{p:?} was accepted");
    }
    assert!(BYPASSES.len() >= 20);
    assert_eq!(safe_target(None), "/");
    assert_eq!(
        safe_target(Some(&format!("/{}", "a".repeat(MAX_TARGET)))),
        "/"
    );
    for own in [
        "/",
        "/reclami?stato=pending",
        "/reclami/URP-2026-000042",
        "/reclami?q=pronto%20soccorso&ordine=scadenza",
        "/reclami?q=http://x//y",
        "/statistiche?periodo=anno&anno=2026",
        "/amministrazione/registro?azione=ticket.&pagina=2",
    ] {
        assert_eq!(safe_target(Some(own)), own);
    }
}

#[test]
fn every_target_followed_stays_on_this_origin() {
    // Whatever passes, a WHATWG URL parser (as browsers have) resolves it on this site.
    let base = url::Url::parse("https://urp.example.test/accedi").unwrap();
    let mut candidates: Vec<String> = BYPASSES.iter().map(|s| s.to_string()).collect();
    // Every printable character and every pair of them after the leading slash.
    let chars: Vec<char> = (0x20u8..0x7f).map(char::from).chain(['\t', '\n']).collect();
    for a in &chars {
        candidates.push(format!("/{a}evil.test"));
        for b in &chars {
            candidates.push(format!("/{a}{b}evil.test"));
            candidates.push(format!("{a}{b}/evil.test"));
        }
    }
    for c in candidates {
        let target = safe_target(Some(&c));
        let resolved = base.join(&target).unwrap();
        assert_eq!(
            resolved.origin(),
            base.origin(),
            "{c:?} → {target:?} → {resolved}"
        );
    }
}

#[test]
fn origin_check() {
    let s = Settings {
        origin: "https://urp.example.test".into(),
        secure_cookies: true,
        idle: chrono::Duration::minutes(1),
        max_age: chrono::Duration::hours(1),
        office_name: String::new(),
        number_prefix: "URP".into(),
        mailboxes: Vec::new(),
        mailbox_grace: chrono::Duration::minutes(5),
        trusted_proxies: Vec::new(),
        viewer_sees_content: false,
        replication_max_lag: None,
        istruttoria: Default::default(),
        deadline_days: 30,
        letterhead: String::new(),
        workflow: Default::default(),
        quality: Default::default(),
    };
    let mut h = HeaderMap::new();
    assert!(!origin_allowed(&s, &h), "no Origin and no Referer");
    h.insert(
        header::REFERER,
        "https://urp.example.test/reclami".parse().unwrap(),
    );
    assert!(origin_allowed(&s, &h));
    h.insert(
        header::REFERER,
        "https://urp.example.test.evil.test/".parse().unwrap(),
    );
    assert!(!origin_allowed(&s, &h));
    h.insert(header::ORIGIN, "https://evil.test".parse().unwrap());
    assert!(!origin_allowed(&s, &h));
    h.insert(header::ORIGIN, "https://urp.example.test".parse().unwrap());
    assert!(origin_allowed(&s, &h));
}
