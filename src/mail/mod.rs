//! Reading inbound mail: parsing, PEC envelopes, automatic mail, threading proofs.

pub mod auth;
pub mod auto;
pub mod parse;
pub mod pec;
pub mod thread;

pub use parse::{parse, AttachmentMeta, ParseError, ParsedMail};

/// How long a header-like text (a subject, a display name) may be once made one line: longer
/// is an attack or an accident, and it ends up in the headers of the mail we send back.
pub const MAX_LINE_CHARS: usize = 200;

/// Makes `text` one line: every control character and run of whitespace becomes one space, the
/// ends are trimmed, and at most `max_chars` characters are kept (the cut marked with "…").
///
/// A subject or a name is one line wherever it comes from: the citizen's mail (an encoded-word
/// can decode to anything, line breaks included) or a template variable rendered into a header.
pub fn one_line(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4));
    let mut chars = 0;
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() || is_invisible_break(c) {
            pending_space = !out.is_empty();
            continue;
        }
        let needed = 1 + usize::from(pending_space);
        if chars + needed > max_chars {
            out.push('…');
            return out;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
        chars += needed;
    }
    out
}

/// Format characters that some clients render as line or paragraph breaks, or that hide text
/// direction (bidirectional overrides make a subject read differently from what it says).
fn is_invisible_break(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_joins_breaks_and_controls_and_cuts_long_text() {
        assert_eq!(
            one_line(
                "Attesa\nATTENZIONE\r\n\tpaghi\u{0}su  http://x \u{2028}fine ",
                200
            ),
            "Attesa ATTENZIONE paghi su http://x fine"
        );
        assert_eq!(one_line("  \n ", 200), "");
        assert_eq!(one_line("abcdef", 4), "abcd…");
        assert_eq!(one_line("ab cd ef", 5), "ab cd…");
        assert_eq!(one_line("àèìòù", 3), "àèì…");
        assert_eq!(one_line("\u{202E}gnp.exe", 200), "gnp.exe");
        let long = "x".repeat(10_000);
        assert_eq!(
            one_line(&long, MAX_LINE_CHARS).chars().count(),
            MAX_LINE_CHARS + 1
        );
    }
}
