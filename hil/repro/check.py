"""`hil bundle check`: everything wrong with a bundle, before any hardware is touched.

Each file goes through the validator of its kind (`hil.netconfig`: keyfiles as
NetworkManager reads them, config.json, redsocks.conf, no_proxy, dispatcher
scripts); then the files are held against `device.yaml` (a WiFi connection
for a network not in range, an APN the operator's network does not accept, a
gsm connection without a modem); the logs are searched for the known failure
signatures (`hil.repro.triage`), which are shown first. Redacted secrets are
not checked: the report says which.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hil.netconfig import (
    Issue,
    Report,
    check_boot_file,
    setting_name,
    validate,
    why_not_loaded,
)
from hil.repro.bundle import (
    CONFIG_JSON,
    CONNECTIONS,
    DISPATCHER,
    LOGS,
    PROXY,
    REDACTED,
    Bundle,
)
from hil.repro.configured import connections
from hil.repro.triage import SIGNATURES, Finding, triage

_KINDS = {
    CONFIG_JSON: "config.json",
    f"{PROXY}/redsocks.conf": "redsocks.conf",
    f"{PROXY}/no_proxy": "no_proxy",
}


@dataclass
class BundleReport:
    """The verdict on a bundle: one `Report` per file, the consistency findings, triage."""

    bundle: Bundle
    files: list[Report] = field(default_factory=list)
    device: Report = field(default_factory=lambda: Report("device.yaml"))
    findings: list[Finding] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return all(r.valid for r in [*self.files, self.device])

    @property
    def errors(self) -> int:
        return sum(len(r.errors) for r in [*self.files, self.device])

    @property
    def warnings(self) -> int:
        return sum(len(r.warnings) for r in [*self.files, self.device])

    def as_json(self) -> dict[str, object]:
        return {
            "bundle": self.bundle.source,
            "valid": self.valid,
            "device": describe(self.bundle),
            "triage": [
                {
                    "category": f.signature.category,
                    "signature": f.signature.name,
                    "fault": f.signature.fault,
                    "file": f.file,
                    "line": f.line,
                    "text": f.text,
                    "advice": f.signature.advice,
                }
                for f in self.findings
            ],
            "files": [r.as_json() for r in [*self.files, self.device]],
            "not_checked": self.not_checked,
        }

    def lines(self) -> list[str]:
        """Human output: the device, triage first, then every problem, then a summary."""
        out = [f"{self.bundle.source}: {describe(self.bundle)}"]
        if self.findings:
            out.append("known failure signatures in the logs:")
            out += [f"  {f}" for f in self.findings]
        problems = [line for r in [*self.files, self.device] for line in r.lines()]
        if problems:
            out.append("problems:")
            out += [f"  {p}" for p in problems]
        if self.not_checked:
            out.append("redacted, not checked: " + ", ".join(self.not_checked))
        verdict = "valid" if self.valid else "INVALID"
        out.append(f"{verdict}: {self.errors} error(s), {self.warnings} warning(s)")
        return out


def describe(bundle: Bundle) -> str:
    d = bundle.device
    parts = [d.device_type, f"balenaOS {d.os_release}"]
    parts += [f"modem {m.model} ({m.vid_pid})" for m in d.modems]
    if d.networks is not None:
        parts.append(f"{len(d.networks)} WiFi network(s) in range")
    return ", ".join(parts)


def check_bundle(bundle: Bundle) -> BundleReport:
    """Validate every file of `bundle` and hold them against its `device.yaml`."""
    report = BundleReport(bundle)
    for path, data in sorted(bundle.files.items()):
        file_report = _check_file(bundle, path, data, report)
        if file_report is not None:
            report.files.append(file_report)
    _check_against_device(bundle, report.device)
    secrets = _secret_values(bundle)
    logs = {name: text for name in LOGS if (text := bundle.log(name)) is not None}
    report.findings = storage_mode_modems(bundle) + triage(logs, redact=secrets)
    return report


def storage_mode_modems(bundle: Bundle) -> list[Finding]:
    """Modems whose VID:PID in device.yaml is a storage-mode id that usb_modeswitch
    switches (usb-modeswitch-data): the modem was found before it was switched."""
    from hil.usb.modeswitch import ModeswitchDataMissing, ModeswitchDb

    modems = [(i, m) for i, m in enumerate(bundle.device.modems) if m.vid_pid]
    if not modems:
        return []
    try:
        db = ModeswitchDb.load()
    except ModeswitchDataMissing:
        return []
    signature = next(s for s in SIGNATURES if s.fault == "modem-stuck-in-storage-mode")
    found = []
    for i, m in modems:
        vid, pid = (m.vid_pid or ":").split(":")
        entry = db.lookup(vid, pid) or next(iter(db.variants_of(vid, pid)), None)
        if entry is None:
            continue
        targets = ",".join(entry.target_products) or "?"
        text = (
            f"modems[{i}] {m.model} enumerates as {m.vid_pid}, a storage-mode id: "
            f"usb_modeswitch ({entry.method}) switches it to "
            f"{entry.target_vendor or vid}:{{{targets}}}"
        )
        found.append(Finding(signature, "device.yaml", 1, text, 1))
    return found


def _check_file(bundle: Bundle, path: str, data: bytes, report: BundleReport) -> Report | None:
    if path in LOGS:
        return None
    if path.startswith(CONNECTIONS + "/") and path.count("/") == 1:
        result = validate(data, path)
        if why_not_loaded(path.split("/", 1)[1]):
            return result  # the warning says it is never loaded
        return _without_redacted(bundle, path, result, report)
    if path in _KINDS:
        result = check_boot_file(_KINDS[path], data, path)  # type: ignore[arg-type]
        return _without_redacted(bundle, path, result, report)
    if path.startswith(DISPATCHER + "/") and path.count("/") == 1:
        return check_boot_file("dispatcher", data, path, mode=0o100755)
    result = Report(path)
    if path not in bundle.device.files and bundle.device.files:
        result.warn("not in the manifest of device.yaml (added after collection?)")
    result.warn(
        "not part of the bundle format: ignored (config.json, system-connections/, "
        "system-proxy/, dispatcher.d/, journal.log, dmesg.log, mmcli.txt)"
    )
    return result


def _without_redacted(bundle: Bundle, path: str, result: Report, report: BundleReport) -> Report:
    """Drop the issues about values that were redacted: they are not the field's values."""
    redacted = {
        _setting_key(entry.partition(":")[2].strip())
        for entry in bundle.device.redacted
        if entry.partition(":")[0].strip() == path
    }
    if not redacted:
        return result

    def about_redacted(issue: Issue) -> bool:
        if issue.key is None:
            return False
        key = (setting_name(issue.section) if issue.section else "", issue.key)
        return key in redacted or ("", issue.key) in redacted

    kept = Report(result.path)
    for issue in [*result.errors, *result.warnings]:
        if not about_redacted(issue):
            kept.add(issue)
    report.not_checked += sorted(f"{path}: {f'{s}.' if s else ''}{k}" for s, k in redacted)
    return kept


