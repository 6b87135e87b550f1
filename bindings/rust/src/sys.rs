// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
//! The /dev/mpsc ABI (uapi/linux/mpsc.h) and the raw calls on it.
//! tests/abi.rs checks every number against the C header.

use std::io;
use std::os::unix::io::{FromRawFd, OwnedFd, RawFd};

const MAGIC: u64 = 0xB8;

#[repr(C)]
#[derive(Default)]
pub struct CloneArgs {
    pub flags: u32,
    pub fd: i32,
    pub reserved: [u64; 2],
}

/// A snapshot of a channel, as `MPSC_IOC_INFO` reports it.
#[repr(C)]
#[derive(Default, Debug, Clone, Copy)]
pub struct Info {
    pub flags: u32,
    pub state: u32,
    pub id: u64,
    pub queued_msgs: u64,
    pub queued_bytes: u64,
    pub max_queue_bytes: u64,
    pub max_msg_size: u64,
    pub capacity: u64,
    pub senders: u64,
    pub sent: u64,
    pub received: u64,
    pub queued_mem: u64,
    pub queued_handles: u64,
    pub reserved: [u64; 4],
}

#[repr(C)]
#[derive(Default)]
pub struct CapacityArgs {
    pub capacity: u64,
    pub flags: u32,
    pub reserved: u32,
}

#[repr(C)]
#[derive(Default)]
pub struct Xfer {
    pub buf: u64,
    pub len: u64,
    pub timeout_ns: u64,
    pub flags: u32,
    pub count: u32,
    pub reserved: [u64; 2],
}

const fn ioc(dir: u64, nr: u64, size: usize) -> u64 {
    dir << 30 | (size as u64) << 16 | MAGIC << 8 | nr
}

pub const IOC_CLONE_SENDER: u64 = ioc(3, 0x01, std::mem::size_of::<CloneArgs>());
pub const IOC_DISCONNECT: u64 = ioc(0, 0x02, 0);
pub const IOC_INFO: u64 = ioc(3, 0x03, std::mem::size_of::<Info>());
pub const IOC_SET_CAPACITY: u64 = ioc(1, 0x05, std::mem::size_of::<CapacityArgs>());
pub const IOC_CLOSE: u64 = ioc(0, 0x06, 0);
pub const IOC_SEND: u64 = ioc(3, 0x07, std::mem::size_of::<Xfer>());
pub const IOC_RECV: u64 = ioc(3, 0x08, std::mem::size_of::<Xfer>());
pub const TIMEOUT_FOREVER: u64 = !0;
pub const XFER_BATCH: u32 = 1 << 1;
pub const XFER_HANDLES: u32 = 1 << 2;
pub const XFER_CLOEXEC: u32 = 1 << 3;
/// Sender handles one message may carry (MPSC_MAX_HANDLES).
pub const MAX_HANDLES: usize = 16;
/// struct mpsc_rec: u32 len, u16 nfds, u16 flags.
pub const REC_HEADER: usize = 8;
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub const STATE_RX_OPEN: u32 = 1 << 2;
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub const STATE_CLOSED: u32 = 1 << 3;
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub const CAPACITY_UNBOUNDED: u64 = !0;

