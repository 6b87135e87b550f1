# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Handles cross multiprocessing under every start method as working
duplicates: each copy has a fd of its own, and closing one never closes
another."""

import multiprocessing
import os

import pytest

import mpsc

METHODS = ["fork", "spawn", "forkserver"]


def child_sends(tx, text):
    tx.send("%s from %d" % (text, os.getpid()))
    tx.close()


def child_closes(tx):
    tx.close()


def child_takes_from_queue(q):
    tx = q.get()
    tx.send("via a queue")
    tx.close()


def child_receives(rx, out):
    # Not "for m in rx": a fork child also inherits the parent's sender.
    out.put([rx.recv() for _ in range(3)])


@pytest.mark.parametrize("method", METHODS)
def test_sender_as_process_argument(method):
    ctx = multiprocessing.get_context(method)
    tx, rx = mpsc.channel(codec=mpsc.TEXT)
    p = ctx.Process(target=child_sends, args=(tx, method))
    p.start()
    p.join(60)
    assert p.exitcode == 0
    assert rx.recv() == "%s from %d" % (method, p.pid)
    # The child's copy is gone; ours still works, then ends the channel.
    tx.send("parent")
    assert rx.recv() == "parent"
    tx.close()
    with pytest.raises(mpsc.Disconnected):
        rx.recv()


@pytest.mark.parametrize("method", METHODS)
def test_closing_the_copy_keeps_the_original(method):
    ctx = multiprocessing.get_context(method)
    tx, rx = mpsc.channel(codec=mpsc.TEXT)
    fd = tx.fileno()
    p = ctx.Process(target=child_closes, args=(tx,))
    p.start()
    p.join(60)
    assert p.exitcode == 0
    assert not tx.closed
    os.fstat(fd)
    tx.send("still open")
    assert rx.recv() == "still open"


@pytest.mark.parametrize("method", METHODS)
def test_sender_through_a_multiprocessing_queue(method):
    ctx = multiprocessing.get_context(method)
    tx, rx = mpsc.channel(codec=mpsc.TEXT)
    q = ctx.Queue()
    p = ctx.Process(target=child_takes_from_queue, args=(q,))
    p.start()
    q.put(tx)
    assert rx.recv() == "via a queue"
    p.join(60)
    assert p.exitcode == 0
    tx.close()
    with pytest.raises(mpsc.Disconnected):
        rx.recv()


@pytest.mark.parametrize("method", METHODS)
def test_receiver_moves_to_a_child(method):
    ctx = multiprocessing.get_context(method)
    tx, rx = mpsc.channel(codec=mpsc.PICKLE)
    out = ctx.Queue()
    p = ctx.Process(target=child_receives, args=(rx, out))
    p.start()
    rx.close()              # the child's copy is its own
    for i in range(3):
        tx.send(i)
    tx.close()
    assert out.get(timeout=60) == [0, 1, 2]
    p.join(60)
    assert p.exitcode == 0


def test_pool_workers_get_senders():
    tx, rx = mpsc.channel(codec=mpsc.TEXT)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.starmap(child_sends, [(tx, "pool")] * 3)
    tx.close()
    assert sorted(m.split()[0] for m in rx) == ["pool"] * 3
