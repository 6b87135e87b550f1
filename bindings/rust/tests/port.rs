// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
//! examples/07_port.rs is examples/07_port_tokio.rs (tokio's own channel)
//! with only its import changed, and prints the same.

use std::path::Path;
use std::process::Command;

const DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn port_differs_only_in_its_import() {
    let read = |name: &str| std::fs::read_to_string(Path::new(DIR).join("examples").join(name)).unwrap();
    let (port, orig) = (read("07_port.rs"), read("07_port_tokio.rs"));
    let diff: Vec<(&str, &str)> = port.lines().zip(orig.lines()).filter(|(a, b)| a != b).collect();
    assert_eq!(port.lines().count(), orig.lines().count());
    assert_eq!(diff, vec![(
        "use mpsc_dev::tokio as mpsc; // was: use tokio::sync::mpsc;",
        "use tokio::sync::mpsc; // the port: use mpsc_dev::tokio as mpsc;"
    )]);
}

#[test]
fn port_prints_what_tokio_prints() {
    let run = |name: &str| {
        let exe = Path::new(DIR).join("target/debug/examples").join(name);
        let out = Command::new(&exe).output().unwrap_or_else(|e| panic!("{}: {}", exe.display(), e));
        assert!(out.status.success(), "{}: {}", name, String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let (port, orig) = (run("07_port"), run("07_port_tokio"));
    assert!(orig.contains("watcher: receiver closed"), "{}", orig);
    assert_eq!(port, orig);
}
