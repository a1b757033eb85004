"""`hil vrig build`: the guest's kernel and initramfs, cached.

The guest runs Debian's kernel (installed on this host by `scripts/setup.sh`)
and the host's own root file system, read-only over 9p under a tmpfs overlay.
The only thing built is a small initramfs: busybox, the modules that reach
the 9p root (with their dependencies from `modules.dep`) and the guest
scripts in `hil/vrig/guest/` (with its hook directories `*.d/`). The
result lives in a directory named after a digest of its inputs, so
building is idempotent and a changed input (kernel upgrade, edited script)
builds afresh.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from hil.errors import HarnessError

GUEST_DIR = Path(__file__).parent / "guest"
#: modules stage 1 loads (dependencies are added from modules.dep, in order)
ROOT_MODULES = ("virtio_pci", "9pnet_virtio", "9p", "overlay")
BUSYBOX = Path("/bin/busybox")
#: the busybox applets the two guest scripts use before switching root
APPLETS = ("sh", "mount", "umount", "insmod", "mkdir", "sed", "sleep", "cat", "cp", "rm")
APPLETS += ("chmod", "echo", "switch_root")


@dataclass(frozen=True)
class Artifacts:
    """A built guest: what QEMU boots."""

    kernel: Path
    initrd: Path
    version: str


def cache_root() -> Path:
    """Where builds are kept (`HIL_VRIG_CACHE` overrides)."""
    env = os.environ.get("HIL_VRIG_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "hil" / "vrig"


def _version_key(v: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"[.-]", v))


def find_kernel() -> tuple[Path, Path]:
    """The newest kernel in /boot whose modules are installed: (vmlinuz, modules dir)."""
    found = []
    for vmlinuz in Path("/boot").glob("vmlinuz-*"):
        version = vmlinuz.name.removeprefix("vmlinuz-")
        modules = Path("/lib/modules") / version
        if (modules / "modules.dep").is_file():
            found.append((version, vmlinuz, modules))
    if not found:
        raise HarnessError(
            "vrig: no kernel with modules in /boot and /lib/modules "
            "(scripts/setup.sh installs linux-image-amd64)"
        )
    _, vmlinuz, modules = max(found, key=lambda f: _version_key(f[0]))
    return vmlinuz, modules


def module_order(modules_dir: Path, names: tuple[str, ...] = ROOT_MODULES) -> list[str]:
    """Relative paths of `names` and their dependencies, each after what it needs."""
    deps: dict[str, list[str]] = {}
    by_name: dict[str, str] = {}
    for line in (modules_dir / "modules.dep").read_text().splitlines():
        path, _, rest = line.partition(":")
        deps[path] = rest.split()
        by_name[_module_name(path)] = path
    order: list[str] = []

    def visit(path: str) -> None:
        if path in order:
            return
        for dep in reversed(deps.get(path, [])):  # modules.dep lists the deepest last
            visit(dep)
        order.append(path)

    for name in names:
        if name not in by_name:
            raise HarnessError(f"vrig: module {name} not in {modules_dir}/modules.dep")
        visit(by_name[name])
    return order


def _module_name(path: str) -> str:
    base = path.rsplit("/", 1)[-1]
    return re.sub(r"\.ko(\.[gx]z|\.zst)?$", "", base).replace("-", "_")


def _digest(vmlinuz: Path, modules: list[Path]) -> str:
    h = hashlib.sha256()
    guest = sorted(p for p in GUEST_DIR.rglob("*") if p.is_file())
    for p in [vmlinuz, BUSYBOX, *modules, *guest]:
        st = p.stat()
        h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
        if p.is_relative_to(GUEST_DIR):
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def build(cache: Path | None = None, force: bool = False) -> Artifacts:
    """Build the guest if its inputs changed (or `force`); return what QEMU boots."""
    vmlinuz, modules_dir = find_kernel()
    if not BUSYBOX.is_file():
        raise HarnessError("vrig: /bin/busybox missing (scripts/setup.sh installs busybox)")
    order = module_order(modules_dir)
    module_paths = [modules_dir / m for m in order]
    root = cache or cache_root()
    out = root / f"{modules_dir.name}-{_digest(vmlinuz, module_paths)}"
    artifacts = Artifacts(out / "vmlinuz", out / "initrd.cpio", modules_dir.name)
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / ".build.lock")):
        if force and out.exists():
            shutil.rmtree(out)
        if (out / "done").exists():
            return artifacts
        staging = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
        try:
            _write_initrd(staging / "initrd.cpio", module_paths)
            shutil.copyfile(vmlinuz, staging / "vmlinuz")
            (staging / "done").write_text(f"{modules_dir.name}\n")
            if out.exists():
                shutil.rmtree(out)
            staging.rename(out)
        finally:
            if staging.exists():
                shutil.rmtree(staging)
    return artifacts


def _write_initrd(target: Path, module_paths: list[Path]) -> None:
    with tempfile.TemporaryDirectory(prefix="hil-vrig-initrd-") as tmp:
        tree = Path(tmp)
        for d in ("bin", "dev", "proc", "sys", "modules", "lib64", "lib/x86_64-linux-gnu"):
            (tree / d).mkdir(parents=True, exist_ok=True)
        shutil.copy2(BUSYBOX, tree / "bin" / "busybox")
        for lib in _shared_libraries(BUSYBOX):
            dest = tree / lib.relative_to("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(lib.resolve(), dest)
        for applet in APPLETS:
            (tree / "bin" / applet).symlink_to("busybox")
        names = []
        for p in module_paths:
            shutil.copyfile(p, tree / "modules" / p.name)
            names.append(p.name)
        (tree / "modules" / "order").write_text("\n".join(names) + "\n")
        for script, dest in (("init", "init"), ("stage2", "stage2")):
            shutil.copyfile(GUEST_DIR / script, tree / dest)
            (tree / dest).chmod(0o755)
        (tree / "hil").mkdir()
        for tool in sorted(GUEST_DIR.iterdir()):  # stage 2's helpers, into /usr/local/sbin
            if tool.is_file() and tool.name not in ("init", "stage2"):
                shutil.copyfile(tool, tree / "hil" / tool.name)
                (tree / "hil" / tool.name).chmod(0o755)
        # hook directories (faults.d/, actions.d/, start.d/) into /usr/local/lib/hil-vrig
        for hook in sorted(GUEST_DIR.glob("*.d/*")):
            if hook.is_file():
                dest = tree / "hil-lib" / hook.parent.name / hook.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(hook, dest)
                dest.chmod(0o755)
        files = sorted(str(p.relative_to(tree)) for p in tree.rglob("*"))
        with open(target, "wb") as out:
            proc = subprocess.run(
                [str(BUSYBOX), "cpio", "-o", "-H", "newc"],
                cwd=tree,
                input="\n".join(files).encode() + b"\n",
                stdout=out,
                stderr=subprocess.PIPE,
                check=False,
            )
        if proc.returncode != 0:
            raise HarnessError(f"vrig: cpio failed: {proc.stderr.decode().strip()}")


def _shared_libraries(binary: Path) -> list[Path]:
    """The shared libraries `binary` loads, as ldd lists them (none if static)."""
    proc = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
    libs = []
    for line in proc.stdout.splitlines():
        m = re.search(r"(/\S+)\s+\(0x", line)
        if m:
            libs.append(Path(m.group(1)))
    return libs
