use std::path::PathBuf;

use super::*;

const MINIMAL: &str = r#"
[[mailbox]]
name = "urp"
host = "127.0.0.1"
port = 143
security = "none"
username = "urp@hospital.test"
password = "s3cret"
"#;

fn load(text: &str, env: &[(&str, &str)]) -> Result<Config> {
    let env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_sources(text, &env, None)
}

fn err(text: &str, env: &[(&str, &str)]) -> String {
    format!("{:#}", load(text, env).unwrap_err())
}

#[test]
fn oauth2_sign_in_replaces_the_password_and_says_what_is_missing() {
    let oauth = MINIMAL.replace("password = \"s3cret\"\n", "")
        + "[mailbox.oauth2]\ntoken_url = \"https://login.example/token\"\nclient_id = \"app\"\nrefresh_token = \"r-secret\"\n";
    let c = load(&oauth, &[]).unwrap();
    let o = c.mailboxes[0].oauth2.as_ref().unwrap();
    assert_eq!(o.mechanism, OAuthMechanism::Xoauth2);
    assert!(
        !format!("{c:?}").contains("r-secret"),
        "refresh token redacted"
    );

    // From the environment alone, as under systemd.
    let env_only = MINIMAL.replace("password = \"s3cret\"\n", "");
    let c = load(
        &env_only,
        &[(
            "ASCOLTO__MAILBOX__0__OAUTH2__TOKEN_COMMAND",
            "get-token urp",
        )],
    )
    .unwrap();
    assert_eq!(
        c.mailboxes[0]
            .oauth2
            .as_ref()
            .unwrap()
            .token_command
            .as_deref(),
        Some("get-token urp")
    );

    let with_password = MINIMAL.to_string() + "[mailbox.oauth2]\ntoken_command = \"x\"\n";
    assert!(err(&with_password, &[]).contains("remove its password"));
    let both = oauth.replace(
        "[mailbox.oauth2]\n",
        "[mailbox.oauth2]\ntoken_command = \"x\"\n",
    );
    assert!(err(&both, &[]).contains("set only one of them"));
    let neither =
        MINIMAL.replace("password = \"s3cret\"\n", "") + "[mailbox.oauth2]\nscope = \"s\"\n";
    assert!(err(&neither, &[]).contains("say where access tokens come from"));
    let no_grant = oauth.replace("refresh_token = \"r-secret\"\n", "");
    assert!(err(&no_grant, &[]).contains("client-credentials"));
    let bad_mechanism = oauth.replace(
        "[mailbox.oauth2]\n",
        "[mailbox.oauth2]\nmechanism = \"plain\"\n",
    );
    assert!(err(&bad_mechanism, &[]).contains("mailbox[0].oauth2.mechanism"));
    let smtp = MINIMAL.to_string()
        + "[smtp]\nusername = \"urp@hospital.test\"\n[smtp.oauth2]\nmechanism = \"oauthbearer\"\ntoken_command = \"x\"\n";
    assert!(err(&smtp, &[]).contains("\"xoauth2\" only"));
}

#[test]
fn defaults_fill_what_the_file_leaves_out() {
    let c = load(MINIMAL, &[]).unwrap();
    assert_eq!(c.tickets.number_prefix, "URP");
    assert_eq!(c.tickets.deadline_days, 30);
    assert_eq!(c.mailboxes[0].folder, "INBOX");
    assert!(c.mailboxes[0].idle);
    assert_eq!(c.mailboxes[0].start_from, StartFrom::All);
}

#[test]
fn environment_overrides_the_file_with_typed_values() {
    let c = load(
        MINIMAL,
        &[
            ("ASCOLTO__TICKETS__DEADLINE_DAYS", "20"),
            ("ASCOLTO__MAILBOX__0__PORT", "993"),
            ("ASCOLTO__MAILBOX__0__IDLE", "false"),
            ("ASCOLTO__MAILBOX__0__PASSWORD", "12345"),
            ("ASCOLTO__DATABASE__PATH", "/var/lib/ascolto/db.sqlite3"),
        ],
    )
    .unwrap();
    assert_eq!(c.tickets.deadline_days, 20);
    assert_eq!(c.mailboxes[0].port, 993);
    assert!(!c.mailboxes[0].idle);
    assert_eq!(c.mailboxes[0].secret(), "12345");
    assert_eq!(
        c.database.path,
        PathBuf::from("/var/lib/ascolto/db.sqlite3")
    );
}

