//! What the IT department installs: deploy/install.sh's files and the systemd units, checked
//! with systemd-analyze (installed by deploy/test.sh).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ascolto");

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn install_places_every_file_and_the_units_verify_with_a_low_exposure() {
    let root = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg(common::repo().join("deploy/install.sh"))
        .env("DESTDIR", root.path())
        .env("ASCOLTO_BIN", BIN)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "install.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = root.path();
    assert_eq!(mode(&r.join("usr/local/bin/ascolto")), 0o755);
    assert_eq!(mode(&r.join("etc/ascolto/config.toml")), 0o640);
    assert_eq!(mode(&r.join("etc/ascolto/ascolto.env")), 0o600, "secrets");
    assert!(r.join("etc/ascolto/templates/ack.txt").exists());
    let config = std::fs::read_to_string(r.join("etc/ascolto/config.toml")).unwrap();
    assert!(config.contains("\npath = \"/var/lib/ascolto/ascolto.sqlite3\"\n"));
    assert!(config.contains("\ntemplates_dir = \"/etc/ascolto/templates\"\n"));

    // An edited configuration or template survives a second install (an upgrade).
    std::fs::write(r.join("etc/ascolto/config.toml"), "# edited\n").unwrap();
    std::fs::write(r.join("etc/ascolto/templates/ack.txt"), "edited").unwrap();
    let again = Command::new("bash")
        .arg(common::repo().join("deploy/install.sh"))
        .env("DESTDIR", r)
        .env("ASCOLTO_BIN", BIN)
        .output()
        .unwrap();
    assert!(again.status.success());
    assert_eq!(
        std::fs::read_to_string(r.join("etc/ascolto/config.toml")).unwrap(),
        "# edited\n"
    );
    assert_eq!(
        std::fs::read_to_string(r.join("etc/ascolto/templates/ack.txt")).unwrap(),
        "edited"
    );

    // systemd-analyze looks for the binary where the unit says: point it at the one built.
    let units = tempfile::tempdir().unwrap();
    for unit in [
        "ascolto.service",
        "ascolto-backup.service",
        "ascolto-backup.timer",
        "ascolto.socket",
    ] {
        let text = std::fs::read_to_string(r.join("etc/systemd/system").join(unit)).unwrap();
        std::fs::write(
            units.path().join(unit),
            text.replace("/usr/local/bin/ascolto", BIN),
        )
        .unwrap();
    }
    let paths = [
        "ascolto.service",
        "ascolto-backup.service",
        "ascolto-backup.timer",
        "ascolto.socket",
    ]
    .map(|u| units.path().join(u));
    common::systemd::verify(&paths.each_ref().map(|p| p.as_path()));
    let (exposure, text) = common::systemd::exposure(&units.path().join("ascolto.service"));
    assert!(
        exposure <= 2.0,
        "exposure {exposure} (OK is below 4.9; this unit had 1.3):\n{text}"
    );
}
