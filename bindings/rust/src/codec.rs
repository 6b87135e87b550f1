// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
//! How a value crosses the device: the [`Message`] codec trait, and the
//! sender handles a message may carry beside its bytes.

use std::fmt;
use std::marker::PhantomData;
use std::os::unix::io::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

use crate::sys;

/// A value that does not encode, or bytes that do not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError {
    msg: String,
}

impl CodecError {
    /// An error saying `msg`.
    pub fn new(msg: impl Into<String>) -> Self {
        CodecError { msg: msg.into() }
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for CodecError {}

/// The codec trait: how a value becomes the bytes of one message, and the
/// sender handles that travel beside them, and back.
///
/// Implemented for `Vec<u8>`, `Box<[u8]>`, `String`, the integer and
/// float types (little-endian, fixed width), `bool` (one byte, 0 or 1),
/// `char` (its code point as a `u32`), tuples of up to six `Message`s,
/// the senders ([`Sender`](crate::Sender), [`SyncSender`](crate::SyncSender)
/// and the tokio `Sender`), and, with the `serde` feature, every type that
/// implements [`Bincode`].
///
/// `Vec<u8>` and `String` are the raw bytes, so they interoperate with
/// the C library and with the Python and Go bindings' bytes and text.
///
/// A message is at least one byte long: `read()` returning 0 means end of
/// file.  A send whose encoding is empty fails with an error value.
///
/// # Sender handles
///
/// A sender inside a message travels as a handle: the kernel moves a
/// sender role of its channel with the message, and the receiving
/// process gets it as a new fd, wrapped as a working sender.  A type that
/// holds senders implements [`encode_with`](Message::encode_with) and
/// [`decode_with`](Message::decode_with), which see the message's
/// [`Handles`] and [`ReceivedHandles`], and sets
/// [`HANDLES`](Message::HANDLES); tuples and `Bincode` types do this for
/// their fields.  In the bytes a sender is one byte, its index among the
/// message's handles.  Its plain `encode`/`decode` fail.
pub trait Message: Sized {
    /// Whether a value of this type may carry sender handles.  A receive
    /// asks the kernel to install handles only for such types; for the
    /// others it takes the bytes alone, and the kernel closes any handles
    /// the message carried.  A type whose `decode_with` takes handles must
    /// set it, or it never sees them.
    const HANDLES: bool = false;

    /// Appends the bytes that carry `self` to `buf`.
    fn encode(&self, buf: &mut Vec<u8>) -> Result<(), CodecError>;

    /// The value back from the bytes of one whole message.
    fn decode(bytes: &[u8]) -> Result<Self, CodecError>;

    /// Appends the bytes that carry `self` to `buf`, and attaches its
    /// sender handles to `handles`.  By default `encode`: no handles.
    fn encode_with<'a>(&'a self, buf: &mut Vec<u8>, handles: &mut Handles<'a>) -> Result<(), CodecError> {
        let _ = handles;
        self.encode(buf)
    }

    /// The value back from the bytes of one whole message and the handles
    /// it carried.  By default `decode`: no handles taken.  Handles left
    /// untaken are closed once the message is decoded.
    fn decode_with(bytes: &[u8], handles: &mut ReceivedHandles) -> Result<Self, CodecError> {
        let _ = handles;
        Self::decode(bytes)
    }
}

/// The sender handles a message being encoded carries: fds borrowed from
/// the value for as long as it is being sent.
#[derive(Debug, Default)]
pub struct Handles<'a> {
    fds: Vec<RawFd>,
    _borrow: PhantomData<BorrowedFd<'a>>,
}

impl<'a> Handles<'a> {
    /// Attaches the sender fd `fd` to the message and returns its index
    /// among the message's handles.  At most
    /// [`MAX_HANDLES`](crate::MAX_HANDLES) per message.  Only mpsc senders
    /// travel: the kernel refuses the send (`EINVAL`) for any other fd.
    pub fn attach(&mut self, fd: BorrowedFd<'a>) -> Result<u8, CodecError> {
        attach_raw(&mut self.fds, fd.as_raw_fd())
    }