#[test]
fn a_misspelt_key_is_named() {
    let e = err(&format!("{MINIMAL}poll_interval = 5\n"), &[]);
    assert!(
        e.contains("mailbox[0]") && e.contains("poll_interval"),
        "{e}"
    );
    let e = err("[tickets]\nprefix = \"X\"\n", &[]);
    assert!(e.contains("prefix") && e.contains("unknown field"), "{e}");
}

#[test]
fn a_wrong_type_is_named() {
    let e = err(&MINIMAL.replace("port = 143", "port = \"imap\""), &[]);
    assert!(e.contains("mailbox[0].port"), "{e}");
    let e = err(MINIMAL, &[("ASCOLTO__TICKETS__DEADLINE_DAYS", "thirty")]);
    assert!(e.contains("tickets.deadline_days"), "{e}");
}

#[test]
fn a_missing_password_says_where_to_write_it() {
    let e = err(&MINIMAL.replace("password = \"s3cret\"", ""), &[]);
    assert!(e.contains("mailbox[0].password"), "{e}");
    assert!(e.contains("ASCOLTO__MAILBOX__0__PASSWORD"), "{e}");
}

#[test]
fn password_file_is_read_and_the_secret_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("urp.secret"), "from-file\n").unwrap();
    let text = MINIMAL.replace("password = \"s3cret\"", "password_file = \"urp.secret\"");
    let c = Config::from_sources(&text, &BTreeMap::new(), Some(dir.path())).unwrap();
    assert_eq!(c.mailboxes[0].secret(), "from-file");
    assert!(!format!("{c:?}").contains("from-file"));
}

#[test]
fn a_bad_enum_value_is_named() {
    let e = err(&MINIMAL.replace("\"none\"", "\"ssl\""), &[]);
    assert!(e.contains("mailbox[0].security"), "{e}");
}

#[test]
fn notifications_come_from_the_first_mailbox_unless_told_otherwise() {
    let c = load(MINIMAL, &[]).unwrap();
    assert_eq!(c.smtp.from(), "urp@hospital.test");
    assert_eq!(c.smtp.message_id_domain(), "hospital.test");
    assert_eq!(c.smtp.backend, MailBackend::File);
    let c = load(
        MINIMAL,
        &[("ASCOLTO__SMTP__FROM_ADDRESS", "reclami@asl.example")],
    )
    .unwrap();
    assert_eq!(c.smtp.message_id_domain(), "asl.example");
    let e = err(
        MINIMAL,
        &[("ASCOLTO__SMTP__FROM_ADDRESS", "not an address")],
    );
    assert!(e.contains("smtp.from_address"), "{e}");
    let e = err(MINIMAL, &[("ASCOLTO__SMTP__USERNAME", "u")]);
    assert!(e.contains("smtp.password"), "{e}");
}

#[test]
fn trusted_proxies_are_addresses_or_networks() {
    let c = load(MINIMAL, &[]).unwrap();
    assert!(c.web.trusted_proxies.is_empty());
    assert!(!c.web.viewer_sees_content);
    let text = format!(
        "{MINIMAL}[web]\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\", \"fd00::/8\"]\nviewer_sees_content = true\n"
    );
    let c = load(&text, &[]).unwrap();
    assert!(c.web.viewer_sees_content);
    let trusted = |ip: &str| {
        let ip = ip.parse().unwrap();
        c.web.trusted_proxies.iter().any(|n| n.contains(ip))
    };
    assert!(trusted("127.0.0.1") && trusted("10.200.3.4") && trusted("fd12::1"));
    assert!(
        trusted("::ffff:10.1.1.1"),
        "IPv4 seen through an IPv6 socket"
    );
    assert!(!trusted("127.0.0.2") && !trusted("11.0.0.1") && !trusted("fe80::1"));
    let c = load(
        MINIMAL,
        &[("ASCOLTO__WEB__TRUSTED_PROXIES", "10.0.0.2, 192.168.1.0/24")],
    )
    .unwrap();
    assert_eq!(c.web.trusted_proxies.len(), 2);
    assert!(c.web.trusted_proxies[1].contains("192.168.1.77".parse().unwrap()));
    for bad in [
        "\"proxy.local\"",
        "\"10.0.0.0/33\"",
        "\"10.0.0.0/x\"",
        "\"0.0.0.0/0\"",
        "\"::/0\"",
    ] {
        let e = err(&format!("{MINIMAL}[web]\ntrusted_proxies = [{bad}]\n"), &[]);
        assert!(e.contains("web.trusted_proxies"), "{bad}: {e}");
    }
}

