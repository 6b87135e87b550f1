// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
//! The tokio receiver as a Stream (feature `stream`).

use mpsc_dev::tokio::{self as mpsc, ReceiverStream};
use tokio_stream::{Stream, StreamExt};

fn is_stream<S: Stream>(_: &S) {}

#[tokio::test]
async fn receiver_is_a_stream() {
    let (tx, rx) = mpsc::channel::<u32>(4);
    is_stream(&rx);
    tokio::spawn(async move {
        for i in 0..5 {
            tx.send(i).await.unwrap();
        }
    });
    let got: Vec<u32> = rx.map(|v| v * 10).collect().await;
    assert_eq!(got, vec![0, 10, 20, 30, 40]);
}

#[tokio::test]
async fn receiver_stream_wrapper() {
    let (tx, rx) = mpsc::channel::<String>(4);
    let mut stream = ReceiverStream::new(rx);
    tx.send("a".into()).await.unwrap();
    tx.send("b".into()).await.unwrap();
    assert_eq!(stream.next().await.as_deref(), Some("a"));
    stream.close();
    assert_eq!(stream.next().await.as_deref(), Some("b"));
    assert_eq!(stream.next().await, None);
    let _rx = stream.into_inner();
}
