"""What the networking suites share: applying files through the boot partition,
rebooting, and reading the board's network state as models.

Every case of the networking doc is applied as a user applies it: connection
files in the boot partition's `system-connections/`, `country` in its
`config.json`, then a reboot (balenaOS copies the boot partition's connections
into NetworkManager's directory at boot). Afterwards the files are removed —
from the boot partition and from the overlay, where the boot-time copy left
them — config.json is restored, and the board is owed a reboot into a clean
state, so that no case leaks into the next test. Cases are batched: the owed
reboot is folded into the next case's apply reboot (tests marked `boot_case`),
so N cases in a row cost N+1 reboots, not 2N; any other test gets the owed
reboot when it opens its shell, and the run's end pays what is still owed.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest
from pydantic import BaseModel

from hil.board import Board
from hil.board.files import BootFileWriter
from hil.bootfs.layout import BootFile
from hil.console import ShellSession
from hil.errors import HarnessError
from hil.lab.models import WifiConfig
from hil.lab.secrets import MASK, REDACTOR
from hil.netconfig import Keyfile
from hil.probes.ip import Link, Route, parse_addr, parse_route
from hil.probes.iw import LinkInfo, WifiInterface, parse_iw_dev, parse_iw_link
from hil.probes.nmcli import NmDevice, parse_device_status, parse_terse_show
from hil.probes.resolver import parse_resolv_conf

_M = TypeVar("_M", bound=BaseModel)
NMCLI = "nmcli --colors no -t"
BOOT = "/mnt/boot"
BOOT_CONNECTIONS = f"{BOOT}/system-connections"
OVERLAY_CONNECTIONS = "/etc/NetworkManager/system-connections"
CONFIG_JSON = f"{BOOT}/config.json"
#: balenaOS's resolver: resolv.conf sends every lookup to dnsmasq on this address, and
#: dnsmasq reads NetworkManager's servers from RESOLV_DNSMASQ (a link to resolvconf's
#: copy of what NetworkManager wrote) besides config.json's `dnsServers`
DNSMASQ = "127.0.0.2"
RESOLV_DNSMASQ = "/etc/resolv.dnsmasq"
#: NetworkManager's reasons when the supplicant rejects credentials
AUTH_FAILURES = (
    "802.1X supplicant failed",
    "Secrets were required, but not provided",
    "802.1X supplicant disconnected",
)


def wait_startup(shell: ShellSession, seconds: int = 90) -> None:
    """NetworkManager's startup complete: every autoconnect attempt has ended."""
    shell.run(f"nm-online -s -q -t {seconds}", timeout=seconds + 15)


def reboot(board: Board, shell: ShellSession) -> None:
    """Reboot the board from its shell and log in again on the same console, in a
    new boot (its boot id changed: a reboot that did not happen is an error)."""
    board.reboot(shell)


@dataclass
class BootCase:
    """Files for the boot partition: connections, other files, config.json keys."""

    connections: dict[str, str] = field(default_factory=dict)  # file name → keyfile text
    files: dict[str, str] = field(default_factory=dict)  # path under /mnt/boot → text
    config: dict[str, object] = field(default_factory=dict)  # config.json keys to set

    secrets: list[str] = field(default_factory=list)

    def connection(self, name: str, keyfile: Keyfile | str, *secrets: str | None) -> BootCase:
        """A connection file; `secrets` are its psk/passwords (kept out of transcripts)."""
        self.connections[name] = keyfile if isinstance(keyfile, str) else keyfile.dump()
        self.secrets += [s for s in secrets if s]
        return self

    def describe(self) -> str:
        """What the case changes, for a transcript (names only, never contents)."""
        parts = [f"system-connections/{n}" for n in self.connections]
        parts += list(self.files) + [f"config.json {k}" for k in self.config]
        return ", ".join(parts) or "nothing"

    def boot_files(self) -> list[BootFile]:
        files = [
            BootFile(
                f"system-connections/{name}", text.encode(), 0o600, secrets=tuple(self.secrets)
            )
            for name, text in self.connections.items()
        ]
        files += [BootFile(path, text.encode()) for path, text in self.files.items()]
        if self.config:
            files.append(BootFile("config.json", json.dumps(self.config).encode(), merge_json=True))
        return files


