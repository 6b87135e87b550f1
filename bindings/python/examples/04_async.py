# The seed's tokio example on asyncio: a bounded channel of 32, a task
# that sends, and a receive awaited on the event loop (no threads).
import asyncio

import mpsc


async def main():
    tx, rx = mpsc.sync_channel(32, codec=mpsc.TEXT)

    async def task():
        message = "Hello from an async task!"
        await tx.send_async(message)

    asyncio.ensure_future(task())

    received = await rx.recv_async()
    print("Async received:", received)


asyncio.run(main())
