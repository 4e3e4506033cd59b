"""A real OpenSSH SFTP server on a loopback port, started by the tests (Debian ``openssh-server``).

Each server gets a throwaway ed25519 host key and user key, an authorized_keys file and a config
of its own in a temporary directory; it runs ``sshd -D`` in the foreground as the current user
and is stopped afterwards. The files it serves live on this machine, so tests can also look at
them directly, but the warehouse side of the end-to-end test goes through SFTP like a 3PL would.
"""

from __future__ import annotations

import base64
import getpass
import io
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SSHD = Path("/usr/sbin/sshd")
# sshd started as root insists on its privilege separation directory; the Debian service
# creates it at boot, a container may not have it.
PRIVSEP_DIR = Path("/run/sshd")


@dataclass(frozen=True)
class KeyPair:
    private: str
    public: str


def new_key(comment: str) -> KeyPair:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return KeyPair(private, f"{public.decode()} {comment}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class SftpServer:
    root: Path
    port: int
    user: str
    host_key: KeyPair
    user_key: KeyPair
    process: subprocess.Popen[bytes]

    def url(self, folder: str) -> str:
        return f"sftp://{self.user}@127.0.0.1:{self.port}{self.root / folder}"

    def folder(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def client(self) -> tuple[paramiko.SSHClient, paramiko.SFTPClient]:
        """An SFTP session as the warehouse would open one (host key checked too)."""
        ssh = paramiko.SSHClient()
        key_type, key_data = self.host_key.public.split()[:2]
        host_key = paramiko.PKey.from_type_string(key_type, base64.b64decode(key_data))
        ssh.get_host_keys().add(f"[127.0.0.1]:{self.port}", key_type, host_key)
        ssh.set_missing_host_key_policy(paramiko.RejectPolicy())
        ssh.connect(
            "127.0.0.1",
            port=self.port,
            username=self.user,
            pkey=paramiko.Ed25519Key.from_private_key(io.StringIO(self.user_key.private)),
            allow_agent=False,
            look_for_keys=False,
        )
        return ssh, ssh.open_sftp()


def _ready(port: int, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(4).startswith(b"SSH-"):
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("sshd did not answer in time")


def start_sftp_server(base: Path) -> SftpServer:
    if not SSHD.exists():
        pytest.skip("sshd is missing: install Debian's openssh-server for the SFTP tests")
    if os.geteuid() == 0 and not PRIVSEP_DIR.exists():
        PRIVSEP_DIR.mkdir(mode=0o755)
    base.mkdir(parents=True, exist_ok=True)
    etc = base / "etc"
    etc.mkdir()
    host_key, user_key = new_key("test-host"), new_key("test-user")
    (etc / "host_key").write_text(host_key.private)
    (etc / "host_key").chmod(0o600)
    (etc / "authorized_keys").write_text(user_key.public + "\n")
    port = _free_port()
    (etc / "sshd_config").write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {etc / 'host_key'}",
                f"PidFile {etc / 'sshd.pid'}",
                f"AuthorizedKeysFile {etc / 'authorized_keys'}",
                "StrictModes no",
                "UsePAM no",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PubkeyAuthentication yes",
                "PermitRootLogin prohibit-password",
                "Subsystem sftp internal-sftp",
                "LogLevel ERROR",
                "",
            ]
        )
    )
    root = base / "srv"
    root.mkdir()
    process = subprocess.Popen(
        [str(SSHD), "-D", "-e", "-f", str(etc / "sshd_config")],
        stdout=subprocess.DEVNULL,
        stderr=(etc / "sshd.log").open("wb"),
        start_new_session=True,
    )
    try:
        _ready(port, process)
    except RuntimeError as exc:
        process.kill()
        raise RuntimeError(f"{exc}: {(etc / 'sshd.log').read_text()[-2000:]}") from None
    return SftpServer(root, port, getpass.getuser(), host_key, user_key, process)


def stop(server: SftpServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(10)


@pytest.fixture(scope="module")
def sftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SftpServer]:
    base = tmp_path_factory.mktemp("sftp")
    server = start_sftp_server(base)
    yield server
    stop(server)
    shutil.rmtree(base, ignore_errors=True)
