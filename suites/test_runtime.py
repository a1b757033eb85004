"""Changing the network at runtime (networking doc, "Changing the Network at
Runtime"): a connection added over NetworkManager's D-Bus API becomes active,
is kept in the overlay's /etc/NetworkManager/system-connections (and not in
the boot partition: no two-way binding), survives a NetworkManager restart and
a reboot; a boot-partition change takes effect after a reboot; a connection
file deleted from the boot partition stays on the device (the copy never
deletes)."""

from __future__ import annotations

import shlex
import time
import uuid

import pytest
from _net import BOOT, put_boot_file, read, reboot, remove_boot_file, sh, wait_network

from hil.board import Board
from hil.console import ShellSession
from hil.probes.nmcli import parse_terse

OVERLAY = "/etc/NetworkManager/system-connections"
NM = "org.freedesktop.NetworkManager"
NMCLI = "nmcli --colors no -t"
#: seconds NetworkManager gets to start activating a connection it was just given
AUTOCONNECT_GRACE = 10.0


def busctl_add_wifi(ssid: str, psk: str, con_id: str) -> str:
    """The doc's Python example, as one busctl call: Settings.AddConnection(a{sa{sv}})."""
    ssid_bytes = " ".join(str(b) for b in ssid.encode())
    settings = (
        f"5 connection 3 type s 802-11-wireless "
        f"uuid s {uuid.uuid5(uuid.NAMESPACE_URL, con_id)} id s {shlex.quote(con_id)} "
        f"802-11-wireless 3 ssid ay {len(ssid.encode())} {ssid_bytes} mode s infrastructure "
        "hidden b false "
        f"802-11-wireless-security 3 key-mgmt s wpa-psk auth-alg s open psk s {shlex.quote(psk)} "
        "ipv4 1 method s auto ipv6 1 method s auto"
    )
    return (
        f"busctl call {NM} /org/freedesktop/NetworkManager/Settings {NM}.Settings "
        f"AddConnection 'a{{sa{{sv}}}}' {settings}"
    )


def active(shell: ShellSession) -> dict[str, str]:
    """Active connections: name → state."""
    out = read(shell, f"{NMCLI} -f NAME,STATE connection show --active")
    return {row["NAME"]: row["STATE"] for row in parse_terse(out, ["NAME", "STATE"])}


def wait_active(shell: ShellSession, con_id: str, seconds: float = 60) -> dict[str, str]:
    """Active connections once `con_id` is activated (a WiFi activation takes seconds
    on a real radio: associate, 4-way handshake, DHCP), or once it is plainly not
    going to be: neither activated nor activating (after a grace for autoconnect to
    pick it up), or `seconds` spent."""
    started = time.monotonic()
    now = active(shell)
    while now.get(con_id) != "activated":
        spent = time.monotonic() - started
        if spent > seconds or (now.get(con_id) != "activating" and spent > AUTOCONNECT_GRACE):
            break
        time.sleep(1)
        now = active(shell)
    return now


def files_with(shell: ShellSession, directory: str, needle: str) -> list[str]:
    r = shell.run(f"grep -l -F {shlex.quote(needle)} {directory}/* 2>/dev/null", timeout=20)
    return [line for line in r.output.splitlines() if line.strip()]


@pytest.mark.needs("wifi")
@pytest.mark.faults(
    "ap-down", "wrong-psk", "dhcp-timeout", "state-not-persistent", "reboot-ignored"
)
def test_dbus_connection_persists(board: Board, shell: ShellSession) -> None:
    """AddConnection over D-Bus: active, in the overlay, not in the boot partition,
    and still there after a NetworkManager restart and a reboot."""
    wifi = next((w for w in board.config.wifi if w.security == "wpa-psk" and not w.hidden), None)
    if wifi is None:
        pytest.skip(f"{board.name}: no visible wpa-psk network in the lab config")
    con_id = "hil-runtime"
    wait_network(shell)
    try:
        sh(shell, busctl_add_wifi(wifi.ssid, wifi.psk or "", con_id))
        now = wait_active(shell, con_id)
        assert now.get(con_id) == "activated", f"{con_id} is not active: {now}"
        assert files_with(shell, OVERLAY, f"id={con_id}"), f"{con_id} is not in {OVERLAY}"
        in_boot = files_with(shell, f"{BOOT}/system-connections", f"id={con_id}")
        assert not in_boot, f"{con_id} was written back to the boot partition: {in_boot}"

        sh(shell, "systemctl restart NetworkManager")
        wait_network(shell)
        now = wait_active(shell, con_id)
        assert now.get(con_id) == "activated", (
            f"{con_id} is not active after a NetworkManager restart: {now}"
        )
        reboot(board, shell)
        assert files_with(shell, OVERLAY, f"id={con_id}"), f"{con_id} is gone after a reboot"
        now = wait_active(shell, con_id)
        assert now.get(con_id) == "activated", f"{con_id} is not active after a reboot: {now}"
    finally:
        shell.run(f"nmcli connection delete {shlex.quote(con_id)}", timeout=30)


def ethernet_profile(con_id: str) -> str:
    return (
        f"[connection]\nid={con_id}\ntype=ethernet\ninterface-name=eth0\n"
        "autoconnect-priority=50\n\n[ipv4]\nmethod=auto\n\n[ipv6]\nmethod=auto\n"
    )


@pytest.mark.needs("ethernet")
@pytest.mark.faults("dhcp-timeout", "state-not-persistent", "reboot-ignored")
def test_boot_partition_changes_apply_after_reboot_and_copies_stay(
    board: Board, shell: ShellSession
) -> None:
    """A new file in the boot partition changes nothing until a reboot, then its
    connection is active; deleted from the boot partition, it stays on the device."""
    con_id = "hil-boot-eth"
    name = f"system-connections/{con_id}"
    wait_network(shell)
    try:
        put_boot_file(shell, name, ethernet_profile(con_id))
        assert not files_with(shell, OVERLAY, f"id={con_id}"), (
            f"{con_id} reached {OVERLAY} before a reboot (two-way binding?)"
        )
        reboot(board, shell)
        assert files_with(shell, OVERLAY, f"id={con_id}"), f"{con_id} was not copied at boot"
        assert active(shell).get(con_id) == "activated", (
            f"{con_id} from the boot partition is not active after a reboot: {active(shell)}"
        )

        remove_boot_file(shell, name)
        reboot(board, shell)
        assert files_with(shell, OVERLAY, f"id={con_id}"), (
            f"{con_id} was deleted from the boot partition and vanished from the device"
        )
        assert active(shell).get(con_id) == "activated", (
            f"{con_id} is not active after its boot file was deleted: {active(shell)}"
        )
    finally:
        remove_boot_file(shell, name)
        shell.run(f"nmcli connection delete {shlex.quote(con_id)}", timeout=30)
        # eth0 is left with no connection: NetworkManager makes its default wired
        # connection again at its next start (the next test must find the board as
        # it boots, whatever suite runs next)
        board.reboot_later(shell, f"{con_id} deleted: the default wired connection is made at boot")
        shell.run("nmcli connection up 'Wired connection 1'", timeout=60)
