"""Is the W&B server reachable? Asked before an online run starts.

wandb.init waits about 90 s for a server it cannot reach, then raises; a run with an API key
on a machine without network stalled ~107 s and ended in a traceback before training. A TCP
connection to the server's host (name lookup included) answers within a few seconds.
"""

import os
import socket
import threading
from urllib.parse import urlsplit

PROBE_SECONDS = 5.0


def base_url() -> str:
    """The server wandb.init talks to: WANDB_BASE_URL, else wandb's own setting (its
    settings files, `wandb login --host`, or the default of the installed wandb)."""
    if os.environ.get("WANDB_BASE_URL"):
        return os.environ["WANDB_BASE_URL"]
    from wandb.sdk import wandb_setup

    return str(wandb_setup.singleton().settings.base_url)


def unreachable_reason(url: str, timeout: float = PROBE_SECONDS) -> str | None:
    """None when a TCP connection to `url`'s host and port opens within `timeout` seconds;
    else why not. The lookup and the connection run in a thread, since a name lookup
    without network can take longer than any socket timeout."""
    parts = urlsplit(url if "://" in url else f"https://{url}")
    host = parts.hostname or ""
    try:
        port = parts.port or (80 if parts.scheme == "http" else 443)
    except ValueError:
        return f"{url} has no valid port"
    outcome: list[str | None] = []

    def connect() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                outcome.append(None)
        except OSError as exc:
            outcome.append(exc.strerror or type(exc).__name__)

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        return f"no answer from {host}:{port} in {timeout:g} s"
    return None if outcome[0] is None else f"{host}:{port}: {outcome[0]}"
