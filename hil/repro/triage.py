"""Known failure signatures, recognised in a bundle's logs and shown first.

Each signature is what the real tools print when that failure happens —
NetworkManager's and wpa_supplicant's journal lines, ModemManager's and
`mmcli`'s words, the kernel's — with the reporting category it falls under
(the names of the allure categories) and the lab fault that reproduces it on
a simulated board. Most specific first: a SIM missing also leaves the
bearer unconnected, and the SIM is what to fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hil.lab.secrets import REDACTOR


@dataclass(frozen=True)
class Signature:
    name: str
    #: the reporting category (allure's categories.json)
    category: str
    #: the lab fault that reproduces it on a simulated board
    fault: str | None
    pattern: re.Pattern[str]
    advice: str


def _sig(name: str, category: str, fault: str | None, pattern: str, advice: str) -> Signature:
    return Signature(name, category, fault, re.compile(pattern), advice)


SIGNATURES: list[Signature] = [
    _sig(
        "modem stuck in storage mode",
        "Modem stuck in storage mode",
        "modem-stuck-in-storage-mode",
        r"USB Mass Storage device detected|Mass storage mode|usb_modeswitch.*"
        r"(?:fail|[Nn]o devices in default mode)|[Mm]ode switch has failed",
        "the modem still enumerates as a CD-ROM/storage device: check that usb_modeswitch "
        "knows its VID:PID (`hil modeswitch lookup`) and that it is not blacklisted",
    ),
    _sig(
        "SIM missing",
        "SIM",
        "sim-missing",
        r"state-failed-reason\s*:\s*sim-missing|failed reason:\s*sim-missing|"
        r"SIM not inserted|SimNotInserted",
        "no SIM card detected: check the card is seated and the tray is the modem's",
    ),
    _sig(
        "SIM locked",
        "SIM",
        "sim-locked",
        r"unlock-required\s*:\s*sim-pin\b|unlock required:\s*sim-pin\b|SIM PIN required|"
        r"[Ss]imPin\b|SIM PUK required",
        "the SIM asks for a PIN: set `pin=` in the gsm connection file, or remove the PIN",
    ),
    _sig(
        "modem dropped off the USB bus",
        "Modem not found",
        "modem-reenumerates",
        r"usb \S+: USB disconnect, device number",
        "the modem left the bus: power (undervoltage), cable or modem firmware",
    ),
    _sig(
        "undervoltage",
        "Board",
        "undervoltage",
        r"[Uu]nder-?voltage detected",
        "the power supply cannot feed the board and the modem: use a stronger supply",
    ),
    _sig(
        "registration denied or not found",
        "Registration",
        "no-registration",
        r"registration-state\s*:\s*(?:denied|searching|idle)|"
        r"registration state changed \([^)]*-> (?:denied|idle)\)|[Nn]etwork registration denied",
        "the modem does not register: coverage, a SIM without service, or the band",
    ),
    _sig(
        "wrong APN",
        "APN / bearer",
        "wrong-apn",
        r"[Mm]issing or unknown APN|MissingOrUnknownApn|[Ss]ervice option not subscribed|"
        r"ServiceOptionNotSubscribed|[Uu]nknown APN",
        "the network rejects the APN of the gsm connection: use the operator's APN",
    ),
    _sig(
        "WiFi authentication failure",
        "WiFi authentication",
        "wrong-psk",
        r"4-Way Handshake failed|pre-shared key may be incorrect|reason=WRONG_KEY|"
        r"[Ss]ecrets were required, but not provided|reason 'no-secrets'|"
        r"disconnected during association, asking for new key",
        "the access point refused the passphrase: check psk= (and key-mgmt=) of the "
        "WiFi connection",
    ),
    _sig(
        "enterprise (802.1X) authentication failure",
        "WiFi authentication",
        "enterprise-auth-fails",
        r"CTRL-EVENT-EAP-FAILURE|EAP authentication failed|802\.1X supplicant failed|"
        r"reason 'supplicant-failed'",
        "the RADIUS server rejected the credentials: identity, password, CA certificate",
    ),
    _sig(
        "WiFi network not found",
        "WiFi authentication",
        "ap-down",
        r"No network with SSID '[^']*' found|The Wi-Fi network could not be found|"
        r"reason 'ssid-not-found'",
        "the SSID is not in range (or is hidden: set hidden=true)",
    ),
    _sig(
        "DHCP timeout",
        "DHCP",
        "dhcp-timeout",
        r"dhcp4 \([^)]*\): request timed out|reason 'ip-config-unavailable'|"
        r"IP configuration could not be reserved",
        "no DHCP server answered: the network, VLAN or a static address",
    ),
    _sig(
        "DNS failure",
        "DNS",
        "dns-blocked",
        r"Temporary failure in name resolution|[Cc]ould not resolve host|"
        r"no servers could be reached|Name or service not known",
        "names do not resolve: dnsServers in config.json, or UDP/TCP 53 blocked",
    ),
    _sig(
        "NTP failure",
        "NTP",
        "ntp-blocked",
        r"[Cc]an't synchronise: no selectable sources|No suitable source for synchroni[sz]ation"
        r"|[Nn]o reachable sources|Timed out waiting for reply from .*:123",
        "time is not synchronised: ntpServers in config.json, or UDP 123 blocked",
    ),
    _sig(
        "proxy failure",
        "Proxy",
        "proxy-down",
        r"redsocks.*(?:[Cc]onnection refused|timed out|error)",
        "the proxy of system-proxy/redsocks.conf refuses or does not answer",
    ),
    _sig(
        "connectivity check fails",
        "Connectivity",
        "connectivity-check-fails",
        r"NetworkManager state is now CONNECTED_(?:SITE|LOCAL)|connectivity: .*check failed",
        "NetworkManager's connectivity check fails: the uri/response of "
        "os.network.connectivity in config.json, or port 80/443 blocked",
    ),
]


@dataclass(frozen=True)
class Finding:
    signature: Signature
    file: str
    line: int
    text: str  # the first matching line, redacted
    count: int  # how many lines match

    def __str__(self) -> str:
        fault = f" (lab fault {self.signature.fault})" if self.signature.fault else ""
        more = f", {self.count - 1} more line(s)" if self.count > 1 else ""
        return (
            f"{self.signature.category}: {self.signature.name}{fault} — "
            f"{self.file}:{self.line}{more}: {self.text}\n    {self.signature.advice}"
        )


def triage(logs: dict[str, str], redact: list[str] | None = None) -> list[Finding]:
    """The known signatures found in `logs` (file name → text), most specific first.

    Lines starting with `#` are notes (where a log came from), not log lines.

    Evidence lines go through the lab's redactor and also mask `redact` (the
    bundle's own secrets)."""
    secrets = [s for s in (redact or []) if len(s) >= 4]
    findings = []
    for sig in SIGNATURES:
        for name, text in logs.items():
            hits = [
                (i, line) for i, line in enumerate(text.splitlines(), 1) if sig.pattern.search(line)
            ]
            if hits:
                line_no, line = hits[0]
                for s in secrets:
                    line = line.replace(s, "******")
                line = REDACTOR.redact(line.strip())[:300]
                findings.append(Finding(sig, name, line_no, line, len(hits)))
                break
    return findings