#[test]
fn the_shipped_config_file_is_valid() {
    let text = include_str!("../../config.toml");
    let c = load(text, &[("ASCOLTO__MAILBOX__0__PASSWORD", "x")]).unwrap();
    assert_eq!(c.tickets.number_prefix, "URP");
    assert_eq!(
        c.notify.auto_reply_global_per_hour,
        NotifyConfig::default().auto_reply_global_per_hour,
        "config.toml documents the default"
    );
}

#[test]
fn the_automatic_reply_ceilings_must_be_ceilings() {
    assert_eq!(
        load(MINIMAL, &[])
            .unwrap()
            .notify
            .auto_reply_global_per_hour,
        60
    );
    let c = load(
        MINIMAL,
        &[("ASCOLTO__NOTIFY__AUTO_REPLY_GLOBAL_PER_HOUR", "500")],
    )
    .unwrap();
    assert_eq!(c.notify.auto_reply_global_per_hour, 500);
    let e = err(
        &format!("{MINIMAL}[notify]\nauto_reply_global_per_hour = 0\n"),
        &[],
    );
    assert!(e.contains("notify.auto_reply_global_per_hour"), "{e}");
    let e = err(
        MINIMAL,
        &[("ASCOLTO__NOTIFY__AUTO_REPLY_GLOBAL_PER_HOUR", "-1")],
    );
    assert!(e.contains("notify.auto_reply_global_per_hour"), "{e}");
    let e = err(
        MINIMAL,
        &[("ASCOLTO__NOTIFY__AUTO_REPLY_WINDOW_HOURS", "0")],
    );
    assert!(e.contains("notify.auto_reply_window_hours"), "{e}");
}

#[test]
fn our_own_addresses_are_one_list_of_mailboxes_whatever_the_spelling() {
    let text = format!(
        "{MINIMAL}\
[[mailbox]]\nname = \"login\"\nhost = \"h\"\nport = 143\nsecurity = \"none\"\nusername = \"urp\"\npassword = \"x\"\n\
[ingest]\nown_addresses = [\" Reclami+Sito@Hospital.Test \", \"URP@hospital.test\", \"postmaster\"]\n\
[smtp]\nfrom_address = \"NoReply@hospital.test\"\n"
    );
    let c = load(&text, &[]).unwrap();
    let own: Vec<&str> = c.own_addresses().iter().map(|k| k.as_str()).collect();
    // Lower case, trimmed, `+tag` gone, each mailbox once; the login name `urp` and the word
    // `postmaster` are not addresses, so they are left out.
    assert_eq!(
        own,
        [
            "reclami@hospital.test",
            "urp@hospital.test",
            "noreply@hospital.test"
        ]
    );
    for spelling in [
        "URP+loop@hospital.test",
        "reclami@HOSPITAL.test",
        "noreply+x@hospital.test",
    ] {
        assert!(
            c.own_addresses()
                .contains(&crate::domain::RecipientKey::of(spelling)),
            "{spelling}"
        );
    }
    assert!(!c
        .own_addresses()
        .contains(&crate::domain::RecipientKey::of("urp")));

    // With nothing but one mailbox, its username is also the sender: one entry.
    let c = load(MINIMAL, &[]).unwrap();
    let own: Vec<&str> = c.own_addresses().iter().map(|k| k.as_str()).collect();
    assert_eq!(own, ["urp@hospital.test"]);
}
