# The seed's multiple producers: each thread clones the sender, the
# original is dropped, and the loop ends when the last clone is gone.
import threading

import mpsc


def main():
    tx, rx = mpsc.channel(codec=mpsc.TEXT)

    for i in range(5):
        thread_tx = tx.clone()

        def produce(thread_tx=thread_tx, i=i):
            with thread_tx:
                thread_tx.send("Message from thread %d" % i)

        threading.Thread(target=produce).start()
    # Drop the original sender to indicate no more messages will be sent.
    tx.close()

    for received in rx:
        print(received)


main()
