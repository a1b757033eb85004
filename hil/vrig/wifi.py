"""The virtual rig's WiFi lab: what the guest's hostapd access points are.

A board's `wifi:` networks and `hotspot:` in the lab config become a small
tar handed to the guest through QEMU's firmware configuration
(`-fw_cfg name=opt/hil/wifi.tar`), which `hil-vrig-wifi` (hil/vrig/guest)
unpacks at boot: one `mac80211_hwsim` radio for the board's `wlan0`, one per
access point and one for the lab's hotspot client, all but `wlan0` in the
lab's network namespace; a hostapd configuration per network (WPA2-PSK,
hidden, open, WPA2-Enterprise with hostapd's internal EAP server), and the
variants the lab's faults switch to (another passphrase, a RADIUS server
refusing the credentials or presenting a certificate of another CA, a hidden
network that does not answer probes). Nothing goes on the kernel command line
and nothing of it is on the board's disks.

The RADIUS server's certificate is signed by the network's `ca_cert` (the key
beside it, `<name>.key`: the virtual rig's CA is a test CA kept in the
repository) or, without a `ca_cert`, by a CA made for this boot.
"""

from __future__ import annotations

import io
import shlex
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hil.errors import ConfigError, HarnessError
from hil.lab.models import BoardConfig, HotspotConfig, WifiConfig

REPO = Path(__file__).resolve().parents[2]
#: where the guest finds the tar (hil-vrig-wifi reads /sys/firmware/qemu_fw_cfg/by_name/...)
FW_CFG_NAME = "opt/hil/wifi.tar"
#: the guest's run directory, where hostapd finds its certificates and user file
GUEST_DIR = "/run/lab/wifi"
#: channels given to networks whose lab config names none (non-overlapping 2.4 GHz)
DEFAULT_CHANNELS = (1, 6, 11)
#: beacon interval (TU): hwsim sends beacons from the kernel, while probe responses
#: come from hostapd in user space, late under TCG on a loaded host; mac80211's active
#: scan stays ~56 ms on a channel, so a beacon every 40 TU is always heard there
BEACON_TU = 40
#: the faults whose variants are hostapd configurations (`apN.<fault>.conf`)
CONF_FAULTS = (
    "wrong-psk",
    "enterprise-auth-fails",
    "ca-cert-mismatch",
    "hidden-ssid-not-broadcast",
)


@dataclass(frozen=True)
class AccessPoint:
    """One lab network as a hostapd interface in the lab's namespace."""

    iface: str  # ap0, ap1, ...
    net: WifiConfig
    channel: int

    def changed_by(self, fault: str | None) -> bool:
        """Whether this AP has a variant for `fault` (None: its own configuration)."""
        net = self.net
        return {
            None: True,
            "wrong-psk": net.security == "wpa-psk",
            "enterprise-auth-fails": net.security == "wpa-eap",
            "ca-cert-mismatch": net.security == "wpa-eap",
            "hidden-ssid-not-broadcast": net.hidden,
        }.get(fault, False)

    def conf(self, fault: str | None = None) -> str:
        """hostapd.conf of this AP, or of its `fault` variant."""
        net = self.net
        lines = [
            f"interface={self.iface}",
            "driver=nl80211",
            "bridge=wlab",
            f"ctrl_interface={GUEST_DIR}/hostapd",
            f"ssid2={_ssid2(net.ssid)}",
            f"hw_mode={'g' if self.channel <= 14 else 'a'}",
            f"channel={self.channel}",
            f"beacon_int={BEACON_TU}",
            "auth_algs=1",
        ]  # no country_code: a hint from the lab would set the board's regulatory domain
        if net.bssid:
            lines.append(f"bssid={net.bssid.lower()}")
        if net.hidden:
            lines.append("ignore_broadcast_ssid=1")
            if fault == "hidden-ssid-not-broadcast":
                lines.append("send_probe_response=0")
        if net.security == "wpa-psk":
            psk = net.psk or ""
            if fault == "wrong-psk":
                psk = "hil-wrong-" + psk[::-1]
            lines += ["wpa=2", "wpa_key_mgmt=WPA-PSK", "rsn_pairwise=CCMP", f"wpa_passphrase={psk}"]
        elif net.security == "wpa-eap":
            users = "eap_user.wrong" if fault == "enterprise-auth-fails" else "eap_user"
            server = "other" if fault == "ca-cert-mismatch" else self.iface
            lines += [
                "wpa=2", "wpa_key_mgmt=WPA-EAP", "rsn_pairwise=CCMP", "ieee8021x=1",
                "eap_server=1", f"eap_user_file={GUEST_DIR}/{self.iface}.{users}",
                f"ca_cert={GUEST_DIR}/{self.iface}-ca.pem",
                f"server_cert={GUEST_DIR}/{server}.pem",
                f"private_key={GUEST_DIR}/{server}.key",
            ]  # fmt: skip
        return "\n".join(lines) + "\n"

    def eap_users(self, wrong: bool = False) -> str:
        """hostapd's EAP user file: any outer identity may start PEAP/TTLS, the inner
        identity must be the network's with its password (another one when `wrong`)."""
        net = self.net
        password = (net.password or "") + ("-refused" if wrong else "")
        method = (net.eap or "peap").upper()
        inner = (net.phase2_auth or "mschapv2").upper()
        return f'* {method}\n"{net.identity}" {inner} "{password}" [2]\n'


