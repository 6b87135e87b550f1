// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
//! Request/response across processes with the reply channel's sender
//! inside the request: `Sender<(Req, Sender<Resp>)>`, the server a forked
//! process.  One fork at a time (a child inherits every fd of the test
//! process, and must not hold another test's channels for long).

use mpsc_dev::{self as mpsc, RecvError, RecvTimeoutError, TryRecvError};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

type Request = (String, mpsc::Sender<String>);

static FORKS: Mutex<()> = Mutex::new(());

fn one_fork_at_a_time() -> MutexGuard<'static, ()> {
    FORKS.lock().unwrap_or_else(|e| e.into_inner())
}

/// fork(2): the child's pid, or `None` in the child, which must end in
/// [`child`].  The child has a copy of every fd: it drops what it must not
/// hold (the other end's handles) before it serves.
fn fork() -> Option<libc::pid_t> {
    // SAFETY: the child runs only channel code and then _exit.
    match unsafe { libc::fork() } {
        -1 => panic!("fork: {}", std::io::Error::last_os_error()),
        0 => None,
        pid => Some(pid),
    }
}

/// Runs `f` in the child and exits with its result (101 if it panics),
/// never returning into the test harness.
fn child(f: impl FnOnce() -> i32) -> ! {
    let code = catch_unwind(AssertUnwindSafe(f)).unwrap_or(101);
    // SAFETY: ends the child without running the harness's code.
    unsafe { libc::_exit(code) }
}

fn exit_status(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "child status {:#x}", status);
    libc::WEXITSTATUS(status)
}

/// A server process: `serve` for each request until every address is gone.
fn server(serve: fn(String, mpsc::Sender<String>)) -> (mpsc::Sender<Request>, libc::pid_t) {
    let (tx, rx) = mpsc::channel::<Request>();
    match fork() {
        None => {
            drop(tx);
            child(move || {
                for (text, reply) in rx {
                    serve(text, reply);
                }
                0
            })
        }
        Some(pid) => (tx, pid),
    }
}

#[test]
fn request_response_across_processes() {
    let _one = one_fork_at_a_time();
    let (addr, pid) = server(|text, reply| {
        let pid = std::process::id();
        reply.send(format!("{} from {}", text, pid)).unwrap();
    });
    let mut pids = Vec::new();
    for word in ["ping", "pong", "again"] {
        let (reply_tx, reply_rx) = mpsc::channel();
        addr.send((word.to_string(), reply_tx)).unwrap();
        let answer = reply_rx.recv().unwrap();
        let (text, from) = answer.split_once(" from ").unwrap();
        assert_eq!(text, word);
        pids.push(from.parse::<i32>().unwrap());
        // The server dropped its handle after the answer.
        assert_eq!(reply_rx.recv(), Err(RecvError));
    }
    // Answered by the server process, not by this one.
    assert_eq!(pids, vec![pid; 3]);
    drop(addr);
    assert_eq!(exit_status(pid), 0);
}

#[test]
fn the_reply_channel_disconnects_when_the_server_drops_the_handle() {
    let _one = one_fork_at_a_time();
    let (addr, pid) = server(|_text, reply| drop(reply));
    let (reply_tx, reply_rx) = mpsc::channel::<String>();
    addr.send(("anyone?".into(), reply_tx)).unwrap();
    assert_eq!(reply_rx.recv_timeout(Duration::from_secs(10)), Err(RecvTimeoutError::Disconnected));
    drop(addr);
    assert_eq!(exit_status(pid), 0);
}

#[test]
fn a_server_that_exits_with_requests_queued_disconnects_their_replies() {
    let _one = one_fork_at_a_time();
    let (addr, rx) = mpsc::channel::<Request>();
    let (go_tx, go_rx) = mpsc::channel::<u8>();
    let pid = match fork() {
        // The server exits without receiving: its receiver's queue is
        // freed, with the handles in it.
        None => child(move || {
            let _rx = rx;
            go_rx.recv().map_or(1, |_| 0)
        }),
        Some(pid) => pid,
    };
    drop((rx, go_rx));
    let (reply_tx, reply_rx) = mpsc::channel::<String>();
    addr.send(("lost".into(), reply_tx)).unwrap();
    assert_eq!(reply_rx.try_recv(), Err(TryRecvError::Empty));
    go_tx.send(1).unwrap();
    assert_eq!(exit_status(pid), 0);
    assert_eq!(reply_rx.recv_timeout(Duration::from_secs(10)), Err(RecvTimeoutError::Disconnected));
    // The request channel's receiver is gone everywhere.
    assert!(addr.send(("late".into(), mpsc::channel().0)).unwrap_err().is_disconnected());
}

#[test]
fn a_handle_passed_on_through_a_third_process_still_answers() {
    let _one = one_fork_at_a_time();
    // A forwarder hands each request, reply sender and all, on to a
    // worker process, which answers: the handle crosses two processes.
    let (work_tx, work_rx) = mpsc::channel::<Request>();
    let worker = match fork() {
        None => {
            drop(work_tx);
            child(move || {
                for (text, reply) in work_rx {
                    reply.send(text.repeat(2)).unwrap();
                }
                0
            })
        }
        Some(pid) => pid,
    };
    drop(work_rx);
    let (fwd_tx, fwd_rx) = mpsc::channel::<Request>();
    let forwarder = match fork() {
        None => {
            drop(fwd_tx);
            child(move || {
                for req in fwd_rx {
                    work_tx.send(req).unwrap();
                }
                0
            })
        }
        Some(pid) => pid,
    };
    drop((fwd_rx, work_tx));
    let (reply_tx, reply_rx) = mpsc::channel();
    fwd_tx.send(("ab".into(), reply_tx)).unwrap();
    assert_eq!(reply_rx.recv(), Ok("abab".to_string()));
    assert_eq!(reply_rx.recv(), Err(RecvError));
    drop(fwd_tx);
    assert_eq!(exit_status(forwarder), 0);
    assert_eq!(exit_status(worker), 0);
}
