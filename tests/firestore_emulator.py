"""The real Cloud Firestore emulator on 127.0.0.1, for the state contract (conftest.py: `firestore_emulator`).

    gcloud emulators firestore start --host-port=127.0.0.1:<free port> --quiet

runs in its own process group (gcloud starts a shell script that starts java; stopping kills the group),
with its own throw-away CLOUDSDK_CONFIG (no user config read, no prompts, no update check), logging to a
file. `start()` waits until http://127.0.0.1:<port>/ says "Ok", or raises `Unavailable` naming what is
missing and how to install it; the fixture turns that into a skip. `client()` gives a
`firestore.Client` bound to the emulator: FIRESTORE_EMULATOR_HOST is set only while the client is made
(the library reads it in its constructor, and grpc reads proxy settings when the channel is made, which
`client()` forces then), and restored afterwards, so nothing else in the process sees it.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Iterator

PROJECT = "qunflow-test"
INSTALL = ("install them with: apt-get install google-cloud-cli google-cloud-cli-firestore-emulator "
           "openjdk-17-jre-headless (google-cloud-cli* come from Google's apt repository "
           "https://packages.cloud.google.com/apt, suite cloud-sdk; java from Debian)")

# No proxy for 127.0.0.1: urllib and grpc both honour *_proxy variables otherwise.
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Unavailable(RuntimeError):
    """The emulator cannot run here; the message says what is missing."""


def missing() -> str | None:
    """What this machine lacks to run the emulator, or None."""
    gcloud, java = shutil.which("gcloud"), shutil.which("java")
    lacks = []
    if gcloud is None:
        lacks.append("gcloud (package google-cloud-cli)")
    else:
        sdk = Path(os.path.realpath(gcloud)).parent.parent
        if not (sdk / "platform" / "cloud-firestore-emulator" / "cloud-firestore-emulator.jar").exists():
            lacks.append(f"the Firestore emulator component under {sdk}/platform "
                         "(package google-cloud-cli-firestore-emulator, or `gcloud components install "
                         "cloud-firestore-emulator` for a non-apt SDK)")
    if java is None:
        lacks.append("java 11+ (package openjdk-17-jre-headless)")
    else:
        out = subprocess.run([java, "-version"], check=False, capture_output=True, text=True, timeout=30)
        found = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
        major = int(found.group(1)) if found else 0
        major = int(found.group(2) or 0) if major == 1 else major          # "1.8.0" is java 8
        if major < 11:
            lacks.append(f"java 11+ (found {'java ' + str(major) if found else 'no version'}; "
                         "package openjdk-17-jre-headless)")
    return None if not lacks else "the Firestore emulator needs " + " and ".join(lacks) + "; " + INSTALL


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _env(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class FirestoreEmulator:
    def __init__(self, port: int, proc: subprocess.Popen, workdir: tempfile.TemporaryDirectory, log: Path):
        self.host, self.port, self.project = "127.0.0.1", port, PROJECT
        self._proc, self._workdir, self.log = proc, workdir, log
        self._clients: list = []

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def client(self):
        """A new `firestore.Client` talking to this emulator (and only to it)."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import firestore

        no_proxy = ",".join(filter(None, [os.environ.get("no_grpc_proxy"), "127.0.0.1", "localhost"]))
        with _env(FIRESTORE_EMULATOR_HOST=self.address, no_grpc_proxy=no_proxy):
            client = firestore.Client(project=self.project, credentials=AnonymousCredentials())
            _ = client._firestore_api                   # make the grpc channel now, under this environment
        self._clients.append(client)
        return client

    def reset(self) -> None:
        """Delete every document in the emulator's database."""
        url = f"http://{self.address}/emulator/v1/projects/{self.project}/databases/(default)/documents"
        _HTTP.open(urllib.request.Request(url, method="DELETE"), timeout=30).read()

    def ready(self) -> bool:
        try:
            return _HTTP.open(f"http://{self.address}/", timeout=2).read().strip() == b"Ok"
        except (OSError, urllib.error.URLError):
            return False

    def stop(self) -> None:
        for client in self._clients:
            with suppress(Exception):               # best effort at teardown
                client.close()
        self._clients.clear()
        if self._proc.poll() is None or _group_alive(self._proc.pid):
            for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(self._proc.pid, sig)
                except ProcessLookupError:
                    break
                deadline = time.monotonic() + wait
                while time.monotonic() < deadline and _group_alive(self._proc.pid):
                    self._proc.poll()
                    time.sleep(0.1)
                if not _group_alive(self._proc.pid):
                    break
        self._proc.wait(timeout=5)
        self._workdir.cleanup()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def start(timeout: float = 60.0) -> FirestoreEmulator:
    """Start the emulator on a free port of 127.0.0.1 and wait for it; `Unavailable` if it cannot run."""
    lacking = missing()
    if lacking:
        raise Unavailable(lacking)
    workdir = tempfile.TemporaryDirectory(prefix="qunflow-firestore-")
    log = Path(workdir.name) / "emulator.log"
    port = _free_port()
    env = {**os.environ, "CLOUDSDK_CONFIG": str(Path(workdir.name) / "gcloud"),
           "CLOUDSDK_CORE_DISABLE_PROMPTS": "1", "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "true",
           "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "true", "CLOUDSDK_CORE_PROJECT": PROJECT}
    env.pop("FIRESTORE_EMULATOR_HOST", None)
    command = [shutil.which("gcloud") or "gcloud", "emulators", "firestore", "start",
               f"--host-port=127.0.0.1:{port}", "--quiet"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=env, cwd=workdir.name, start_new_session=True)
    emulator = FirestoreEmulator(port, proc, workdir, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if emulator.ready():
            return emulator
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-2000:]
    code = proc.poll()
    emulator.stop()
    why = f"exited with {code}" if code is not None else f"did not answer on 127.0.0.1:{port} within {timeout:g} s"
    raise Unavailable(f"the Firestore emulator ({' '.join(command)}) {why}; {INSTALL}. Its output:\n{tail}")
