//! Whether the hospital's own mail server could authenticate a message's sender, from the
//! `Authentication-Results` header it added (RFC 8601), e.g. as Postfix with OpenDKIM,
//! OpenDMARC and policyd-spf write it:
//!
//! ```text
//! Authentication-Results: mx.hospital.test; dmarc=fail (p=none dis=none) header.from=example.test
//! Authentication-Results: mx.hospital.test; spf=fail smtp.mailfrom=example.test
//! Authentication-Results: mx.hospital.test; dkim=none
//! ```
//!
//! Only headers naming the trusted server (`[ingest] trusted_authserv_id`) count: anyone can
//! write an `Authentication-Results` header into the mail they send. The server adds its headers
//! above those that came with the message, so for each method the topmost result counts; a
//! sender cannot outvote a result the server wrote (RFC 8601 §5 also asks the server to remove
//! headers claiming its name from incoming mail: do configure that).

/// A sender the trusted server could not authenticate: DMARC failed, or (without a DMARC
/// result) SPF failed and no DKIM signature passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unverified {
    /// The results that decided, e.g. "dmarc=fail" or "spf=fail dkim=none".
    pub reason: String,
}

/// Judges the `Authentication-Results` values of a message (top to bottom, as they appear)
/// for the server named `trusted`. `None` when the sender is authenticated, or when the
/// server said nothing that decides (no header of its own, results "none" or "temperror").
pub fn judge<'a>(values: impl IntoIterator<Item = &'a str>, trusted: &str) -> Option<Unverified> {
    let (mut dmarc, mut spf, mut dkim) = (None::<String>, None::<String>, Vec::<String>::new());
    let mut dkim_seen_in = None;
    for (i, value) in values.into_iter().enumerate() {
        let Some(results) = results_of(value, trusted) else {
            continue;
        };
        for (method, result) in results {
            match method.as_str() {
                "dmarc" if dmarc.is_none() => dmarc = Some(result),
                "spf" if spf.is_none() => spf = Some(result),
                // One header may hold a result per signature; only the topmost header's count.
                "dkim" if dkim_seen_in.is_none_or(|h| h == i) => {
                    dkim_seen_in = Some(i);
                    dkim.push(result);
                }
                _ => {}
            }
        }
    }
    if dmarc.as_deref() == Some("fail") {
        return Some(Unverified {
            reason: "dmarc=fail".into(),
        });
    }
    if dmarc.as_deref() == Some("pass") {
        return None;
    }
    let dkim_passed = dkim.iter().any(|r| r == "pass");
    if spf.as_deref() == Some("fail") && !dkim_passed {
        let dkim = dkim.first().map_or("none", String::as_str);
        return Some(Unverified {
            reason: format!("spf=fail dkim={dkim}"),
        });
    }
    None
}

/// The `method=result` pairs of one header value, if the server that wrote it is `trusted`.
fn results_of(value: &str, trusted: &str) -> Option<Vec<(String, String)>> {
    let value = strip_comments(value);
    let mut parts = value.split(';');
    // authserv-id, optionally followed by a version number.
    let id = parts.next()?.split_whitespace().next()?;
    if !id.eq_ignore_ascii_case(trusted) {
        return None;
    }
    Some(
        parts
            .filter_map(|resinfo| {
                let (method, rest) = resinfo.trim().split_once('=')?;
                // `method/version=result`; the result ends at the first blank.
                let method = method.split('/').next()?.trim().to_ascii_lowercase();
                let result = rest.split_whitespace().next()?.to_ascii_lowercase();
                Some((method, result))
            })
            .collect(),
    )
}

/// The header without its `(comments)` (which may hold `;` and `=`) and with lines unfolded.
fn strip_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut depth = 0u32;
    let mut escaped = false;
    let mut quoted = false;
    for c in value.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' if depth == 0 => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => {
                depth -= 1;
                continue;
            }
            _ => {}
        }
        if depth == 0 {
            out.push(if c == '\r' || c == '\n' || c == '\t' {
                ' '
            } else {
                c
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MX: &str = "mx.hospital.test";

    #[test]
    fn dmarc_decides_when_the_server_wrote_it() {
        let fail = ["mx.hospital.test; dmarc=fail (p=reject dis=none) header.from=example.test"];
        assert_eq!(judge(fail, MX).unwrap().reason, "dmarc=fail");
        let pass = [
            "mx.hospital.test; dmarc=pass (p=none dis=none) header.from=example.test",
            "mx.hospital.test; spf=fail smtp.mailfrom=example.test",
        ];
        assert_eq!(judge(pass, MX), None);
    }

    #[test]
    fn spf_and_dkim_both_failing_without_dmarc() {
        let h = [
            "mx.hospital.test; dkim=fail (1024-bit key; unprotected) header.d=example.test header.b=\"a;b=c\"",
            "mx.hospital.test; spf=fail smtp.mailfrom=example.test",
        ];
        assert_eq!(judge(h, MX).unwrap().reason, "spf=fail dkim=fail");
        let unsigned = [
            "mx.hospital.test;\r\n\tspf=fail (sender IP is 192.0.2.9) smtp.mailfrom=example.test",
        ];
        assert_eq!(judge(unsigned, MX).unwrap().reason, "spf=fail dkim=none");
        let signed = [
            "mx.hospital.test; dkim=pass (2048-bit key; unprotected) header.d=example.test",
            "mx.hospital.test; spf=fail smtp.mailfrom=example.test",
        ];
        assert_eq!(judge(signed, MX), None, "a valid signature is enough");
        assert_eq!(
            judge(["mx.hospital.test; spf=softfail smtp.mailfrom=x"], MX),
            None
        );
    }

    #[test]
    fn headers_of_other_servers_and_the_senders_own_claims_do_not_count() {
        // Written by the sender (below the server's own) or by another server: ignored.
        let h = [
            "mx.hospital.test; dmarc=fail header.from=example.test",
            "mx.hospital.test; dmarc=pass header.from=example.test",
        ];
        assert_eq!(judge(h, MX).unwrap().reason, "dmarc=fail");
        let other = ["mx.evil.test; dmarc=fail header.from=example.test"];
        assert_eq!(judge(other, MX), None);
        let lookalike = ["mx.hospital.test.evil.test; dmarc=fail"];
        assert_eq!(judge(lookalike, MX), None);
        assert_eq!(judge([], MX), None);
        assert_eq!(judge(["mx.hospital.test 1; none"], MX), None);
    }
}
