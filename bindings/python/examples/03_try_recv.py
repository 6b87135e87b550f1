# The seed's try_recv: poll without blocking, telling Empty from
# Disconnected.
import threading
import time

import mpsc


def main():
    tx, rx = mpsc.channel(codec=mpsc.PICKLE)

    def produce():
        with tx:
            for i in range(3):
                tx.send(i)
                time.sleep(0.5)

    threading.Thread(target=produce).start()

    while True:
        try:
            value = rx.try_recv()
            print("Received:", value)
        except mpsc.Empty:
            print("No message yet, performing other work...")
            time.sleep(0.2)
        except mpsc.Disconnected:
            print("Channel closed, no further messages.")
            break


main()
