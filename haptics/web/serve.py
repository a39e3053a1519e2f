"""Running the workbench: where it may listen, and uvicorn."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from haptics.errors import ConfigError


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, tls_cert: Path | None, tls_key: Path | None) -> None:
    """Refuse a non-loopback address without TLS (passwords and cookies would cross the
    network in clear). Raises ConfigError saying what to do."""
    if (tls_cert is None) != (tls_key is None):
        raise ConfigError("give both --tls-cert and --tls-key, or neither")
    for f in (tls_cert, tls_key):
        if f is not None and not f.is_file():
            raise ConfigError(f"{f} does not exist; give the path of a PEM file")
    if not is_loopback(host) and tls_cert is None:
        raise ConfigError(
            f"refusing to listen on {host} without TLS: logins would cross the network in "
            "clear. Give --tls-cert and --tls-key, or use --host 127.0.0.1"
        )


def serve(
    dataset_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
) -> None:
    """Serve the workbench until interrupted. Raises ConfigError for a refused address, a
    folder that is not a dataset; StoreError if its store cannot be opened."""
    import uvicorn

    from haptics.web.app import create_app

    check_bind(host, tls_cert, tls_key)
    app = create_app(dataset_dir, warm=True)
    uvicorn.run(
        app,
        host=host,
        port=port,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
        log_level="info",
    )