    /// The fds attached so far, in index order.
    pub fn as_raw_fds(&self) -> &[RawFd] {
        &self.fds
    }

    /// How many handles are attached.
    pub fn len(&self) -> usize {
        self.fds.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.fds.is_empty()
    }
}

fn attach_raw(fds: &mut Vec<RawFd>, fd: RawFd) -> Result<u8, CodecError> {
    if fds.len() >= sys::MAX_HANDLES {
        return Err(CodecError::new(format!(
            "a message carries at most {} sender handles",
            sys::MAX_HANDLES
        )));
    }
    fds.push(fd);
    Ok((fds.len() - 1) as u8)
}

/// The sender handles a received message carried, installed as fds of
/// this process (close-on-exec) and owned here: each is taken once, by
/// its index; those never taken are closed when the message is decoded.
#[derive(Debug, Default)]
pub struct ReceivedHandles {
    fds: Vec<Option<OwnedFd>>,
}

impl From<Vec<OwnedFd>> for ReceivedHandles {
    /// The handles of a message, in index order (to test a `decode_with`).
    fn from(fds: Vec<OwnedFd>) -> Self {
        ReceivedHandles::new(fds)
    }
}

impl ReceivedHandles {
    pub(crate) fn new(fds: Vec<OwnedFd>) -> Self {
        ReceivedHandles { fds: fds.into_iter().map(Some).collect() }
    }

    /// Takes the handle of index `index`.
    pub fn take(&mut self, index: u8) -> Result<OwnedFd, CodecError> {
        take_raw(&mut self.fds, index)
    }

    /// How many handles the message carried.
    pub fn len(&self) -> usize {
        self.fds.len()
    }

    /// Whether it carried none.
    pub fn is_empty(&self) -> bool {
        self.fds.is_empty()
    }
}

fn take_raw(fds: &mut [Option<OwnedFd>], index: u8) -> Result<OwnedFd, CodecError> {
    match fds.get_mut(index as usize) {
        Some(f) => f.take().ok_or_else(|| {
            CodecError::new(format!("the message's sender handle {} is taken twice", index))
        }),
        None => Err(CodecError::new(format!(
            "the message carries {} sender handles, not one of index {}",
            fds.len(),
            index
        ))),
    }
}

/// A sender's bytes: one, its index among the message's handles.
pub(crate) fn encode_sender<'a>(
    fd: BorrowedFd<'a>,
    buf: &mut Vec<u8>,
    handles: &mut Handles<'a>,
) -> Result<(), CodecError> {
    buf.push(handles.attach(fd)?);
    Ok(())
}

pub(crate) fn decode_sender(bytes: &[u8], handles: &mut ReceivedHandles, what: &str) -> Result<OwnedFd, CodecError> {
    match bytes {
        [i] => handles.take(*i),
        _ => Err(wrong(bytes, what)),
    }
}

pub(crate) fn sender_alone(what: &str) -> CodecError {
    CodecError::new(format!(
        "{} is a sender handle: it encodes only inside a message sent on a channel (encode_with)",
        what
    ))
}

