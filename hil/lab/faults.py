"""The catalogue of lab faults (DESIGN.md): conditions of the lab, not of the harness.

Board faults must make the tests that cover them fail (never pass, never
hang). Console faults must leave verdicts unchanged, or make a test broken
with a clear reason. Suites declare which faults turn them red with
`@pytest.mark.faults(...)`; `hil sim faults` lists both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Fault:
    name: str
    kind: Literal["board", "console"]
    description: str


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in [
        Fault(
            "modem-stuck-in-storage-mode",
            "board",
            "the modem stays in USB mass-storage mode; usb_modeswitch never switches it",
        ),
        Fault(
            "modeswitch-wrong-method",
            "board",
            "usb_modeswitch switches the modem by another method than its usb-modeswitch-data "
            "entry (or the lab's configuration) gives: a setting left on the board (an "
            "/etc/usb_modeswitch.d config the dispatcher prefers, a leftover udev rule that "
            "runs first); the modem still comes up in modem mode",
        ),
        Fault("sim-missing", "board", "no SIM card in the modem"),
        Fault("sim-locked", "board", "the SIM asks for a PIN that is not configured or wrong"),
        Fault("wrong-apn", "board", "the network rejects the APN: the bearer never connects"),
        Fault("no-registration", "board", "the modem never registers on a network"),
        Fault("weak-signal", "board", "signal quality far below any usable threshold"),
        Fault(
            "modem-reenumerates",
            "board",
            "the modem drops off the bus and re-enumerates at its port",
        ),
        Fault("modem-drops-off-bus", "board", "the modem disappears from USB under load"),
        Fault("undervoltage", "board", "the board reports under-voltage / throttling"),
        Fault("ap-down", "board", "the lab access points stop beaconing"),
        Fault("wrong-psk", "board", "the access points use another passphrase than configured"),
        Fault(
            "hidden-ssid-not-broadcast", "board", "hidden networks do not answer directed probes"
        ),
        Fault("enterprise-auth-fails", "board", "the RADIUS server rejects the EAP credentials"),
        Fault("dhcp-timeout", "board", "no DHCP server answers on any interface"),
        Fault("regdomain-unset", "board", "the regulatory domain from config.json is not applied"),
        Fault(
            "preferred-ap-down",
            "board",
            "the AP of the board's preferred network (the `wifi:` entry with the highest "
            "priority) stops beaconing; the other APs stay up",
        ),
        Fault(
            "ca-cert-mismatch",
            "board",
            "the RADIUS server presents a certificate that the lab's CA did not sign",
        ),
        Fault(
            "static-ip-conflict",
            "board",
            "another host on the lab network answers ARP for the board's static address "
            "(NetworkManager's duplicate-address detection refuses it)",
        ),
        Fault(
            "dhcp-no-router",
            "board",
            "the DHCP servers of the lab's WiFi networks hand out leases without a router "
            "(no default gateway)",
        ),
        Fault(
            "hotspot-dhcp-fails",
            "board",
            "the board's hotspot DHCP server (dnsmasq of ipv4.method=shared) answers no client",
        ),
        Fault("dns-blocked", "board", "UDP/TCP 53 to any server is dropped"),
        Fault("ntp-blocked", "board", "UDP 123 is dropped"),
        Fault("port-443-blocked", "board", "outbound TCP 443 is dropped"),
        Fault("proxy-down", "board", "the lab's proxy refuses connections"),
        Fault(
            "connectivity-check-fails",
            "board",
            "the connectivity-check URI does not answer with the expected response",
        ),
        Fault(
            "state-not-persistent",
            "board",
            "the state partition is not persisted across reboots (a tmpfs overlay): what "
            "NetworkManager saved at runtime is gone after a reboot",
        ),
        Fault(
            "reboot-ignored",
            "board",
            "`reboot` returns without rebooting (systemd took the request, the reboot job "
            "never runs): the board keeps its boot, its boot id and its running state",
        ),
        Fault(
            "resolvconf-not-updated",
            "board",
            "NetworkManager's DNS servers never reach dnsmasq: resolvconf does not write "
            "/var/run/resolvconf/interface/NetworkManager (what /etc/resolv.dnsmasq links "
            "to), so dnsmasq asks only config.json's dnsServers",
        ),
        Fault(
            "console-noise",
            "console",
            "kernel messages interleaved anywhere on the console, mid-line and mid-prompt",
        ),
        Fault("console-drop-bytes", "console", "the console line drops bytes now and then"),
        Fault("reboot-during-command", "console", "the board reboots while a command runs"),
    ]
}


def unknown_faults(names: list[str]) -> list[str]:
    """Names in `names` that are not in the catalogue."""
    return [n for n in names if n not in FAULTS]
