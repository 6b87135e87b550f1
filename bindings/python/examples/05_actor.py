# The seed's actor, across processes: the actor is a process of its own
# that owns its state and serves requests from a channel.  Each request
# carries the Sender of its reply channel inside the message, as Rust's
# Sender<(Request, Sender<Response>)> does: no socket, no fd numbers.
import multiprocessing

import mpsc


def my_actor(requests):
    # The loop ends when every address is gone.
    for text, reply in requests:
        with reply:     # closing it disconnects the requester's channel
            reply.send("Actor received: %s" % text)


def main():
    # Start a new actor in its own process; addr is its address.
    addr, requests = mpsc.channel(codec=mpsc.PICKLE)
    actor = multiprocessing.get_context("spawn").Process(
        target=my_actor, args=(requests,))
    actor.start()
    requests.close()    # the actor has its own

    # addr.send(MyMessage("Hello, Actix!")).await, with a reply channel.
    reply_tx, reply_rx = mpsc.sync_channel(1, codec=mpsc.TEXT)
    addr.send(("Hello, Actix!", reply_tx))
    reply_tx.close()    # only the sender in the request is left
    try:
        response = reply_rx.recv()
        print(response)
    except mpsc.Disconnected:
        print("Failed to receive response from actor.")
    addr.close()        # the actor's address is gone: it stops
    actor.join()


if __name__ == "__main__":
    main()