/// `Message` for a sender type whose fd is `$s => $fd` and which is
/// made from an `OwnedFd` by `From`.
macro_rules! sender_message {
    ($name:ty, $what:expr, $s:ident => $fd:expr) => {
        impl<T> $crate::codec::Message for $name {
            const HANDLES: bool = true;
            fn encode(&self, _: &mut Vec<u8>) -> Result<(), $crate::codec::CodecError> {
                Err($crate::codec::sender_alone($what))
            }
            fn decode(_: &[u8]) -> Result<Self, $crate::codec::CodecError> {
                Err($crate::codec::sender_alone($what))
            }
            fn encode_with<'a>(
                &'a self,
                buf: &mut Vec<u8>,
                handles: &mut $crate::codec::Handles<'a>,
            ) -> Result<(), $crate::codec::CodecError> {
                let $s = self;
                $crate::codec::encode_sender($fd.as_fd(), buf, handles)
            }
            fn decode_with(
                bytes: &[u8],
                handles: &mut $crate::codec::ReceivedHandles,
            ) -> Result<Self, $crate::codec::CodecError> {
                $crate::codec::decode_sender(bytes, handles, $what).map(Self::from)
            }
        }

        #[cfg(feature = "serde")]
        impl<T> serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let $s = self;
                let i = $crate::codec::serde_attach($fd.as_raw_fd(), $what).map_err(serde::ser::Error::custom)?;
                s.serialize_u8(i)
            }
        }

        #[cfg(feature = "serde")]
        impl<'de, T> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let i = <u8 as serde::Deserialize>::deserialize(d)?;
                $crate::codec::serde_take(i, $what).map(Self::from).map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use sender_message;

fn wrong(bytes: &[u8], what: &str) -> CodecError {
    CodecError::new(format!(
        "a message of {} bytes does not decode as {}",
        bytes.len(),
        what
    ))
}

impl Message for Vec<u8> {
    fn encode(&self, buf: &mut Vec<u8>) -> Result<(), CodecError> {
        buf.extend_from_slice(self);
        Ok(())
    }
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        Ok(bytes.to_vec())
    }
}

impl Message for Box<[u8]> {
    fn encode(&self, buf: &mut Vec<u8>) -> Result<(), CodecError> {
        buf.extend_from_slice(self);
        Ok(())
    }
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        Ok(bytes.into())
    }
}

impl Message for String {
    fn encode(&self, buf: &mut Vec<u8>) -> Result<(), CodecError> {
        buf.extend_from_slice(self.as_bytes());
        Ok(())
    }
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        String::from_utf8(bytes.to_vec()).map_err(|_| wrong(bytes, "String (not UTF-8)"))
    }
}

macro_rules! le_message {
    ($($t:ty),*) => {$(
        impl Message for $t {
            fn encode(&self, buf: &mut Vec<u8>) -> Result<(), CodecError> {
                buf.extend_from_slice(&self.to_le_bytes());
                Ok(())
            }
            fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
                match bytes.try_into() {
                    Ok(b) => Ok(<$t>::from_le_bytes(b)),
                    Err(_) => Err(wrong(bytes, stringify!($t))),
                }
            }
        }
    )*};
}
le_message!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64);

impl Message for bool {
    fn encode(&self, buf: &mut Vec<u8>) -> Result<(), CodecError> {
        buf.push(*self as u8);
        Ok(())
    }
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        match bytes {
            [0] => Ok(false),
            [1] => Ok(true),
            _ => Err(wrong(bytes, "bool")),
        }
    }
}

impl Message for char {
    fn encode(&self, buf: &mut Vec<u8>) -> Result<(), CodecError> {
        (*self as u32).encode(buf)
    }
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        char::from_u32(u32::decode(bytes)?).ok_or_else(|| wrong(bytes, "char"))
    }
}

// Tuples: every element but the last is prefixed by its length, a
// little-endian u32; the last takes the rest of the message.  Their
// handles are the fields' handles, in field order.
fn put_field<'a, M: Message>(m: &'a M, buf: &mut Vec<u8>, handles: Option<&mut Handles<'a>>) -> Result<(), CodecError> {
    let at = buf.len();
    buf.extend_from_slice(&[0; 4]);
    match handles {
        Some(h) => m.encode_with(buf, h)?,
        None => m.encode(buf)?,
    }
    let len = u32::try_from(buf.len() - at - 4)
        .map_err(|_| CodecError::new("a tuple field is longer than 4 GiB"))?;
    buf[at..at + 4].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

