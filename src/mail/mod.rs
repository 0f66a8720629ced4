//! Reading inbound mail: parsing, PEC envelopes, automatic mail, threading proofs.

pub mod auto;
pub mod parse;
pub mod pec;
pub mod thread;

pub use parse::{parse, AttachmentMeta, ParseError, ParsedMail};
