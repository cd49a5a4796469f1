"""Debian packages the launcher installs when a server binary is missing."""

from __future__ import annotations

import os
import shutil
import subprocess

from deploy.launcher.errors import LaunchError
from deploy.launcher.process import Log

_apt_updated = False


def apt_install(package: str, *, log: Log = print) -> None:
    """Install a Debian package with apt-get (needs root); raise with apt's words if it fails."""
    global _apt_updated
    if shutil.which("apt-get") is None:
        raise LaunchError(f"{package} is missing and this machine has no apt-get: install it")
    if os.geteuid() != 0:
        raise LaunchError(f"{package} is missing: run `sudo apt-get install -y {package}`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log(f"installing {package} with apt-get")
    if not _apt_updated:
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, check=False)
        _apt_updated = True
    result = subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        output = "\n".join((result.stdout + result.stderr).splitlines()[-10:])
        raise LaunchError(f"apt-get could not install {package}:\n{output}")