@dataclass
class WifiLab:
    """The WiFi lab of one virtual board."""

    board: str
    aps: list[AccessPoint]
    hotspot: HotspotConfig | None = None
    lab_dir: Path = field(default_factory=lambda: REPO / "lab-config")

    @classmethod
    def of(cls, board: BoardConfig, lab_path: str | Path | None = None) -> WifiLab | None:
        """The board's WiFi lab, or None when the lab config gives it no WiFi."""
        if not board.wifi and not board.hotspot:
            return None
        aps = []
        for i, net in enumerate(board.wifi):
            channel = net.channel or DEFAULT_CHANNELS[i % len(DEFAULT_CHANNELS)]
            aps.append(AccessPoint(f"ap{i}", net, channel))
        lab_dir = Path(lab_path).resolve().parent if lab_path else REPO / "lab-config"
        return cls(board.name, aps, board.hotspot, lab_dir)

    @property
    def radios(self) -> int:
        """wlan0, the APs, and the hotspot client's station."""
        return 1 + len(self.aps) + (1 if self.hotspot else 0)

    def preferred(self) -> AccessPoint | None:
        """The AP of the network with the highest priority (fault `preferred-ap-down`)."""
        ranked = [ap for ap in self.aps if ap.net.priority is not None]
        return max(ranked, key=lambda ap: ap.net.priority or 0) if ranked else None

    def env(self) -> str:
        """wifi.env: what hil-vrig-wifi reads (shell assignments)."""
        preferred = self.preferred()
        values = {
            "RADIOS": str(self.radios),
            "APS": " ".join(ap.iface for ap in self.aps),
            "CLIENT": "sta0" if self.hotspot else "",
            "PREFERRED": preferred.iface if preferred else "",
        }
        return "".join(f"{k}={shlex.quote(v)}\n" for k, v in values.items())

    def files(self) -> dict[str, bytes]:
        """Every file of the tar, by name (certificates made now, with openssl)."""
        out: dict[str, bytes] = {"wifi.env": self.env().encode()}
        names = "".join(f"{ap.iface} {ap.net.name} {ap.net.ssid}\n" for ap in self.aps)
        out["networks"] = names.encode()
        eap = [ap for ap in self.aps if ap.net.security == "wpa-eap"]
        with tempfile.TemporaryDirectory(prefix="hil-vrig-wifi-") as tmp:
            certs = _Certs(Path(tmp))
            if eap:
                other_ca = certs.ca("other", "/CN=not the lab's RADIUS CA")
                out["other.pem"], out["other.key"] = certs.server("other", other_ca)
            for ap in self.aps:
                for fault in (None, *CONF_FAULTS):
                    if ap.changed_by(fault):
                        name = f"{ap.iface}.{fault}.conf" if fault else f"{ap.iface}.conf"
                        out[name] = ap.conf(fault).encode()
                if ap in eap:
                    ca = self._ca_of(ap, certs)
                    out[f"{ap.iface}-ca.pem"] = ca[0].read_bytes()
                    out[f"{ap.iface}.pem"], out[f"{ap.iface}.key"] = certs.server(ap.iface, ca)
                    out[f"{ap.iface}.eap_user"] = ap.eap_users().encode()
                    out[f"{ap.iface}.eap_user.wrong"] = ap.eap_users(wrong=True).encode()
        return out

    def _ca_of(self, ap: AccessPoint, certs: _Certs) -> tuple[Path, Path]:
        """(certificate, key) of the CA that signs this network's RADIUS server."""
        if not ap.net.ca_cert:
            return certs.ca(f"{ap.iface}-ca", "/CN=hil virtual rig lab CA")
        cert = Path(ap.net.ca_cert)
        if not cert.is_absolute():
            cert = self.lab_dir / cert
        key = cert.with_suffix(".key")
        where = f"boards ({self.board}).wifi ({ap.net.name}).ca_cert"
        if not cert.is_file():
            raise ConfigError(f"{where}: {cert}: no such file")
        if not key.is_file():
            raise ConfigError(
                f"{where}: {key} missing: the virtual rig's RADIUS server signs its "
                "certificate with the CA's key, kept beside the certificate"
            )
        return cert, key

    def tar(self) -> bytes:
        """The files as an uncompressed tar (busybox tar unpacks it in the guest)."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for name, data in sorted(self.files().items()):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o600
                tar.addfile(info, io.BytesIO(data))
        return buf.getvalue()

    def write(self, path: Path) -> Path:
        """Write the tar to `path` (mode 0600: it holds the lab's passphrases)."""
        data = self.tar()
        path.touch(mode=0o600)
        path.write_bytes(data)
        return path


class _Certs:
    """Certificates made with the openssl command line in a scratch directory."""

    def __init__(self, where: Path) -> None:
        self.where = where

    def _openssl(self, *args: str) -> None:
        proc = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise HarnessError(f"vrig: openssl {args[0]} failed: {proc.stderr.strip()[-300:]}")

    def ca(self, name: str, subject: str) -> tuple[Path, Path]:
        cert, key = self.where / f"{name}.pem", self.where / f"{name}.key"
        self._openssl(
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "30", "-subj", subject, "-keyout", str(key), "-out", str(cert),
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip
        return cert, key

    def server(self, name: str, ca: tuple[Path, Path]) -> tuple[bytes, bytes]:
        """A RADIUS server certificate signed by `ca`: (certificate, key) as PEM."""
        key, csr = self.where / f"{name}-server.key", self.where / f"{name}-server.csr"
        cert, ext = self.where / f"{name}-server.pem", self.where / f"{name}-server.ext"
        self._openssl(
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-subj", "/CN=radius.hil.lab", "-keyout", str(key), "-out", str(csr),
        )  # fmt: skip
        ext.write_text("extendedKeyUsage=serverAuth\nsubjectAltName=DNS:radius.hil.lab\n")
        self._openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
            "-CAcreateserial", "-CAserial", str(self.where / f"{name}.srl"), "-days", "30",
            "-extfile", str(ext), "-out", str(cert),
        )  # fmt: skip
        return cert.read_bytes(), key.read_bytes()


def _ssid2(ssid: str) -> str:
    """An SSID as hostapd's `ssid2=` takes any bytes: quoted text, or hex."""
    raw = ssid.encode()
    if all(0x20 < b < 0x7F and b != 0x22 for b in raw):
        return f'"{ssid}"'
    return raw.hex()
