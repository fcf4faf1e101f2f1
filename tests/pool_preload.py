"""A module a WorkerPool preloads in tests/test_worker_pool.py: it notes the process that
imported it (the fork server, not each worker)."""

import os

IMPORTED_IN = os.getpid()
