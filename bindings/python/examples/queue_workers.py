# The queue module's own example (the Python documentation, "queue — A
# synchronized queue class"), with only the import changed: the worker and
# the main thread now pass the items through /dev/mpsc.
import threading
from mpsc import queue  # was: import queue

q = queue.Queue()

def worker():
    while True:
        item = q.get()
        print(f'Working on {item}')
        print(f'Finished {item}')
        q.task_done()

# Turn-on the worker thread.
threading.Thread(target=worker, daemon=True).start()

# Send thirty task requests to the worker.
for item in range(30):
    q.put(item)

# Block until all tasks are done.
q.join()
print('All work completed')
