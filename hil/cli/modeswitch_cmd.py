"""`hil modeswitch lookup VID:PID [--json]` — usb_modeswitch's entry for a device."""

from __future__ import annotations

import argparse
import json
import sys

from hil.usb.modeswitch import CONFIG_PACK, ModeswitchDb, parse_vid_pid


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "modeswitch",
        help="usb_modeswitch knowledge (from the usb-modeswitch-data package)",
        description="What usb_modeswitch does to a USB device, read from Debian's "
        f"usb-modeswitch-data ({CONFIG_PACK}).",
    )
    s = p.add_subparsers(dest="modeswitch_command", metavar="SUBCOMMAND")
    s.required = True
    lookup = s.add_parser(
        "lookup",
        help="the database entry of a VID:PID",
        description="Print the usb_modeswitch entry of a device in its storage (default) mode: "
        "target vendor, target product list, the switching method (the entry's mode keyword, "
        "or MessageContent when it only sends a message) and the message. Exit 1 if the "
        "device is not switchable. Ids are 4 lowercase hex digits.",
    )
    lookup.add_argument(
        "vid_pid",
        metavar="VID:PID",
        help="e.g. 12d1:1f01 (a variant as VID:PID:uMa=NAME is accepted too)",
    )
    lookup.add_argument("--json", action="store_true", help="machine-readable output")
    lookup.set_defaults(func=lookup_cmd)


def lookup_cmd(args: argparse.Namespace) -> int:
    text = args.vid_pid.strip()
    plain, _, variant = _split_variant(text)
    vid, pid = parse_vid_pid(plain)
    db = ModeswitchDb.load()
    entry = db.lookup(vid, pid)
    variants = db.variants_of(vid, pid)
    if variant:
        entry = next((v for v in variants if v.variant == variant), None)
    if entry is None:
        if variants and not variant:
            names = ", ".join(f"{vid}:{pid}:{v.variant}" for v in variants)
            sys.stderr.write(
                f"hil: {vid}:{pid}: no plain entry in {db.source}; usb_modeswitch picks a "
                f"variant by the device's strings: {names}\n"
            )
        else:
            sys.stderr.write(
                f"hil: {vid}:{pid}{':' + variant if variant else ''}: not switchable "
                f"(no entry in {db.source})\n"
            )
        return 1
    if args.json:
        json.dump(entry.as_json(), sys.stdout)
        sys.stdout.write("\n")
        return 0
    targets = ", ".join(entry.target_products) or "-"
    print(f"device:          {entry.vid_pid}" + (f" ({entry.comment})" if entry.comment else ""))
    print(f"target vendor:   {entry.target_vendor or '-'}")
    print(f"target products: {targets}")
    print(f"method:          {entry.method or '-'}")
    print(f"message content: {entry.message_content or '-'}")
    return 0


def _split_variant(text: str) -> tuple[str, str, str]:
    parts = text.split(":", 2)
    if len(parts) == 3:
        return f"{parts[0]}:{parts[1]}", ":", parts[2]
    return text, "", ""
