"""Is the W&B server reachable? Asked before an online run starts.

wandb.init waits about 90 s for a server it cannot reach, then raises; a run with an API key
on a machine without network stalled ~107 s and ended in a traceback before training. A TCP
connection to the server's host (name lookup included) answers within a few seconds.
"""

import configparser
import contextlib
import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

PROBE_SECONDS = 5.0


def base_url() -> str:
    """The server a new wandb.init talks to: WANDB_BASE_URL, else wandb's settings file
    (`wandb login --host` writes it), else the installed wandb's default. Read afresh, as a
    new process would (wandb's in-process settings keep the environment of their first use)."""
    if os.environ.get("WANDB_BASE_URL"):
        return os.environ["WANDB_BASE_URL"]
    folder = Path(os.environ.get("WANDB_CONFIG_DIR") or "~/.config/wandb").expanduser()
    parser = configparser.ConfigParser()
    with contextlib.suppress(configparser.Error, OSError, UnicodeDecodeError):
        parser.read(folder / "settings")
    if parser.get("default", "base_url", fallback=None):
        return parser.get("default", "base_url")
    from wandb.sdk.lib.urls import DEFAULT_BASE_URL

    return DEFAULT_BASE_URL


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
