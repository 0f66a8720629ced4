//! One way to hold a secret (a password, an OAuth2 client secret or refresh token) and one way to
//! read it from where it is written.

use std::fmt;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// A secret from the configuration. Its `Debug` prints `<redacted>`, so a config printed whole
/// (a `{config:?}` in a log line, a test's failure message) never shows it; the value is read
/// only through [`Secret::expose`], at the one place that hands it to a server.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for signing in.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Resolves a secret that may be written inline (`key`) or kept in a file (`key_file`, relative
/// to the config's folder): at most one of the two. The file is read now, so a missing or
/// unreadable file fails at start rather than at the first sign-in.
pub(super) fn inline_or_file(
    key: &str,
    value: &mut Option<Secret>,
    file: Option<&Path>,
    base_dir: Option<&Path>,
) -> Result<()> {
    match (value.is_some(), file) {
        (true, Some(_)) => bail!("key `{key}` and `{key}_file`: set only one of them"),
        (false, Some(file)) => *value = Some(read(&format!("{key}_file"), file, base_dir)?),
        _ => {}
    }
    Ok(())
}

/// Reads a secret file without its line end: editors and `echo` add one, servers do not want it.
fn read(key: &str, file: &Path, base_dir: Option<&Path>) -> Result<Secret> {
    let file = match base_dir {
        Some(dir) if file.is_relative() => dir.join(file),
        _ => file.to_path_buf(),
    };
    let secret = std::fs::read_to_string(&file)
        .with_context(|| format!("key `{key}`: cannot read {}", file.display()))?;
    Ok(Secret(secret.trim_end_matches(['\r', '\n']).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_never_printed() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{:?}", Some(&s)), "Some(<redacted>)");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn a_secret_comes_from_one_place_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s"), "from-file\r\n").unwrap();
        let mut v = None;
        inline_or_file("x.password", &mut v, Some(Path::new("s")), Some(dir.path())).unwrap();
        assert_eq!(v.as_ref().map(Secret::expose), Some("from-file"));

        let mut v = Some(Secret::new("inline"));
        let e = inline_or_file("x.password", &mut v, Some(Path::new("s")), Some(dir.path()));
        assert!(format!("{:#}", e.unwrap_err()).contains("set only one of them"));

        let mut v = None;
        let e = inline_or_file(
            "x.password",
            &mut v,
            Some(Path::new("gone")),
            Some(dir.path()),
        );
        assert!(format!("{:#}", e.unwrap_err()).contains("key `x.password_file`: cannot read"));
    }
}
