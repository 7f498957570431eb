"""``rediss://`` with a self-signed certificate, like Heroku Key-Value Store.

:class:`TLSProxy` runs :mod:`tests.support.tls_proxy_main` in its own process: it terminates
TLS with a certificate issued by a throw-away ``trustme`` CA and pipes every connection to a
plain Redis. Clients don't trust that CA, so -- exactly as on Heroku -- default verification
fails, ``ssl_cert_reqs=None`` works, and verifying against :attr:`TLSProxy.ca_path` works.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from tests.support.ports import wait_for_port
from tests.support.procs import ManagedProcess, start
from tests.support.redis import RedisServer

__all__ = ["TLSFiles", "TLSProxy", "make_tls_files"]

_MAIN = Path(__file__).with_name("tls_proxy_main.py")


@dataclass(frozen=True)
class TLSFiles:
    """PEM files: ``ca_path`` (the CA cert clients may trust), ``cert_path`` (server cert +
    chain), ``key_path`` (server private key)."""

    ca_path: Path
    cert_path: Path
    key_path: Path


def make_tls_files(
    directory: Path, hostnames: Sequence[str] = ("127.0.0.1", "localhost")
) -> TLSFiles:
    """Create a fresh ``trustme`` CA and a server cert for ``hostnames`` in ``directory``."""
    import trustme

    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    cert = ca.issue_cert(*hostnames)
    files = TLSFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    ca.cert_pem.write_to_path(str(files.ca_path))
    for blob in cert.cert_chain_pems:
        blob.write_to_path(str(files.cert_path), append=True)
    cert.private_key_pem.write_to_path(str(files.key_path))
    return files


class TLSProxy:
    """A TLS endpoint on a loopback port in front of a plain TCP backend (normally Redis).

    ``backend`` is a :class:`RedisServer` (its port and password are used) or a port
    number. ``port=None`` lets the proxy bind port 0 and report it (no race). Certificates
    go to ``cert_dir``, or to a temp dir (under ``log_dir`` if given) that :meth:`stop`
    removes. The backend is not owned: stopping the proxy leaves it running.
    """

    def __init__(
        self,
        backend: RedisServer | int,
        *,
        backend_host: str = "127.0.0.1",
        port: int | None = None,
        password: str | None = None,
        host: str = "127.0.0.1",
        cert_dir: Path | None = None,
        log_dir: Path | None = None,
        start_timeout: float = 15.0,
    ) -> None:
        self.backend: RedisServer | None = backend if isinstance(backend, RedisServer) else None
        self.backend_port = backend.port if isinstance(backend, RedisServer) else backend
        self.backend_host = backend.host if isinstance(backend, RedisServer) else backend_host
        if password is None and isinstance(backend, RedisServer):
            password = backend.password
        self.password = password
        self.host = host
        self._port = port
        self._cert_dir = cert_dir
        self._owned_dir: Path | None = None
        self.files: TLSFiles | None = None
        self.log_dir = log_dir
        self.start_timeout = start_timeout
        self.process: ManagedProcess | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("TLSProxy has no port yet: call start() first")
        return self._port

    @property
    def url(self) -> str:
        """``rediss://127.0.0.1:N/0`` (``rediss://:<password>@...`` with a password)."""
        auth = f":{quote(self.password, safe='')}@" if self.password is not None else ""
        return f"rediss://{auth}{self.host}:{self.port}/0"

    def _files(self) -> TLSFiles:
        if self.files is None:
            raise RuntimeError("TLSProxy not started: no certificates yet")
        return self.files

    @property
    def ca_path(self) -> Path:
        """The CA certificate: pass as ``ssl_ca_certs`` to make verification succeed."""
        return self._files().ca_path

    @property
    def cert_path(self) -> Path:
        return self._files().cert_path

    @property
    def key_path(self) -> Path:
        return self._files().key_path

    def start(self) -> TLSProxy:
        """Start the proxy process and wait until its port accepts connections."""
        if self.process is not None and self.process.is_running():
            return self
        if self.files is None:
            if self._cert_dir is None:
                if self.log_dir is not None:
                    self.log_dir.mkdir(parents=True, exist_ok=True)
                self._owned_dir = Path(tempfile.mkdtemp(prefix="tls-proxy-", dir=self.log_dir))
            self.files = make_tls_files(self._cert_dir or self._owned_dir or Path())
        cmd = [
            sys.executable, "-I", str(_MAIN),
            "--listen-host", self.host,
            "--listen-port", str(self._port or 0),
            "--backend-host", self.backend_host,
            "--backend-port", str(self.backend_port),
            "--cert", str(self.files.cert_path),
            "--key", str(self.files.key_path),
        ]  # fmt: skip
        proc = start(cmd, name=f"tls-proxy-{self.backend_port}", log_dir=self.log_dir)
        self.process = proc
        try:
            match = proc.wait_for_output(r"listening on \S+:(\d+) ->", self.start_timeout)
            self._port = int(match.group(1))
            wait_for_port(self._port, self.host, timeout=self.start_timeout, proc=proc)
        except BaseException:
            proc.stop(timeout=2)
            raise
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the proxy (the backend keeps running) and remove owned cert files."""
        if self.process is not None:
            self.process.stop(timeout)
        if self._owned_dir is not None:
            shutil.rmtree(self._owned_dir, ignore_errors=True)
            self._owned_dir = None
            self.files = None

    def kill(self) -> None:
        """SIGKILL the proxy process (connections drop without TLS close_notify)."""
        if self.process is not None:
            self.process.kill()

    def __enter__(self) -> TLSProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<TLSProxy {self.host}:{self._port} -> {self.backend_host}:{self.backend_port}>"
