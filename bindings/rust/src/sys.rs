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
    pub reserved: [u64; 5],
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
    pub reserved0: u32,
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

pub fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    loop {
        // SAFETY: buf is a valid slice.
        let r = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        match check(r as libc::c_long) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: buf is a valid, writable slice.
        let r = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        match check(r as libc::c_long) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// MPSC_IOC_SEND / MPSC_IOC_RECV with a timeout (0 tries once); EINTR is
/// retried with the same struct, whose deadline the kernel has fixed.
pub fn xfer(fd: RawFd, req: u64, buf: *mut u8, len: usize, timeout_ns: u64) -> io::Result<usize> {
    let mut x = Xfer {
        buf: buf as u64,
        len: len as u64,
        timeout_ns,
        ..Default::default()
    };
    ioctl(fd, req, (&mut x as *mut Xfer).cast())
}

pub fn info(fd: RawFd) -> io::Result<Info> {
    let mut info = Info::default();
    ioctl(fd, IOC_INFO, (&mut info as *mut Info).cast())?;
    Ok(info)
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
pub fn open(capacity: Option<u64>, nonblock: bool) -> io::Result<(OwnedFd, OwnedFd, usize)> {
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
    let max = info(rx.as_raw_fd())?.max_msg_size as usize;
    Ok((tx, rx, max))
}