def _setting_key(text: str) -> tuple[str, str]:
    """`wifi-security.psk` → (`802-11-wireless-security`, `psk`); `apiKey` → (``, `apiKey`)."""
    section, dot, key = text.rpartition(".")
    if not dot:
        return "", key
    try:
        return setting_name(section), key
    except Exception:
        return "", key


def _check_against_device(bundle: Bundle, report: Report) -> None:
    """Do the connection files fit the device and its surroundings?"""
    device = bundle.device
    conns = connections(bundle)
    in_range = {n.ssid: n for n in device.networks} if device.networks is not None else None
    for c in conns:
        if c.type == "wifi" and not c.is_hotspot and c.ssid and in_range is not None:
            net = in_range.get(c.ssid)
            if net is None:
                report.warn(
                    f"{c.path}: SSID {c.ssid!r} is not among the networks in range "
                    f"({', '.join(sorted(in_range)) or 'none'})",
                    key="networks",
                )
                continue
            if net.hidden and not c.hidden:
                report.warn(f"{c.path}: {c.ssid!r} is hidden but the file lacks hidden=true")
            if net.security != c.security:
                report.warn(
                    f"{c.path}: {c.ssid!r} uses {net.security}, the file {c.security}",
                    key="networks",
                )
            psk = c.get("wifi-security", "psk")
            if net.psk and psk and psk != REDACTED and psk != net.psk:
                report.warn(
                    f"{c.path}: the psk differs from the passphrase of {c.ssid!r} in device.yaml",
                    key="networks",
                )
        if c.type == "gsm":
            if not device.modems:
                report.warn(f"{c.path}: a gsm connection, but device.yaml lists no modem")
                continue
            apn = c.get("gsm", "apn")
            accepted = {m.apn for m in device.modems if m.apn}
            if apn is not None and accepted and apn not in accepted:
                report.warn(
                    f"{c.path}: apn {apn!r}, but the operator's network accepts "
                    f"{', '.join(sorted(repr(a) for a in accepted))}",
                    key="modems",
                )


def _secret_values(bundle: Bundle) -> list[str]:
    """The bundle's own secrets (so that triage evidence never shows them)."""
    from hil.repro.secrets import bundle_secrets

    return bundle_secrets(bundle)
