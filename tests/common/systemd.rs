//! Checks of the systemd units `deploy/` installs, with Debian's `systemd-analyze`.

use std::path::Path;
use std::process::Command;

/// `systemd-analyze verify` of `units` says nothing and succeeds.
pub fn verify(units: &[&Path]) {
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .args(units)
        .output()
        .expect("systemd-analyze (apt-get install systemd)");
    let said = String::from_utf8_lossy(&verify.stderr).to_string()
        + &String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success() && said.trim().is_empty(),
        "systemd-analyze verify: {said}"
    );
}

/// The "Overall exposure level" `systemd-analyze security` gives the service unit `unit`
/// (0 is locked down, 10 is fully exposed), and its whole report.
pub fn exposure(unit: &Path) -> (f64, String) {
    let name = unit.file_name().unwrap().to_string_lossy().to_string();
    let security = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(unit)
        .output()
        .expect("systemd-analyze (apt-get install systemd)");
    let text = String::from_utf8_lossy(&security.stdout).to_string();
    let exposure: f64 = text
        .lines()
        .find_map(|l| {
            l.split(&format!("Overall exposure level for {name}:"))
                .nth(1)
                .map(str::to_string)
        })
        .and_then(|rest| rest.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or_else(|| panic!("no exposure level in: {text}"));
    println!("systemd-analyze security: {name} exposure {exposure}");
    (exposure, text)
}