fn check(ret: libc::c_long) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// ioctl(2), restarted on EINTR.
pub fn ioctl(fd: RawFd, req: u64, arg: *mut libc::c_void) -> io::Result<usize> {
    loop {
        // SAFETY: every caller passes a pointer to the struct `req` expects.
        let r = unsafe { libc::ioctl(fd, req as _, arg) };
        match check(r as libc::c_long) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// MPSC_IOC_SEND / MPSC_IOC_RECV with a timeout (0 tries once); EINTR is
/// retried with the same struct, whose deadline the kernel has fixed.
/// Returns the call's result and the struct's `len` after it: on a
/// receive's EMSGSIZE, the length of the message that did not fit.
pub fn xfer(fd: RawFd, req: u64, buf: *mut u8, len: usize, timeout_ns: u64) -> (io::Result<usize>, u64) {
    let mut x = Xfer {
        buf: buf as u64,
        len: len as u64,
        timeout_ns,
        ..Default::default()
    };
    let r = ioctl(fd, req, (&mut x as *mut Xfer).cast());
    (r, x.len)
}

/// Sends one message, waiting at most `timeout_ns`.
pub fn send(fd: RawFd, msg: &[u8], timeout_ns: u64) -> io::Result<usize> {
    // The kernel only reads through the pointer of a send.
    xfer(fd, IOC_SEND, msg.as_ptr() as *mut u8, msg.len(), timeout_ns).0
}

/// Receives one message into `buf`, waiting at most `timeout_ns`; a
/// message longer than `buf` grows it and is taken on a second call.
/// Returns the length, 0 at end of file.
pub fn recv(fd: RawFd, buf: &mut Vec<u8>, timeout_ns: u64) -> io::Result<usize> {
    if buf.is_empty() {
        buf.resize(MIN_RECV_BUF, 0);
    }
    loop {
        match xfer(fd, IOC_RECV, buf.as_mut_ptr(), buf.len(), timeout_ns) {
            (Err(e), need) if e.raw_os_error() == Some(libc::EMSGSIZE) && need as usize > buf.len() => {
                buf.resize(need as usize, 0);
            }
            (r, _) => return r,
        }
    }
}

/// The receive buffer a receiver starts with; it grows to the largest
/// message received, never to max_msg_size unasked.
pub const MIN_RECV_BUF: usize = 4096;

/// MPSC_REC_ALIGN: records and their parts are padded to 8 bytes.
const fn align8(n: usize) -> usize {
    (n + 7) & !7
}

/// MPSC_REC_SIZE(len, nfds).
pub const fn rec_size(len: usize, nfds: usize) -> usize {
    REC_HEADER + align8(4 * nfds) + align8(len)
}

/// Sends one message carrying the sender fds `fds` (none: a plain send).
/// The kernel takes a sender role of each fd's channel into the message
/// while the call runs; the caller's fds stay open, and the caller closes
/// them afterwards (the message then holds the only roles).
pub fn send_msg(fd: RawFd, msg: &[u8], fds: &[RawFd], timeout_ns: u64) -> io::Result<()> {
    if fds.is_empty() {
        return send(fd, msg, timeout_ns).map(drop);
    }
    // One record: header, fds padded to 8 bytes, payload padded to 8.
    let len = u32::try_from(msg.len()).map_err(|_| io::Error::from_raw_os_error(libc::EMSGSIZE))?;
    let nfds = u16::try_from(fds.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut rec = vec![0u8; rec_size(msg.len(), fds.len())];
    rec[0..4].copy_from_slice(&len.to_ne_bytes());
    rec[4..6].copy_from_slice(&nfds.to_ne_bytes());
    for (i, f) in fds.iter().enumerate() {
        rec[REC_HEADER + 4 * i..REC_HEADER + 4 * i + 4].copy_from_slice(&f.to_ne_bytes());
    }
    let at = REC_HEADER + align8(4 * fds.len());
    rec[at..at + msg.len()].copy_from_slice(msg);
    let mut x = Xfer {
        buf: rec.as_ptr() as u64,
        len: rec.len() as u64,
        timeout_ns,
        flags: XFER_BATCH,
        count: 1,
        ..Default::default()
    };
    // A batch of one returns 1, or fails with that record's error.
    ioctl(fd, IOC_SEND, (&mut x as *mut Xfer).cast()).map(drop)
}

/// One received message: its payload is `buf[start..start + len]` of the
/// buffer given to [`recv_msg`], and `fds` the sender handles it carried,
/// installed as fds of this process (close-on-exec) and owned here.
pub struct Msg {
    pub start: usize,
    pub len: usize,
    pub fds: Vec<OwnedFd>,
}

impl Msg {
    pub fn payload<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        &buf[self.start..self.start + self.len]
    }
}

/// Receives one message into `buf` (grown as needed), waiting at most
/// `timeout_ns`; `Ok(None)` at end of file.  With `handles`, a batch
/// receive of one message that installs the sender handles it carries
/// (`MPSC_XFER_HANDLES | MPSC_XFER_CLOEXEC`): all or none, and on
/// `EMFILE` the message stays queued.  Without, a plain receive: the
/// kernel drops any handles the message carried.
pub fn recv_msg(fd: RawFd, buf: &mut Vec<u8>, timeout_ns: u64, handles: bool) -> io::Result<Option<Msg>> {
    if !handles {
        return Ok(match recv(fd, buf, timeout_ns)? {
            0 => None,
            len => Some(Msg { start: 0, len, fds: Vec::new() }),
        });
    }
    if buf.len() < MIN_RECV_BUF {
        buf.resize(MIN_RECV_BUF, 0);
    }
    loop {
        let mut x = Xfer {
            buf: buf.as_mut_ptr() as u64,
            len: buf.len() as u64,
            timeout_ns,
            flags: XFER_BATCH | XFER_HANDLES | XFER_CLOEXEC,
            count: 1,
            ..Default::default()
        };
        match ioctl(fd, IOC_RECV, (&mut x as *mut Xfer).cast()) {
            Ok(0) => return Ok(None),
            Ok(_) => return Ok(Some(parse_rec(buf)?)),
            // The first record's size is in x.len.
            Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) && x.len as usize > buf.len() => {
                buf.resize(x.len as usize, 0);
            }
            Err(e) => return Err(e),
        }
    }
}

/// The first record of a received batch.  Its fds are taken into
/// ownership before anything else is looked at, so none can leak.
fn parse_rec(buf: &[u8]) -> io::Result<Msg> {
    let len = u32::from_ne_bytes(buf[0..4].try_into().unwrap()) as usize;
    let nfds = u16::from_ne_bytes(buf[4..6].try_into().unwrap()) as usize;
    let mut fds = Vec::with_capacity(nfds);
    for i in 0..nfds {
        let at = REC_HEADER + 4 * i;
        let f = match buf.get(at..at + 4) {
            Some(b) => i32::from_ne_bytes(b.try_into().unwrap()),
            None => break,
        };
        if f >= 0 {
            // SAFETY: the kernel installed this fd for us; nothing else owns it.
            fds.push(unsafe { OwnedFd::from_raw_fd(f) });
        }
    }
    let start = REC_HEADER + align8(4 * nfds);
    if fds.len() != nfds || start + len > buf.len() {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "mpsc-dev: malformed record from the kernel"));
    }
    Ok(Msg { start, len, fds })
}