CONFIG_BACKUP = f"{BOOT}/.config.json.hil-backup"


@contextlib.contextmanager
def applied(board: Board, shell: ShellSession, case: BootCase) -> Iterator[None]:
    """Apply `case` through the boot partition, reboot, wait for NetworkManager; undo after.

    Files go through `hil.board.files` (checksummed, all-or-nothing); config.json
    keys are merged on the board, after a copy of it is kept on the board, so the
    board's own config.json never crosses the console.
    """
    if case.config:
        r = shell.run(f"cp -f {CONFIG_JSON} {CONFIG_BACKUP} && sync", timeout=15)
        if r.exit_code != 0:
            raise HarnessError(f"{board.name}: cannot keep a copy of {CONFIG_JSON}: {r.output}")
    console_failed = False
    try:
        BootFileWriter(shell, timeout=10).write(case.boot_files())
        reboot(board, shell)  # also pays the previous case's owed undo reboot
        wait_startup(shell)
        yield
    except HarnessError:
        console_failed = True  # the board rebooted or the line failed: log in again first
        raise
    finally:
        if console_failed:
            with contextlib.suppress(HarnessError):
                shell.connect(board.config.console.login_timeout)
        _undo(board, shell, case, reboot_now=console_failed)


def _undo(board: Board, shell: ShellSession, case: BootCase, reboot_now: bool) -> None:
    """Put the board back as it was, even if it rebooted or the line hiccuped meanwhile:
    each step is idempotent and retried on a fresh login. The files go at once; the
    reboot into the clean state is owed (`Board.owe_reboot`) unless `reboot_now`
    (after a console failure: proven at once that the board is back)."""
    paths = [f"{BOOT_CONNECTIONS}/{n}" for n in case.connections]
    paths += [f"{OVERLAY_CONNECTIONS}/{n}" for n in case.connections]
    paths += [f"{BOOT}/{p}" for p in case.files]
    if paths:
        rm = "rm -f " + " ".join(shlex.quote(p) for p in paths)
        _retrying(board, shell, lambda: shell.run(rm, timeout=10))
    if case.config:
        restore = f"[ ! -f {CONFIG_BACKUP} ] || mv -f {CONFIG_BACKUP} {CONFIG_JSON}; sync"
        _retrying(board, shell, lambda: shell.run(restore, timeout=10))
    if reboot_now:
        _retrying(board, shell, lambda: reboot(board, shell))
    else:
        why = f"undo of {case.describe()} (boot partition)"
        _retrying(board, shell, lambda: board.reboot_later(shell, why))


def _retrying(board: Board, shell: ShellSession, step, attempts: int = 3) -> None:
    for attempt in range(attempts):
        try:
            step()
            return
        except HarnessError:
            if attempt == attempts - 1:
                raise
            shell.connect(board.config.console.login_timeout)


# -- reading the board --------------------------------------------------------


def read(shell: ShellSession, command: str, timeout: float = 10):
    """Run a command that reads state. The console checks every output it returns
    (byte count or digest, computed on the board): a line that loses bytes makes
    the read fail with `OutputCorrupted` — a broken test, never a wrong verdict."""
    return shell.run(command, timeout=timeout)


def devices(shell: ShellSession) -> dict[str, NmDevice]:
    r = read(shell, f"{NMCLI} -f DEVICE,TYPE,STATE,CONNECTION device")
    assert r.exit_code == 0, f"nmcli device failed: {r.output}"
    return {d.device: d for d in parse_device_status(r.output)}


def device_of_type(shell: ShellSession, kind: str) -> NmDevice:
    found = [d for d in devices(shell).values() if d.type == kind]
    assert found, f"the board has no {kind} device"
    return found[0]


def device_show(shell: ShellSession, name: str) -> dict[str, str]:
    r = read(shell, f"{NMCLI} device show {shlex.quote(name)}")
    assert r.exit_code == 0, f"nmcli device show {name} failed: {r.output}"
    return parse_terse_show(r.output)


def connection_show(shell: ShellSession, name: str) -> dict[str, str]:
    r = read(shell, f"{NMCLI} connection show {shlex.quote(name)}")
    assert r.exit_code == 0, f"nmcli connection show {name} failed: {r.output}"
    return parse_terse_show(r.output)


