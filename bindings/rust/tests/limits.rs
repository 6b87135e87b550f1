// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
//! Refusals that are error values, not panics: the per-user limit
//! (EDQUOT) and running out of fds (EMFILE).  Each runs in a child
//! process (this test binary again, with an environment variable), since
//! it changes the uid or the fd limit.

use mpsc_dev::{self as mpsc, TrySendError};
use std::os::unix::process::CommandExt;
use std::process::Command;

const CHILD: &str = "MPSC_RUST_LIMITS_CHILD";

fn run_child(test: &str, setup: impl Fn() -> std::io::Result<()> + Send + Sync + 'static) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"]).env(CHILD, test);
    // SAFETY: setup only makes system calls.
    unsafe { cmd.pre_exec(setup) };
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && text.contains("1 passed"), "{}", text);
}

fn in_child(test: &str) -> bool {
    std::env::var(CHILD).map_or(false, |v| v == test)
}

fn sysctl(name: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/mpsc/{}", name)).unwrap().trim().to_string()
}

fn set_sysctl(name: &str, v: &str) {
    std::fs::write(format!("/proc/sys/mpsc/{}", name), v).unwrap();
}

#[test]
fn per_user_limit_is_an_error_value() {
    if in_child("per_user_limit_is_an_error_value") {
        // uid 65534, no CAP_SYS_RESOURCE: the limit applies.
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        let mut sent = 0;
        let err = loop {
            match tx.send(vec![1; 1000]) {
                Ok(()) => sent += 1,
                Err(e) => break e,
            }
            assert!(sent < 100_000, "no limit hit");
        };
        assert_eq!(err.io_error().unwrap().raw_os_error(), Some(libc::EDQUOT), "{}", err);
        assert!(err.to_string().contains("max_user_bytes"), "{}", err);
        assert_eq!(err.0.len(), 1000);
        match tx.try_send(vec![1; 1000]) {
            Err(TrySendError::Io(_, e)) => assert_eq!(e.raw_os_error(), Some(libc::EDQUOT)),
            other => panic!("{:?}", other),
        }
        // Receiving gives room back.
        rx.recv().unwrap();
        tx.send(vec![2; 10]).unwrap();
        return;
    }
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to set max_user_bytes");
        return;
    }
    let saved = sysctl("max_user_bytes");
    set_sysctl("max_user_bytes", "65536");
    run_child("per_user_limit_is_an_error_value", || {
        // SAFETY: plain system calls between fork and exec.
        unsafe {
            if libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    });
    set_sysctl("max_user_bytes", &saved);
}

#[test]
fn out_of_fds_is_an_error_value() {
    if in_child("out_of_fds_is_an_error_value") {
        let (tx, _rx) = mpsc::channel::<u8>();
        let mut clones = Vec::new();
        let err = loop {
            match tx.try_clone() {
                Ok(c) => clones.push(c),
                Err(e) => break e,
            }
            assert!(clones.len() < 100, "no fd limit hit");
        };
        assert_eq!(err.raw_os_error(), Some(libc::EMFILE));
        let err = mpsc::try_channel::<u8>().unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EMFILE));
        #[cfg(feature = "tokio")]
        {
            let err = mpsc_dev::tokio::try_channel::<u8>(1).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EMFILE));
        }
        // Sends still work.
        tx.send(1).unwrap();
        return;
    }
    run_child("out_of_fds_is_an_error_value", || {
        let lim = libc::rlimit { rlim_cur: 32, rlim_max: 32 };
        // SAFETY: lim is a valid rlimit.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    });
}

#[test]
fn out_of_fds_leaves_a_message_with_handles_queued() {
    if in_child("out_of_fds_leaves_a_message_with_handles_queued") {
        let (tx, rx) = mpsc::channel::<(u8, mpsc::Sender<u8>)>();
        let (inner_tx, inner_rx) = mpsc::channel::<u8>();
        tx.send((1, inner_tx)).unwrap();
        let mut fill = Vec::new();
        while let Ok(c) = tx.try_clone() {
            fill.push(c);
            assert!(fill.len() < 100, "no fd limit hit");
        }
        // No fd for the handle: the receive fails, and says why.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rx.recv()));
        let e = r.unwrap_err();
        let text = e.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(text.contains("stays queued"), "{}", text);
        assert_eq!(rx.len(), 1);
        // With an fd free, the message comes whole.
        drop(fill.pop());
        let (n, inner) = rx.recv().unwrap();
        inner.send(n).unwrap();
        assert_eq!(inner_rx.recv(), Ok(1));
        return;
    }
    run_child("out_of_fds_leaves_a_message_with_handles_queued", || {
        let lim = libc::rlimit { rlim_cur: 32, rlim_max: 32 };
        // SAFETY: lim is a valid rlimit.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    });
}
