# The seed's basic example: a thread sends, the main thread receives.
import threading

import mpsc


def main():
    tx, rx = mpsc.channel(codec=mpsc.TEXT)

    def worker():
        message = "Hello from the thread!"
        tx.send(message)

    threading.Thread(target=worker).start()

    received = rx.recv()
    print("Received:", received)


main()