def links(shell: ShellSession) -> dict[str, Link]:
    r = read(shell, "ip -j addr")
    assert r.exit_code == 0, r.output
    return parse_addr(r.output)


def routes(shell: ShellSession) -> list[Route]:
    r = read(shell, "ip -j route")
    assert r.exit_code == 0, r.output
    return parse_route(r.output)


def iw_dev(shell: ShellSession) -> dict[str, WifiInterface]:
    r = read(shell, "iw dev")
    assert r.exit_code == 0, f"iw dev failed: {r.output}"
    return parse_iw_dev(r.output)


def iw_link(shell: ShellSession, ifname: str) -> LinkInfo:
    r = read(shell, f"iw dev {shlex.quote(ifname)} link")
    assert r.exit_code == 0, f"iw dev {ifname} link failed: {r.output}"
    return parse_iw_link(r.output)


def connection_up(shell: ShellSession, name: str, seconds: int = 90):
    """`nmcli connection up` (waits for the outcome); the CommandResult."""
    return shell.run(
        f"nmcli --colors no --wait {seconds} connection up id {shlex.quote(name)}",
        timeout=seconds + 30,
    )


# -- the lab config ---------------------------------------------------------


def networks(board: Board, kind: str) -> list[WifiConfig]:
    """The board's lab networks of one kind (see `network_kind`)."""
    return [unmasked(w) for w in board.config.wifi if network_kind(w) == kind]


def network_kind(w: WifiConfig) -> str:
    """psk | hidden | open | eap | eduroam | failover | regdomain — what a network tests.

    Networks with a `priority` are the failover pair (the lab switches the
    preferred one off), and networks on channels 12/13 are for the regulatory
    domain tests; the other tests use neither, so a fault on one of them turns
    exactly its tests red.
    """
    if w.priority is not None:
        return "failover"
    if w.channel in (12, 13):
        return "regdomain"
    if w.security == "none":
        return "open"
    if w.security == "wpa-eap":
        return "eduroam" if w.ca_cert else "eap"
    return "hidden" if w.hidden else "psk"


def network_ids(lab_path: str, kind: str) -> list[str]:
    """Names of the lab's networks of one kind, over all boards (for parametrize)."""
    from hil.lab import load_lab

    try:
        lab = load_lab(lab_path)
    except Exception:  # the plugin reports a bad lab config itself
        return []
    return sorted({w.name for b in lab.boards for w in b.wifi if network_kind(w) == kind})


def network(board: Board, name: str, kind: str) -> WifiConfig:
    """The board's network `name`; skips when this board has no such network."""
    import pytest

    for w in board.config.wifi:
        if w.name == name and network_kind(w) == kind:
            return unmasked(w)
    pytest.skip(f"{board.name}: lab config gives this board no {kind} network {name!r}")


#: what a secret the lab config only has masked (a replayed run) is written as: the
#: recording masked the real one on the line too, so any valid stand-in replays the same
STAND_IN = "hil-masked-secret"


def unmasked(config: _M) -> _M:
    """`config` with masked secrets (`******`, a replayed run's lab) swapped for a
    stand-in a connection file can hold."""
    masked = {
        k: STAND_IN
        for k in ("psk", "password")
        if isinstance(getattr(config, k, None), str) and MASK in getattr(config, k)
    }
    return config.model_copy(update=masked) if masked else config


def ca_cert_text(lab_path: str, w: WifiConfig) -> str:
    """The RADIUS CA of a network, from the lab host: an absolute path, or relative to
    the lab config's directory (for a lab rebuilt from a recording, which lives
    elsewhere: relative to the checkout's `lab-config/`)."""
    assert w.ca_cert
    path = Path(w.ca_cert)
    candidates = [path] if path.is_absolute() else [
        Path(lab_path).resolve().parent / path,
        Path(__file__).resolve().parent.parent / "lab-config" / path,
    ]  # fmt: skip
    for candidate in candidates:
        if candidate.is_file():
            return candidate.read_text()
    raise HarnessError(f"wifi {w.name}: ca_cert {w.ca_cert}: no such file ({candidates[0]})")


def a_wrong_password(real: str | None) -> str:
    """A password the lab's RADIUS server must refuse (registered as a secret too)."""
    wrong = "hil-not-the-" + hashlib.sha256((real or "").encode()).hexdigest()[:12]
    REDACTOR.add(wrong)
    return wrong


