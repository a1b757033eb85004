"""`hil image inject|ls|cat` — the boot partition of a raw disk image, without root."""

from __future__ import annotations

import argparse
import sys

from hil.bootfs import BootPartition, collect_boot_files
from hil.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "image",
        help="write, list and read the boot partition of a raw disk image",
        description="The boot partition (FAT, label resin-boot or resin-flash, else the first "
        "FAT partition) of a raw disk image, found by its MBR or GPT partition table; no root, "
        "no mount. Any failure leaves the image unchanged.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    actions.required = True

    inject = actions.add_parser(
        "inject",
        help="write connection files, config.json, proxy files, dispatcher scripts",
        description="Connections go to system-connections/ under their own file name, "
        "--config-json is merged into the existing config.json, the proxy files go to "
        "system-proxy/ (redsocks.conf, no_proxy), dispatcher scripts to dispatcher.d/. "
        "Everything is checked first; the image changes all at once or not at all.",
    )
    inject.add_argument("image", metavar="IMAGE")
    inject.add_argument(
        "--connection", action="append", default=[], metavar="FILE",
        help="a NetworkManager keyfile (repeatable)",
    )  # fmt: skip
    inject.add_argument("--config-json", metavar="FILE", help="JSON object merged into config.json")
    inject.add_argument(
        "--redsocks-conf", metavar="FILE", help="becomes system-proxy/redsocks.conf"
    )
    inject.add_argument("--no-proxy", metavar="FILE", help="becomes system-proxy/no_proxy")
    inject.add_argument(
        "--dispatcher", action="append", default=[], metavar="FILE",
        help="a NetworkManager dispatcher script (repeatable)",
    )  # fmt: skip
    inject.set_defaults(func=run_inject)

    ls = actions.add_parser(
        "ls",
        help="list a directory of the boot partition",
        description="One name per line; directories end with /.",
    )
    ls.add_argument("image", metavar="IMAGE")
    ls.add_argument("dir", nargs="?", default="/", metavar="DIR")
    ls.set_defaults(func=run_ls)

    cat = actions.add_parser("cat", help="print a file of the boot partition")
    cat.add_argument("image", metavar="IMAGE")
    cat.add_argument("path", metavar="PATH")
    cat.set_defaults(func=run_cat)


def run_inject(args: argparse.Namespace) -> int:
    files = collect_boot_files(
        connections=args.connection,
        config_json=args.config_json,
        redsocks_conf=args.redsocks_conf,
        no_proxy=args.no_proxy,
        dispatchers=args.dispatcher,
    )
    if not files:
        raise ConfigError(
            "hil image inject: nothing to inject (give --connection, --config-json, "
            "--redsocks-conf, --no-proxy or --dispatcher)"
        )
    boot = BootPartition.find(args.image)
    boot.write(files)
    for f in files:
        sys.stdout.write(f"{f.path}{' (merged)' if f.merge_json else ''}\n")
    return 0


def run_ls(args: argparse.Namespace) -> int:
    boot = BootPartition.find(args.image)
    for name in sorted(boot.listdir(args.dir)):
        sys.stdout.write(name + "\n")
    return 0


def run_cat(args: argparse.Namespace) -> int:
    boot = BootPartition.find(args.image)
    data = boot.read(args.path)
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    return 0
