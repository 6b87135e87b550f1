# The seed's actor: a thread owns its state and serves requests from a
# channel; each request carries a sender for the reply.
import threading

import mpsc


def my_actor(requests):
    for text, reply_fd in requests:
        with mpsc.Sender(reply_fd, mpsc.TEXT) as reply:
            reply.send("Actor received: %s" % text)


def main():
    addr, requests = mpsc.channel(codec=mpsc.PICKLE)
    threading.Thread(target=my_actor, args=(requests,)).start()

    # addr.send(MyMessage("Hello, Actix!")).await, with a reply channel.
    reply_tx, reply_rx = mpsc.sync_channel(1, codec=mpsc.TEXT)
    addr.send(("Hello, Actix!", reply_tx.clone().detach()))
    reply_tx.close()
    try:
        response = reply_rx.recv()
        print(response)
    except mpsc.Disconnected:
        print("Failed to receive response from actor.")
    addr.close()


main()