def pytest_generate_tests(metafunc) -> None:
    """Parameterise `<kind>_net` arguments over the lab's networks of that kind
    (import this hook into a suite module to use it)."""
    for arg in metafunc.fixturenames:
        if arg.endswith("_net") and arg.removesuffix("_net") in KINDS:
            kind = arg.removesuffix("_net")
            names = network_ids(metafunc.config.getoption("--lab"), kind)
            if not names:  # one skipped case that says why, not a collection error
                none = pytest.mark.skip(reason=f"the lab config has no {kind} network")
                metafunc.parametrize(arg, [pytest.param(None, marks=none, id=f"no-{kind}")])
            else:
                metafunc.parametrize(arg, names, ids=names)


KINDS = ("psk", "hidden", "open", "eap", "eduroam", "failover", "regdomain")


def static_ip(cfg, default: str) -> tuple[str, str | None, list[str]]:
    """(address/prefix, gateway, dns) of a static case: the lab's, else the doc's."""
    if cfg is not None:
        return cfg.address, cfg.gateway, list(cfg.dns)
    return default, "192.168.1.1", ["8.8.8.8", "8.8.4.4"]


def assert_static(
    shell: ShellSession, ifname: str, connection: str, address: str, gateway: str | None,
    dns: list[str],
) -> None:  # fmt: skip
    """What a static [ipv4] section must give: nothing more, nothing less."""
    got = [a.cidr for a in links(shell)[ifname].ipv4()]
    assert got == [address], f"{ifname}: addresses {got}, the file says {address}"
    assert not any(a.dynamic for a in links(shell)[ifname].ipv4()), f"{ifname}: a DHCP lease"
    mine = [r for r in routes(shell) if r.dev == ifname]
    defaults = [r.gateway for r in mine if r.default]
    assert defaults == ([gateway] if gateway else []), (
        f"{ifname}: default routes via {defaults}, the file says {gateway}"
    )
    prefix = str(ipaddress.IPv4Interface(address).network)
    assert prefix in {r.dst for r in mine}, f"{ifname}: no route to {prefix}: {mine}"
    show = device_show(shell, ifname)
    assert show.get("IP4.GATEWAY") == (gateway or "--"), f"IP4.GATEWAY {show.get('IP4.GATEWAY')}"
    servers = dns_of(show)
    assert servers == dns, f"{ifname}: DNS servers {servers}, the file says {dns}"
    method = connection_show(shell, connection).get("ipv4.method")
    assert method == "manual", f"{connection}: ipv4.method {method}"
    assert_resolver(shell, ifname, dns)


def dns_of(show: dict[str, str]) -> list[str]:
    """The IP4.DNS[n] servers of `nmcli device show`, in order."""
    keys = [k for k in show if k.startswith("IP4.DNS[")]
    return [show[k] for k in sorted(keys, key=lambda k: int(k[8:-1]))]


def assert_resolver(shell: ShellSession, ifname: str, dns: list[str]) -> None:
    """What the board's resolver really asks: lookups go to dnsmasq (resolv.conf), and
    the servers NetworkManager hands dnsmasq (`/etc/resolv.dnsmasq`) hold the file's
    servers in the file's order, and besides them only those that other devices'
    connections brought — nothing lost, nothing from nowhere."""
    stub = parse_resolv_conf(read(shell, "cat /etc/resolv.conf").output)
    assert stub == [DNSMASQ], f"/etc/resolv.conf sends lookups to {stub}, not to dnsmasq"
    r = read(shell, f"cat {RESOLV_DNSMASQ}")
    assert r.exit_code == 0, (
        f"dnsmasq gets no servers from NetworkManager ({RESOLV_DNSMASQ}): {r.output.strip()}"
    )
    upstream = parse_resolv_conf(r.output)
    others = {
        server
        for dev in devices(shell).values()
        if dev.device != ifname and dev.connected
        for server in dns_of(device_show(shell, dev.device))
    }
    ours = [s for s in upstream if s in dns]
    assert ours == dns, f"dnsmasq's servers from NetworkManager are {upstream}, the file says {dns}"
    stray = [s for s in upstream if s not in dns and s not in others]
    assert not stray, f"dnsmasq also asks {stray}, which no connection of the board brought"