fn take_field<M: Message>(rest: &mut &[u8], all: &[u8], handles: Option<&mut ReceivedHandles>) -> Result<M, CodecError> {
    let short = || wrong(all, std::any::type_name::<M>());
    let head: [u8; 4] = rest.get(..4).ok_or_else(short)?.try_into().unwrap();
    let len = u32::from_le_bytes(head) as usize;
    let field = rest.get(4..4 + len).ok_or_else(short)?;
    *rest = &rest[4 + len..];
    match handles {
        Some(h) => M::decode_with(field, h),
        None => M::decode(field),
    }
}

macro_rules! tuple_message {
    ($($name:ident)+ ; $last:ident) => {
        impl<$($name: Message,)+ $last: Message> Message for ($($name,)+ $last,) {
            const HANDLES: bool = $($name::HANDLES ||)+ $last::HANDLES;
            #[allow(non_snake_case)]
            fn encode(&self, buf: &mut Vec<u8>) -> Result<(), CodecError> {
                let ($($name,)+ $last,) = self;
                $(put_field($name, buf, None)?;)+
                $last.encode(buf)
            }
            #[allow(non_snake_case)]
            fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
                let mut rest = bytes;
                $(let $name = take_field::<$name>(&mut rest, bytes, None)?;)+
                Ok(($($name,)+ $last::decode(rest)?,))
            }
            #[allow(non_snake_case)]
            fn encode_with<'a>(&'a self, buf: &mut Vec<u8>, handles: &mut Handles<'a>) -> Result<(), CodecError> {
                let ($($name,)+ $last,) = self;
                $(put_field($name, buf, Some(&mut *handles))?;)+
                $last.encode_with(buf, handles)
            }
            #[allow(non_snake_case)]
            fn decode_with(bytes: &[u8], handles: &mut ReceivedHandles) -> Result<Self, CodecError> {
                let mut rest = bytes;
                $(let $name = take_field::<$name>(&mut rest, bytes, Some(&mut *handles))?;)+
                Ok(($($name,)+ $last::decode_with(rest, handles)?,))
            }
        }
    };
}
tuple_message!(A; B);
tuple_message!(A B; C);
tuple_message!(A B C; D);
tuple_message!(A B C D; E);
tuple_message!(A B C D E; F);

/// Types that cross the channel as bincode (feature `serde`): derive
/// `Serialize` and `Deserialize`, then opt in with one line.
///
/// ```ignore
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Job { id: u32, name: String, reply: mpsc_dev::Sender<String> }
/// impl mpsc_dev::Bincode for Job {}
/// ```
///
/// The opt-in keeps the `serde` feature additive: it never changes how a
/// type that already is a [`Message`] (`String`, say) is encoded.
///
/// Senders are serde types too, but only inside a message being sent or
/// received: serialized there, a sender attaches its fd to the message as
/// a handle and writes its index (a `u8`); serializing one anywhere else
/// is an error.  Since a serde type does not say whether it holds a
/// sender, a receive of a `Bincode` type always asks the kernel for the
/// message's handles (and closes those the value does not take).
#[cfg(feature = "serde")]
pub trait Bincode: serde::Serialize + serde::de::DeserializeOwned {}

// The handles of the message being encoded or decoded on this thread, for
// the senders' serde impls (serde has no context to pass them through).
#[cfg(feature = "serde")]
thread_local! {
    static SERDE_OUT: std::cell::RefCell<Option<Vec<RawFd>>> = std::cell::RefCell::new(None);
    static SERDE_IN: std::cell::RefCell<Option<Vec<Option<OwnedFd>>>> = std::cell::RefCell::new(None);
}

#[cfg(feature = "serde")]
pub(crate) fn serde_attach(fd: RawFd, what: &str) -> Result<u8, CodecError> {
    SERDE_OUT.with(|c| match c.borrow_mut().as_mut() {
        Some(fds) => attach_raw(fds, fd),
        None => Err(sender_alone(what)),
    })
}

#[cfg(feature = "serde")]
pub(crate) fn serde_take(index: u8, what: &str) -> Result<OwnedFd, CodecError> {
    SERDE_IN.with(|c| match c.borrow_mut().as_mut() {
        Some(fds) => take_raw(fds, index),
        None => Err(sender_alone(what)),
    })
}

