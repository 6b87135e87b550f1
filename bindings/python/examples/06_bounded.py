# Backpressure: a bounded channel of 2; the third send must wait until
# the receiver makes room.
import threading
import time

import mpsc


def main():
    tx, rx = mpsc.sync_channel(2, codec=mpsc.PICKLE)
    received = []

    def consume():
        time.sleep(0.1)
        received.extend(rx)

    consumer = threading.Thread(target=consume)
    consumer.start()
    tx.try_send(1)
    print("sent 1")
    tx.try_send(2)
    print("sent 2")
    try:
        tx.try_send(3)
    except mpsc.Full:
        print("channel full: 3 must wait (backpressure)")
    tx.send(3)
    print("sent 3 once the receiver made room")
    tx.close()
    consumer.join()
    for value in received:
        print("received", value)


main()
