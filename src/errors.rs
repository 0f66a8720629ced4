//! How an error is written in logs and in the outbox: its whole chain of causes, each said once.
//!
//! `anyhow`'s `{:#}` writes every cause after the message, but many errors already end their own
//! message with their cause's text (`async_imap`'s `io: {0}`, `lettre`'s `Connection error: {source}`),
//! which then appeared twice: "io: Broken pipe (os error 32): Broken pipe (os error 32)".

use std::error::Error;
use std::fmt;

/// The error and its causes, joined by ": ", leaving out a cause whose text is already written.
pub fn chain<'a>(e: &'a (dyn Error + 'static)) -> Chain<'a> {
    Chain(e)
}

pub struct Chain<'a>(&'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut written = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(c) = cause {
            let text = c.to_string();
            if !written.contains(&text) {
                written.push_str(": ");
                written.push_str(&text);
            }
            cause = c.source();
        }
        f.write_str(&written)
    }
}

#[cfg(test)]
mod tests {
    use anyhow::Context;

    #[derive(Debug, thiserror::Error)]
    enum Wrapping {
        #[error("io: {0}")]
        Io(#[from] std::io::Error),
    }

    #[test]
    fn a_cause_already_in_the_message_is_written_once() {
        let io = std::io::Error::from_raw_os_error(32);
        let e = anyhow::Error::from(Wrapping::from(io)).context("fetching");
        let text = super::chain(&*e).to_string();
        assert_eq!(text, "fetching: io: Broken pipe (os error 32)");
        assert_eq!(
            format!("{e:#}"),
            "fetching: io: Broken pipe (os error 32): Broken pipe (os error 32)",
            "anyhow's own form repeats it (what this module is for)"
        );
    }

    #[test]
    fn distinct_causes_are_all_kept() {
        let e = Err::<(), _>(std::io::Error::other("refused"))
            .context("cannot connect to 127.0.0.1:25")
            .context("sending")
            .unwrap_err();
        assert_eq!(
            super::chain(&*e).to_string(),
            "sending: cannot connect to 127.0.0.1:25: refused"
        );
    }
}