pub fn info(fd: RawFd) -> io::Result<Info> {
    let mut info = Info::default();
    ioctl(fd, IOC_INFO, (&mut info as *mut Info).cast())?;
    Ok(info)
}

#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
/// A second fd for the same open file (so the same sender role).
pub fn dup(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC takes no pointer.
    let r = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fcntl returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

/// poll(2) on `fds`, restarted on EINTR with the time left.
pub fn poll(fds: &mut [libc::pollfd], deadline: Option<std::time::Instant>) -> io::Result<usize> {
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(std::time::Instant::now());
                // Round up, so that a wait never ends before its deadline.
                let ms = (left.as_nanos() + 999_999) / 1_000_000;
                ms.min(i32::MAX as u128) as i32
            }
        };
        // SAFETY: fds is a valid, writable slice of pollfd.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        match check(r as libc::c_long) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

pub fn clone_sender(fd: RawFd, flags: i32) -> io::Result<OwnedFd> {
    let mut args = CloneArgs {
        flags: (libc::O_CLOEXEC | flags) as u32,
        fd: -1,
        ..Default::default()
    };
    let nfd = ioctl(fd, IOC_CLONE_SENDER, (&mut args as *mut CloneArgs).cast())?;
    // SAFETY: the ioctl returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(nfd as RawFd) })
}

/// A new channel as Rust's separate (tx, rx): a receiver whose own sender
/// role is dropped, and one cloned sender.
pub fn open(capacity: Option<u64>, nonblock: bool) -> io::Result<(OwnedFd, OwnedFd)> {
    let path = b"/dev/mpsc\0";
    let flags = libc::O_RDWR | libc::O_CLOEXEC | if nonblock { libc::O_NONBLOCK } else { 0 };
    // SAFETY: path is NUL-terminated.
    let rx = unsafe { libc::open(path.as_ptr().cast(), flags) };
    if rx < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: open returned a new fd that nothing else owns.
    let rx = unsafe { OwnedFd::from_raw_fd(rx) };
    use std::os::unix::io::AsRawFd;
    if let Some(capacity) = capacity {
        let mut args = CapacityArgs {
            capacity,
            ..Default::default()
        };
        ioctl(rx.as_raw_fd(), IOC_SET_CAPACITY, (&mut args as *mut CapacityArgs).cast())?;
    }
    let tx = clone_sender(rx.as_raw_fd(), if nonblock { libc::O_NONBLOCK } else { 0 })?;
    ioctl(rx.as_raw_fd(), IOC_DISCONNECT, std::ptr::null_mut())?;
    Ok((tx, rx))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The transfer flags and the record layout agree with the C header
    /// (tests/abi.rs checks the ioctl numbers and struct sizes).
    #[test]
    fn records_match_header() {
        let dir = std::env::temp_dir().join(format!("mpsc-rec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("probe.c");
        std::fs::write(
            &src,
            r#"#include <stdio.h>
#include <linux/mpsc.h>
int main(void) {
	printf("%u %u %u %d %llu %llu %zu %zu\n", MPSC_XFER_BATCH, MPSC_XFER_HANDLES,
	       MPSC_XFER_CLOEXEC, MPSC_MAX_HANDLES,
	       (unsigned long long)MPSC_REC_SIZE(5, 3),
	       (unsigned long long)MPSC_REC_SIZE(16, 2),
	       sizeof(struct mpsc_rec), sizeof(struct mpsc_xfer));
	return 0;
}"#,
        )
        .unwrap();
        let uapi = concat!(env!("CARGO_MANIFEST_DIR"), "/../../uapi");
        let exe = dir.join("probe");
        let st = std::process::Command::new("cc")
            .args(["-I", uapi, "-o"])
            .arg(&exe)
            .arg(&src)
            .status()
            .unwrap();
        assert!(st.success());
        let out = String::from_utf8(std::process::Command::new(&exe).output().unwrap().stdout).unwrap();
        let v: Vec<u64> = out.split_whitespace().map(|s| s.parse().unwrap()).collect();
        let ours = vec![
            XFER_BATCH as u64,
            XFER_HANDLES as u64,
            XFER_CLOEXEC as u64,
            MAX_HANDLES as u64,
            rec_size(5, 3) as u64,
            rec_size(16, 2) as u64,
            REC_HEADER as u64,
            std::mem::size_of::<Xfer>() as u64,
        ];
        assert_eq!(v, ours);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
