"""`hil keyfile check|new` — NetworkManager connection files for balenaOS boards."""

from __future__ import annotations

import argparse
import json
import os
import sys

from hil.errors import ConfigError
from hil.lab.secrets import REDACTOR, is_secret_key, redact
from hil.netconfig import Keyfile, Report, validate
from hil.netconfig import builders as b


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "keyfile",
        help="check or write NetworkManager connection files",
        description="Check NetworkManager keyfiles against the rules of NetworkManager and of "
        "the balenaOS networking doc, or write the doc's connection files.",
    )
    kind = p.add_subparsers(dest="keyfile_command", metavar="COMMAND")
    kind.required = True
    _register_check(kind)
    _register_new(kind)


# --- check -----------------------------------------------------------------------------


def _register_check(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="validate keyfiles (exit 0 all valid, 1 any invalid, 2 unreadable)",
        description="Validate NetworkManager keyfiles: would NetworkManager on the board load "
        "each file as written? Errors name the line and key and what was expected; keys "
        "NetworkManager ignores are warnings. Secret values are never printed. "
        "Exit 0 if all files are valid, 1 if any is invalid, 2 if a file cannot be read.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="connection files to check")
    p.add_argument(
        "--json",
        action="store_true",
        help='print a JSON list of {"path", "valid", "errors", "warnings"}',
    )
    p.set_defaults(func=run_check)


def run_check(args: argparse.Namespace) -> int:
    reports: list[Report] = []
    unreadable = False
    for path in args.files:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            unreadable = True
            sys.stderr.write(f"hil keyfile check: {path}: cannot read: {e.strerror}\n")
            continue
        _register_secrets(data)
        reports.append(validate(data, path))
    if args.json:
        text = json.dumps([r.as_json() for r in reports], indent=2, ensure_ascii=False)
        sys.stdout.write(redact(text) + "\n")
    else:
        for report in reports:
            for line in report.lines():
                sys.stdout.write(redact(line) + "\n")
            if report.valid:
                note = f" ({len(report.warnings)} warnings)" if report.warnings else ""
                sys.stdout.write(f"{report.path}: valid{note}\n")
    if unreadable:
        return 2
    return 0 if all(r.valid for r in reports) else 1


def _register_secrets(data: bytes) -> None:
    """Secret values of a file go to the redactor before any message is printed."""
    try:
        kf = Keyfile.parse(data)
    except ValueError:
        return
    for line in kf.entries():
        if line.key and is_secret_key(line.key) and line.raw_value:
            REDACTOR.add(line.raw_value)


# --- new -------------------------------------------------------------------------------


def _register_new(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "new",
        help="write a connection file of the networking doc (wifi, hotspot, gsm, ...)",
        description="Write one of the networking doc's connection files, validated. Put it in "
        "the boot partition's system-connections/ (hil image inject --connection FILE).",
    )
    kinds = p.add_subparsers(dest="kind", metavar="KIND")
    kinds.required = True

    def kind(name: str, help: str) -> argparse.ArgumentParser:
        k = kinds.add_parser(name, help=help, description=help)
        k.add_argument(
            "-o", "--output", metavar="FILE", help="write here (default: standard output)"
        )
        k.add_argument("--id", help="connection.id (default: the doc's)")
        return k

    k = kind("wifi", "WiFi with WPA-PSK (--psk), or open (no --psk); the doc's resin-wifi")
    k.add_argument("--ssid", required=True)
    k.add_argument("--psk", help="passphrase, 8 to 63 characters (or 64 hex digits)")
    k.add_argument("--hidden", action="store_true", help="the network does not broadcast its SSID")
    k.add_argument("--priority", type=int, help="autoconnect-priority (-999..999, higher wins)")
    k.add_argument("--interface", help="interface-name, e.g. wlan0")
    _static_options(k)
    k.set_defaults(build=_new_wifi)

    k = kind("ethernet", "ethernet: DHCP, static, or not the default route (the doc's examples)")
    k.add_argument("--interface", default="eth0", help="interface-name (default eth0)")
    k.add_argument(
        "--never-default",
        action="store_true",
        help="never the default route (never-default=true, route-metric=2000): WiFi is",
    )
    k.add_argument("--route-metric", type=int, help="ipv4.route-metric")
    _static_options(k)
    k.set_defaults(build=_new_ethernet)

    k = kind("enterprise", "WPA2-Enterprise WiFi (PEAP/MSCHAPv2 by default)")
    _enterprise_options(k, ssid=True)
    k.add_argument("--eap", default="peap", choices=["peap", "ttls"])
    k.add_argument("--phase2-auth", default="mschapv2", help="default mschapv2")
    k.add_argument("--ca-cert", help="path of the CA certificate on the board")
    k.add_argument("--anonymous-identity")
    k.set_defaults(build=_new_enterprise)

    k = kind("eduroam", "eduroam: PEAP/MSCHAPv2 with your institution's CA certificate")
    _enterprise_options(k, ssid=False)
    k.add_argument("--ca-cert", required=True, help="path of the CA certificate on the board")
    k.set_defaults(build=_new_eduroam)

    k = kind("hotspot", "a WiFi hotspot (mode=ap, method=shared), WPA2 unless --wpa1")
    k.add_argument("--ssid", required=True)
    k.add_argument("--psk", required=True, help="passphrase, 8 to 63 characters")
    k.add_argument("--interface", default="wlan0", help="default wlan0")
    k.add_argument("--band", default="bg", choices=["bg", "a"], help="default bg (2.4 GHz)")
    k.add_argument("--wpa1", action="store_true", help="WPA instead of WPA2/RSN (proto=)")
    k.add_argument("--uuid")
    k.set_defaults(build=_new_hotspot)

    k = kind("gsm", "a cellular connection (ModemManager): apn, number, credentials")
    k.add_argument("--apn", required=True)
    k.add_argument("--number", default="*99#", help="dial number (default *99#)")
    k.add_argument("--username")
    k.add_argument("--password")
    k.add_argument("--pin", help="SIM PIN")
    k.add_argument("--baud", type=int, default=115200, help="[serial] baud (default 115200)")
    k.add_argument("--no-autoconnect", action="store_true")
    k.set_defaults(build=_new_gsm)

    p.set_defaults(func=run_new)


def _static_options(k: argparse.ArgumentParser) -> None:
    k.add_argument("--address", metavar="IP/PREFIX", help="static IPv4, e.g. 192.168.1.111/24")
    k.add_argument("--gateway", metavar="IP", help="with --address, e.g. 192.168.1.1")
    k.add_argument(
        "--dns", metavar="IP", action="append", default=[], help="DNS server (repeatable)"
    )


def _enterprise_options(k: argparse.ArgumentParser, ssid: bool) -> None:
    if ssid:
        k.add_argument("--ssid", required=True)
    k.add_argument("--identity", required=True, help="user name, e.g. user@institution.edu")
    k.add_argument("--password", required=True)


def _static(args: argparse.Namespace) -> b.StaticIP | None:
    if args.address is None:
        if args.gateway or args.dns:
            raise ConfigError("--gateway and --dns need --address IP/PREFIX")
        return None
    return b.StaticIP(args.address, args.gateway, tuple(args.dns))


def _new_wifi(args: argparse.Namespace) -> Keyfile:
    return b.wifi(
        args.ssid,
        args.psk,
        id=args.id or "balena-wifi",
        hidden=args.hidden,
        priority=args.priority,
        interface=args.interface,
        static=_static(args),
    )


def _new_ethernet(args: argparse.Namespace) -> Keyfile:
    return b.ethernet(
        id=args.id or "my-ethernet",
        interface=args.interface,
        never_default=args.never_default,
        route_metric=args.route_metric,
        static=_static(args),
    )


def _new_enterprise(args: argparse.Namespace) -> Keyfile:
    return b.wpa2_enterprise(
        args.ssid,
        args.identity,
        args.password,
        id=args.id or "balena-wifi",
        eap=args.eap,
        phase2_auth=args.phase2_auth,
        ca_cert=args.ca_cert,
        anonymous_identity=args.anonymous_identity,
    )


def _new_eduroam(args: argparse.Namespace) -> Keyfile:
    return b.eduroam(args.identity, args.password, args.ca_cert, id=args.id or "eduroam")


def _new_hotspot(args: argparse.Namespace) -> Keyfile:
    return b.hotspot(
        args.ssid,
        args.psk,
        id=args.id or "balena-hotspot",
        interface=args.interface,
        band=args.band,
        wpa2=not args.wpa1,
        uuid=args.uuid,
    )


def _new_gsm(args: argparse.Namespace) -> Keyfile:
    return b.gsm(
        args.apn,
        id=args.id or "cellular",
        number=args.number or None,
        username=args.username,
        password=args.password,
        pin=args.pin,
        baud=args.baud,
        autoconnect=not args.no_autoconnect,
    )


def run_new(args: argparse.Namespace) -> int:
    for name in ("psk", "password", "pin"):
        REDACTOR.add(getattr(args, name, None))
    kf = args.build(args)
    if args.output:
        tmp = f"{args.output}.tmp-{os.getpid()}"
        try:
            kf.write(tmp)
            os.replace(tmp, args.output)
        except OSError as e:
            raise ConfigError(f"{args.output}: cannot write: {e.strerror}") from None
    else:
        sys.stdout.write(kf.dump())
    return 0