/// Runs `f` with `*slot` moved into the thread-local `key`, and moves it
/// back afterwards, even if `f` panics.
#[cfg(feature = "serde")]
fn with_slot<V: 'static, R>(
    key: &'static std::thread::LocalKey<std::cell::RefCell<Option<V>>>,
    slot: &mut V,
    empty: V,
    f: impl FnOnce() -> R,
) -> R {
    struct Back<'s, V: 'static> {
        key: &'static std::thread::LocalKey<std::cell::RefCell<Option<V>>>,
        slot: &'s mut V,
        outer: Option<V>,
    }
    impl<'s, V: 'static> Drop for Back<'s, V> {
        fn drop(&mut self) {
            let outer = self.outer.take();
            if let Some(v) = self.key.with(|c| c.replace(outer)) {
                *self.slot = v;
            }
        }
    }
    let mine = std::mem::replace(slot, empty);
    let outer = key.with(|c| c.replace(Some(mine)));
    let _back = Back { key, slot, outer };
    f()
}

#[cfg(feature = "serde")]
impl<T: Bincode> Message for T {
    const HANDLES: bool = true;
    fn encode(&self, buf: &mut Vec<u8>) -> Result<(), CodecError> {
        bincode::serialize_into(buf, self).map_err(|e| CodecError::new(e.to_string()))
    }
    fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        bincode::deserialize(bytes).map_err(|e| {
            CodecError::new(format!(
                "a message of {} bytes does not decode as {}: {}",
                bytes.len(),
                std::any::type_name::<T>(),
                e
            ))
        })
    }
    fn encode_with<'a>(&'a self, buf: &mut Vec<u8>, handles: &mut Handles<'a>) -> Result<(), CodecError> {
        with_slot(&SERDE_OUT, &mut handles.fds, Vec::new(), || self.encode(buf))
    }
    fn decode_with(bytes: &[u8], handles: &mut ReceivedHandles) -> Result<Self, CodecError> {
        with_slot(&SERDE_IN, &mut handles.fds, Vec::new(), || Self::decode(bytes))
    }
}

/// A message encoded: its bytes, checked to be at least one long, and
/// the raw fds of the sender handles it carries, borrowed from the value
/// (which must stay alive until the send is done).
pub(crate) struct Encoded<'a> {
    pub(crate) bytes: Vec<u8>,
    pub(crate) fds: Vec<RawFd>,
    _borrow: PhantomData<BorrowedFd<'a>>,
}

impl<'a> Encoded<'a> {
    /// The handles duplicated into fds of their own, for a send that may
    /// outlive the value (a blocking thread's).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn dup_fds(&self) -> std::io::Result<Vec<OwnedFd>> {
        self.fds.iter().map(|&fd| sys::dup(fd)).collect()
    }
}

/// Encodes `t` for a send.
pub(crate) fn encode<T: Message>(t: &T) -> Result<Encoded<'_>, CodecError> {
    let mut bytes = Vec::new();
    let mut handles = Handles::default();
    t.encode_with(&mut bytes, &mut handles)?;
    if bytes.is_empty() {
        return Err(CodecError::new("a message is at least one byte long"));
    }
    Ok(Encoded { bytes, fds: handles.fds, _borrow: PhantomData })
}

