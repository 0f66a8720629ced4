//! Embeds the shipped classification corpus (`data/corpus/*.jsonl`) into the binary, so that an
//! installed ascolto (deploy/install.sh copies the binary alone) trains its first model without
//! looking for files. Every `.jsonl` file of the folder is included, in name order.

use std::path::Path;

fn main() {
    // Read when the script runs, not baked in when it is compiled: a build script compiled for
    // one checkout may be run for another that shares the target directory.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest).join("data/corpus");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("data/corpus exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut out = String::from("&[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().unwrap().to_string_lossy();
        out.push_str(&format!(
            "    ({:?}, include_str!({:?})),\n",
            format!("data/corpus/{name}"),
            f.display().to_string()
        ));
    }
    out.push_str("]\n");
    let target = Path::new(&std::env::var("OUT_DIR").unwrap()).join("corpus_files.rs");
    std::fs::write(target, out).expect("OUT_DIR is writable");
}
