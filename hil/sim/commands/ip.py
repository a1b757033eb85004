"""`ip addr|route|link` (iproute2), text and `-j` JSON, from the NetworkManager model."""

from __future__ import annotations

import json

from hil.sim.commands import command
from hil.sim.nm import State
from hil.sim.shell.interp import CommandError, Proc

FOREVER = 4294967295


def _links(p: Proc) -> list[dict]:
    nm = p.world.nm
    nm.tick()
    links = [
        {
            "ifindex": 1,
            "ifname": "lo",
            "flags": ["LOOPBACK", "UP", "LOWER_UP"],
            "mtu": 65536,
            "qdisc": "noqueue",
            "operstate": "UNKNOWN",
            "group": "default",
            "txqlen": 1000,
            "link_type": "loopback",
            "address": "00:00:00:00:00:00",
            "broadcast": "00:00:00:00:00:00",
            "addr_info": [
                {
                    "family": "inet",
                    "local": "127.0.0.1",
                    "prefixlen": 8,
                    "scope": "host",
                    "label": "lo",
                    "valid_life_time": FOREVER,
                    "preferred_life_time": FOREVER,
                }
            ],
        }
    ]
    for index, st in enumerate(nm.devices.values(), start=2):
        dev = st.device
        up = st.state >= State.PREPARE and st.state != State.FAILED
        carrier = st.state == State.ACTIVATED or (dev.type == "ethernet" and dev.available())
        flags = ["BROADCAST", "MULTICAST"] if dev.type != "gsm" else ["POINTOPOINT", "NOARP"]
        if up or dev.type == "ethernet":
            flags.append("UP")
        if carrier:
            flags.append("LOWER_UP")
        info = []
        act = st.activation
        if act and st.state == State.ACTIVATED and act.ip and act.ip.address:
            iface = act.ip.interface
            entry = {
                "family": "inet",
                "local": str(iface.ip),
                "prefixlen": iface.network.prefixlen,
                "broadcast": str(iface.network.broadcast_address),
                "scope": "global",
            }
            if act.ip.method == "auto":
                entry["dynamic"] = True
                entry["noprefixroute"] = True
                life = 86400
            else:
                entry["noprefixroute"] = True
                life = FOREVER
            entry.update(
                {"label": dev.ip_iface, "valid_life_time": life, "preferred_life_time": life}
            )
            info.append(entry)
        links.append(
            {
                "ifindex": index,
                "ifname": dev.ip_iface,
                "flags": flags,
                "mtu": 1500,
                "qdisc": "mq" if dev.type != "gsm" else "fq_codel",
                "operstate": "UP" if carrier else "DOWN",
                "group": "default",
                "txqlen": 1000,
                "link_type": "ether" if dev.type != "gsm" else "none",
                "address": dev.mac,
                "broadcast": "ff:ff:ff:ff:ff:ff",
                "addr_info": info,
            }
        )
    return links


def _addr_text(links: list[dict]) -> str:
    out = []
    for link in links:
        out.append(
            f"{link['ifindex']}: {link['ifname']}: <{','.join(link['flags'])}> mtu "
            f"{link['mtu']} qdisc {link['qdisc']} state {link['operstate']} group "
            f"default qlen {link['txqlen']}"
        )
        out.append(f"    link/{link['link_type']} {link['address']} brd {link['broadcast']}")
        for a in link["addr_info"]:
            extra = " dynamic" if a.get("dynamic") else ""
            extra += " noprefixroute" if a.get("noprefixroute") else ""
            brd = f" brd {a['broadcast']}" if "broadcast" in a else ""
            out.append(
                f"    inet {a['local']}/{a['prefixlen']}{brd} scope {a['scope']}{extra} "
                f"{a['label']}"
            )
            life = "forever" if a["valid_life_time"] == FOREVER else f"{a['valid_life_time']}sec"
            out.append(f"       valid_lft {life} preferred_lft {life}")
    return "\n".join(out) + "\n"


def _route_text(routes: list[dict]) -> str:
    lines = []
    for r in routes:
        parts = [r["dst"]]
        if "gateway" in r:
            parts.append(f"via {r['gateway']}")
        parts.append(f"dev {r['dev']}")
        parts.append(f"proto {r['protocol']}")
        if "scope" in r:
            parts.append(f"scope {r['scope']}")
        parts.append(f"src {r['prefsrc']}")
        parts.append(f"metric {r['metric']}")
        lines.append(" ".join(parts))
    return "".join(line + "\n" for line in lines)


def _route_get(p: Proc, args: list[str], as_json: bool) -> int:
    """`ip route get ADDRESS`: the route the kernel would pick."""
    if not args:
        p.err('Command line is not complete. Try "ip route help".\n')
        return 255
    address = args[0]
    try:
        route = p.world.subsystems["services"].lab.route_to(address)
    except ValueError:
        p.err(f'Error: any valid prefix is expected rather than "{address}".\n')
        return 1
    if route is None:
        p.err("RTNETLINK answers: Network is unreachable\n")
        return 2
    if as_json:
        p.out(json.dumps([route], separators=(",", ":")) + "\n")
        return 0
    via = f" via {route['gateway']}" if "gateway" in route else ""
    p.out(f"{address}{via} dev {route['dev']} src {route['prefsrc']} uid 0 \n    cache \n")
    return 0


@command("ip")
def ip(p: Proc) -> int:
    args = p.args[1:]
    as_json = False
    while args and args[0].startswith("-"):
        flag = args.pop(0)
        if flag in ("-j", "-json", "--json"):
            as_json = True
        elif flag in ("-4", "-6", "-p", "-pretty", "-br", "-brief", "-d", "-s"):
            continue
        else:
            raise CommandError(f'Option "{flag}" is unknown, try "ip -help".', 255)
    if not args:
        p.err("Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }\n")
        return 255
    obj, rest = args[0], args[1:]
    dev = (
        rest[rest.index("dev") + 1] if "dev" in rest and rest.index("dev") + 1 < len(rest) else None
    )
    if "address".startswith(obj) or "link".startswith(obj):
        links = _links(p)
        if dev:
            links = [link for link in links if link["ifname"] == dev]
            if not links:
                p.err(f'Device "{dev}" does not exist.\n')
                return 1
        if "link".startswith(obj) and obj != "a":
            links = [{k: v for k, v in link.items() if k != "addr_info"} for link in links]
        p.out(json.dumps(links, separators=(",", ":")) + "\n" if as_json else _addr_text(links))
        return 0
    if "route".startswith(obj) and rest[:1] == ["get"]:
        return _route_get(p, rest[1:], as_json)
    if "route".startswith(obj):
        p.world.nm.tick()
        routes = p.world.nm.routes()
        if dev:
            routes = [r for r in routes if r["dev"] == dev]
        if as_json:
            p.out(json.dumps(routes, separators=(",", ":")) + "\n")
        else:
            p.out(_route_text(routes))
        return 0
    p.err(f'Object "{obj}" is unknown, try "ip help".\n')
    return 255