/// `T` from a received message and its handles; handles `T` does not
/// take are closed.  Bytes that do not decode (a foreign sender speaking
/// another format) panic, naming their length and `T`.
pub(crate) fn decode<T: Message>(bytes: &[u8], fds: Vec<OwnedFd>) -> T {
    let mut handles = ReceivedHandles::new(fds);
    T::decode_with(bytes, &mut handles).unwrap_or_else(|e| panic!("mpsc-dev: {}", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Message + PartialEq + fmt::Debug>(v: T) {
        let bytes = encode(&v).unwrap().bytes;
        assert_eq!(T::decode(&bytes), Ok(v));
    }

    #[test]
    fn messages_round_trip() {
        round_trip(String::from("héllo"));
        round_trip(vec![0u8, 255, 7]);
        round_trip(-5i32);
        round_trip(u64::MAX);
        round_trip(1.5f64);
        round_trip(true);
        round_trip('€');
        round_trip((1u8, String::from("two"), vec![3u8]));
        round_trip((String::new(), 7u16));
        round_trip(((1u8, 2u8), (String::from("a"), 'b')));
    }

    #[test]
    fn wire_format_is_raw_for_bytes_and_text() {
        assert_eq!(encode(&String::from("hi")).unwrap().bytes, b"hi");
        assert_eq!(encode(&258u16).unwrap().bytes, [2, 1]);
        assert_eq!(encode(&(1u8, 2u8)).unwrap().bytes, [1, 0, 0, 0, 1, 2]);
    }

    #[test]
    fn decoding_is_strict() {
        assert!(i32::decode(&[1, 2, 3]).is_err());
        assert!(bool::decode(&[2]).is_err());
        assert!(String::decode(&[0xff]).is_err());
        assert!(char::decode(&0xd800u32.to_le_bytes()).is_err());
        assert!(<(u8, u8)>::decode(&[9, 0, 0, 0, 1]).is_err());
        assert!(<(u8, u8)>::decode(&[1, 0]).is_err());
    }

    #[test]
    fn empty_encoding_is_an_error_not_a_panic() {
        let e = encode(&Vec::<u8>::new()).err().unwrap();
        assert!(e.to_string().contains("at least one byte"), "{}", e);
    }

    fn pipe_fd() -> OwnedFd {
        let mut p = [0; 2];
        // SAFETY: p has room for two fds.
        assert_eq!(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: pipe2 made both, owned here; the read end is closed.
        unsafe {
            libc::close(p[0]);
            std::os::unix::io::FromRawFd::from_raw_fd(p[1])
        }
    }

    #[test]
    fn senders_are_handle_indexes_in_the_bytes() {
        // Any fd will do for the codec; only the kernel checks the kind.
        let a = crate::Sender::<u8>::from(pipe_fd());
        let b = crate::SyncSender::<u8>::from(pipe_fd());
        let v = (a, String::from("t"), (7u8, b));
        let m = encode(&v).unwrap();
        assert_eq!(m.bytes, [1, 0, 0, 0, 0, 1, 0, 0, 0, b't', 1, 0, 0, 0, 7, 1]);
        assert_eq!(m.fds, [v.0.as_raw_fd(), (v.2).1.as_raw_fd()]);
        assert!(<(crate::Sender<u8>, String, (u8, crate::SyncSender<u8>))>::HANDLES);
        assert!(!<(u8, String)>::HANDLES);
        let fds = vec![pipe_fd(), pipe_fd()];
        let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
        let (a, s, (n, b)): (crate::Sender<u8>, String, (u8, crate::SyncSender<u8>)) = decode(&m.bytes, fds);
        assert_eq!((s.as_str(), n), ("t", 7));
        assert_eq!([a.as_raw_fd(), b.as_raw_fd()], raw[..]);
    }

    #[test]
    fn handle_indexes_are_checked() {
        let mut h = ReceivedHandles::new(vec![pipe_fd()]);
        assert!(<crate::Sender<u8>>::decode_with(&[1], &mut h).is_err());
        assert!(<crate::Sender<u8>>::decode_with(&[0, 0], &mut h).is_err());
        assert!(<crate::Sender<u8>>::decode_with(&[0], &mut h).is_ok());
        let e = <crate::Sender<u8>>::decode_with(&[0], &mut h).unwrap_err();
        assert!(e.to_string().contains("taken twice"), "{}", e);
    }

    #[test]
    #[should_panic(expected = "does not decode as i32")]
    fn foreign_bytes_panic_clearly() {
        let _: i32 = decode(b"abc", Vec::new());
    }
}
