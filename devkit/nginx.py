"""A real nginx terminating client-certificate TLS in front of the sidecar, for mTLS tests.

This is the deployment the seed describes: a proxy verifies the client certificate and tells the
sidecar who the caller is in `X-SSL-Client-S-DN` / `X-SSL-Client-Verify`. Running the real
nginx (Debian package `nginx-light`) proves the sidecar parses what nginx actually sends —
RFC 2253 DNs such as `CN=agent_mtls,O=Example` — rather than what we imagine it sends.

Each instance is a non-daemon child process with its own prefix, pid file, logs and temp paths
in a private directory, so it needs neither /etc/nginx nor /var/lib/nginx and runs as root or
not. Tests skip with a reason when `nginx_available()` is false.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from devkit.certs import Pki
from devkit.ports import free_port
from devkit.process import ManagedProcess, spawn

VerifyMode = Literal["on", "optional", "optional_no_ca", "off"]

_DEBIAN_BINARY = "/usr/sbin/nginx"  # not on a non-root user's PATH on Debian


class NginxUnavailableError(RuntimeError):
    """The nginx binary is not installed (Debian package nginx-light)."""


def nginx_binary() -> str:
    """Path of the nginx binary; raises NginxUnavailableError when there is none."""
    found = shutil.which("nginx") or (
        _DEBIAN_BINARY if os.access(_DEBIAN_BINARY, os.X_OK) else None
    )
    if found is None:
        raise NginxUnavailableError("nginx is not installed (apt-get install nginx-light)")
    return found


def nginx_available() -> bool:
    """Whether an nginx binary exists, for `pytest.mark.skipif`."""
    try:
        nginx_binary()
    except NginxUnavailableError:
        return False
    return True


@dataclass
class Nginx(ManagedProcess):
    """One nginx process proxying https://127.0.0.1:port to http://127.0.0.1:upstream_port.

    `verify` is nginx's `ssl_verify_client`: "on" answers 400 to a missing or untrusted client
    certificate; "optional" forwards requests without one (`X-SSL-Client-Verify: NONE`) but still
    refuses an untrusted one; "optional_no_ca" forwards that too, with `FAILED:<reason>`.
    """

    upstream_port: int
    pki: Pki
    verify: VerifyMode = "on"
    port: int = field(default_factory=free_port)
    workers: int = 1
    access_log: bool = True
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="nginx-")))
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def error_log(self) -> Path:
        return self.workdir / "error.log"

    def tidy(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def start(self) -> None:
        """Write the config, start nginx and return once its port accepts connections."""
        config = self._write_config()
        args = [
            nginx_binary(),
            "-p",
            str(self.workdir),
            "-c",
            str(config),
            "-e",
            str(self.error_log),
        ]
        self._proc = spawn(args, self.error_log)
        self._wait_until_listening()

    def log_tail(self, chars: int = 2000) -> str:
        """The end of nginx's error log, for failure messages."""
        if not self.error_log.exists():
            return ""
        return self.error_log.read_text(errors="replace")[-chars:]

    def _wait_until_listening(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"nginx exited early:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"nginx did not listen on {self.port} within {timeout}s:\n{self.log_tail()}"
        )

    def _write_config(self) -> Path:
        temp = self.workdir / "temp"
        temp.mkdir(exist_ok=True)
        config = self.workdir / "nginx.conf"
        config.write_text(render_config(self, temp))
        return config


def render_config(nginx: Nginx, temp: Path) -> str:
    """The whole nginx.conf for `nginx`; every path points into its private directory."""
    # As root nginx would drop workers to `nobody`, who cannot enter our 0700 temp directory
    # to buffer large request bodies; keep them as root instead (loopback-only test server).
    user = "user root;\n" if os.geteuid() == 0 else ""
    access = f"{nginx.workdir}/access.log" if nginx.access_log else "off"
    temps = "".join(
        f"    {kind}_temp_path {temp}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}daemon off;\nmaster_process on;\nworker_processes {nginx.workers};\n"
        f"pid {nginx.workdir}/nginx.pid;\nerror_log {nginx.error_log} info;\n"
        "events { worker_connections 1024; }\n"
        f"http {{\n    access_log {access};\n{temps}"
        f"    upstream sidecar {{\n        server 127.0.0.1:{nginx.upstream_port};\n"
        "        keepalive 32;\n    }\n"
        f"{_server_block(nginx)}}}\n"
    )


def _server_block(nginx: Nginx) -> str:
    pki = nginx.pki
    return (
        "    server {\n"
        f"        listen 127.0.0.1:{nginx.port} ssl;\n"
        "        server_name localhost;\n"
        f"        ssl_certificate {pki.server_cert};\n"
        f"        ssl_certificate_key {pki.server_key};\n"
        f"        ssl_client_certificate {pki.ca_cert};\n"
        f"        ssl_verify_client {nginx.verify};\n"
        "        ssl_verify_depth 2;\n"
        "        ssl_protocols TLSv1.2 TLSv1.3;\n"
        # Body limits are the sidecar's to enforce and report, not the proxy's.
        "        client_max_body_size 16m;\n"
        "        location / {\n"
        f"{_PROXY_DIRECTIVES}"
        "        }\n"
        "    }\n"
    )


# proxy_set_header REPLACES any same-named header from the client (nginx drops the client's
# copy even when our value is empty), so a caller can never inject an identity. An empty value
# means "send no such header": that is how X-Forwarded-Client-Cert is stripped, since this proxy
# does not produce one and the sidecar may be configured to believe it.
# X-API-Key, Authorization and X-Request-ID are not listed: nginx passes client headers through.
# HTTP/1.1 with an empty Connection header keeps upstream connections alive (the benchmark needs
# that); buffering is off so MCP's streamed (SSE) responses reach the client as they are written.
_PROXY_DIRECTIVES = """\
            proxy_pass http://sidecar;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-SSL-Client-S-DN $ssl_client_s_dn;
            proxy_set_header X-SSL-Client-Verify $ssl_client_verify;
            proxy_set_header X-Forwarded-Client-Cert "";
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto https;
            proxy_buffering off;
            proxy_read_timeout 300s;
"""
