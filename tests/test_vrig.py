"""The virtual rig: the guest build, the QEMU command line, and one real boot.

The boot test runs QEMU (TCG) on Debian's kernel with this host's root over
9p, through `hil vrig serve` and two `hil exec` calls, as a user would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hil.board import Board, FaultUnsupported
from hil.board.vrig_faults import VrigLabSide
from hil.bootfs.image import BootPartition
from hil.bootfs.partitions import read_partition_table
from hil.errors import ConfigError
from hil.lab import load_lab
from hil.vrig.build import build, find_kernel, module_order
from hil.vrig.disk import default_config_json, make_boot_image
from hil.vrig.options import qemu_options
from hil.vrig.vm import qemu_command
from tests.support.reboots import typed_reboots

REPO = Path(__file__).resolve().parents[1]
LAB = REPO / "lab-config" / "vrig.yaml"
HIL = [sys.executable, "-m", "hil.cli.main"]


def test_module_order_puts_dependencies_first() -> None:
    _, modules = find_kernel()
    order = [p.rsplit("/", 1)[-1] for p in module_order(modules)]
    for needed, user in [
        ("virtio_ring.ko", "virtio.ko"),
        ("virtio.ko", "virtio_pci.ko"),
        ("netfs.ko", "fscache.ko"),
        ("9pnet.ko", "9pnet_virtio.ko"),
        ("fscache.ko", "9p.ko"),
    ]:
        assert order.index(needed) < order.index(user), order
    assert "overlay.ko" in order
    assert len(order) == len(set(order))


def test_build_is_cached_and_rebuilds_on_force(tmp_path: Path) -> None:
    first = build(cache=tmp_path)
    assert first.kernel.stat().st_size > 1_000_000
    listing = subprocess.run(
        ["busybox", "cpio", "-t"], stdin=first.initrd.open("rb"), capture_output=True, text=True
    ).stdout.split()
    assert {"init", "stage2", "bin/busybox", "modules/9p.ko", "modules/order"} <= set(listing)
    stamp = first.initrd.stat().st_mtime_ns
    again = build(cache=tmp_path)
    assert again == first and first.initrd.stat().st_mtime_ns == stamp
    forced = build(cache=tmp_path, force=True)
    assert forced == first and first.initrd.stat().st_mtime_ns != stamp
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == [
        first.kernel.parent.name
    ]


def test_qemu_has_no_host_network_and_a_loopback_console(tmp_path: Path) -> None:
    board = load_lab(LAB).boards[0]
    cmd = qemu_command(build(), qemu_options(board), 4321, tmp_path / "boot.img")
    assert cmd[cmd.index("-nic") + 1] == "none"
    assert "-nodefaults" in cmd
    # the only network: the board's NIC and the lab's NIC on one internal hub
    netdevs = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "-netdev"]
    assert netdevs == ["hubport,id=board,hubid=0", "hubport,id=lab,hubid=0"]
    assert cmd[cmd.index("-drive") + 1].startswith(f"file={tmp_path / 'boot.img'},format=raw,")
    assert cmd[cmd.index("-serial") + 1] == "tcp:127.0.0.1:4321,server=on,wait=off"
    assert "readonly=on" in cmd[cmd.index("-virtfs") + 1]
    assert "hil.release=2.115.7" in cmd[cmd.index("-append") + 1]


def test_boot_disk_is_a_resin_boot_partition_hil_image_writes(tmp_path: Path) -> None:
    image = make_boot_image(
        tmp_path / "boot.img", default_config_json("genericx86-64-ext", "7e4c2d1")
    )
    boot = BootPartition.find(image)
    assert (boot.volume.kind, boot.volume.label) == ("FAT16", "resin-boot")
    assert boot.partition.start == 1 << 20
    config = json.loads(boot.read("config.json"))
    assert config == {
        "deviceType": "genericx86-64-ext",
        "hostname": "7e4c2d1",
        "persistentLogging": False,
    }
    (tmp_path / "patch.json").write_text('{"country": "GB"}')
    inject = subprocess.run(
        [*HIL, "image", "inject", str(image), "--config-json", str(tmp_path / "patch.json")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert inject.returncode == 0, inject.stderr
    assert json.loads(BootPartition.find(image).read("config.json"))["country"] == "GB"
    # then balenaOS's state partition, where NetworkManager's connections persist
    with image.open("rb") as f:
        table = read_partition_table(f, image.stat().st_size, str(image))
    state = table.partitions[1]
    assert (table.partitions[0].type, state.type) == ("0x0c", "0x83")
    probe = subprocess.run(
        ["blkid", "-p", "-O", str(state.start), "-o", "export", str(image)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert "TYPE=ext4" in probe.stdout.split() and "LABEL=resin-state" in probe.stdout.split()
    stamp = image.stat().st_mtime_ns
    assert make_boot_image(image, {}) == image and image.stat().st_mtime_ns == stamp  # kept


def test_bad_qemu_option_is_one_line_naming_board_and_key() -> None:
    board = load_lab(LAB).boards[0].model_copy(update={"qemu": {"os_release": "2.1 x"}})
    with pytest.raises(ConfigError) as e:
        qemu_options(board, "lab.yaml")
    assert str(e.value).startswith("lab.yaml: boards (vrig-a).qemu.os_release: ")
    board = board.model_copy(update={"qemu": {"memroy": 512}})
    with pytest.raises(ConfigError, match=r"qemu\.memroy: Extra inputs"):
        qemu_options(board, "lab.yaml")


#: the suites CI runs on the virtual rig (one boot), and what it leaves out: of the
#: cellular suite, the tests that reboot the board or re-enumerate the modem, and of
#: the WiFi suite all but WPA-PSK (their minutes under TCG are `make test-vrig`'s).
#: Ethernet's static IP and WiFi's WPA-PSK are boot-partition cases in a row: their
#: reboots are batched (3, not 4: the second case's apply reboot undoes the first)
CI_SUITES = ("ethernet", "wifi", "requirements", "connectivity", "proxy", "cellular")
CI_DESELECT = (
    "not from_boot_partition and not reenumerates_and_reconnects and not power_holds"
    " and not missing_sim and (test_wpa_psk_connects or not test_wifi.py)"
)
#: the `reboot`s the harness types in CI's suites: one per boot-partition case, plus
#: the last case's undo (paid by the next test that applies nothing)
CI_REBOOTS = 3
#: the network faults the lab inside the guest produces
NET_FAULTS = ("dns-blocked", "port-443-blocked", "ntp-blocked", "connectivity-check-fails")
NET_FAULTS += ("dhcp-timeout",)


def ap_states(status: str) -> dict[str, str]:
    """`hil-vrig-wifi status` → each lab network's SSID and its AP's state (up/down)."""
    return {
        words[2]: words[3]
        for words in (line.split() for line in status.splitlines())
        if len(words) >= 4 and words[0].startswith("ap")
    }


PROBE = "[connection]\nid=hil-probe\ntype=dummy\ninterface-name=hilprobe0\nautoconnect=false\n"


@pytest.mark.slow
def test_guest_boots_and_runs_the_ci_suites_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One boot (CI's virtual-rig run): the guest's identity and daemons; the lab
    side over the lab line (a fault switched at the lab router inside the guest,
    one the lab cannot produce); then the CI suites unchanged (ethernet's static IP
    and WiFi's WPA-PSK through the boot partition, their reboots batched: 3, not 4;
    requirements — clock tests included — and
    connectivity with config.json changes applied live and the connectivity-check
    fault, proxy with redsocks and the lab's tinyproxy, cellular on the USB gadget
    modem with data over PPP), every
    test passed or skipped for a fault this lab cannot produce; then what the
    reboots must have left: a new boot id, the boot partition's connection copied
    into NetworkManager's directory and its `*.ignore` sibling not; last, a power
    cycle (QEMU's reset) with a fault on, which the lab keeps on."""
    monkeypatch.setenv("HIL_VRIG_DIR", str(tmp_path / "registry"))
    # its own rig locks: the board's name is the lab config's, and another run of
    # lab-config/vrig.yaml on this machine (another checkout) must not hold this one up
    monkeypatch.setenv("HIL_LOCK_DIR", str(tmp_path / "locks"))
    env = dict(os.environ)
    log = (tmp_path / "serve.log").open("w+")
    started = time.monotonic()
    serve = subprocess.Popen(
        [*HIL, "vrig", "serve", "--lab", str(LAB)], stdout=log, stderr=subprocess.STDOUT, env=env
    )
    try:
        while "serving" not in (tmp_path / "serve.log").read_text():
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() - started < 480, "no shell on the guest's console in 480 s"
            time.sleep(0.5)
        print(f"vrig: build + boot to a shell in {time.monotonic() - started:.1f}s")

        def hil_exec(*cmd: str, seconds: int = 60) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*HIL, "exec", "--lab", str(LAB), "--board", "vrig-a", "--timeout", str(seconds),
                 "--", *cmd],
                capture_output=True, text=True, env=env, timeout=seconds + 180,
            )  # fmt: skip

        release = hil_exec("cat", "/etc/os-release")
        assert release.returncode == 0, release.stderr
        assert 'ID="balena-os"' in release.stdout
        assert 'VERSION_ID="2.115.7"' in release.stdout
        assert 'MACHINE="genericx86-64-ext"' in release.stdout

        # the guest's own kernel and hostname; eth0 (cabled to the lab's namespace), lo and
        # wlan0 (a mac80211_hwsim radio: the lab's radios are in the lab's namespace)
        second = hil_exec("uname -r; hostname; ls /sys/class/net; sh -c 'exit 3'")
        assert second.returncode == 3, second.stderr
        kernel, hostname, *netdevs = second.stdout.split()
        assert kernel == find_kernel()[1].name
        assert hostname == "7e4c2d1"
        assert netdevs == ["eth0", "lo", "wlan0"]

        t0 = time.monotonic()
        state = hil_exec(
            "nm-online -s -q -t 120 && nmcli -t -f DEVICE,TYPE,STATE device status"
            " && ip -4 -o addr show eth0 && pidof dbus-daemon NetworkManager ModemManager >/dev/null"
            " && findmnt -n -o FSTYPE /mnt/boot && jq -r .deviceType /mnt/boot/config.json"
        )
        print(f"vrig: NetworkManager's startup complete {time.monotonic() - t0:.1f}s later")
        assert state.returncode == 0, state.stdout + state.stderr
        assert "eth0:ethernet:connected" in state.stdout
        assert " inet 192.168.88." in state.stdout  # a lease from the lab's dnsmasq
        assert state.stdout.split()[-2:] == ["vfat", "genericx86-64-ext"]

        # the lab side: the lab router inside the guest drops DNS, then no longer
        lab = load_lab(LAB)
        board = Board(lab, lab.boards[0])
        assert isinstance(board.lab, VrigLabSide)
        for fault in NET_FAULTS:
            assert board.lab.supports(fault), fault
        with pytest.raises(FaultUnsupported, match="cannot produce fault 'undervoltage'"):
            board.lab.set_fault("undervoltage", True)
        lookup = "nslookup api.balena-cloud.com 192.168.88.1"
        with board.lab.fault("dns-blocked"):
            assert board.lab.active_faults() == ["dns-blocked"]
            blocked = hil_exec(lookup)
            assert blocked.returncode == 1 and "timed out" in blocked.stdout, blocked.stdout
        assert board.lab.active_faults() == []
        assert hil_exec(lookup).returncode == 0

        # WiFi: the lab's access points (channel 13 stays down in the world domain) as
        # the board's NetworkManager scans them; a WiFi fault through the lab line; the
        # lab's station joins a hotspot the board brings up, gets a lease, reaches it
        t0 = time.monotonic()
        ssids = {w.ssid for w in lab.boards[0].wifi}
        assert ap_states(hil_exec("hil-vrig-wifi status").stdout) == {
            ssid: ("down" if ssid == "hil-gb13" else "up") for ssid in ssids
        }
        scan = hil_exec("nmcli -t -f SSID device wifi list ifname wlan0")
        assert scan.returncode == 0, scan.stderr
        seen = set(scan.stdout.split())
        assert {"hil-lab", "hil-open", "hil-eap", "hil-eduroam"} <= seen, seen
        assert "hil-gb13" not in seen and "hil-hidden" not in seen, seen
        with board.lab.fault("preferred-ap-down"):
            states = ap_states(hil_exec("hil-vrig-wifi status").stdout)
            assert states["hil-prio-hi"] == "down" and states["hil-prio-lo"] == "up", states
        assert ap_states(hil_exec("hil-vrig-wifi status").stdout)["hil-prio-hi"] == "up"
        # (the lab config's SSID: NetworkManager picks a hotspot's channel from its SSID,
        # and channels 12/13 cannot start an AP in the world domain — "hil-ci-hotspot"
        # lands on 13 and fails as it would on a board with no country)
        config = board.config.hotspot
        assert config is not None
        hotspot = hil_exec(
            "nmcli --wait 120 device wifi hotspot ifname wlan0 con-name hil-ci-hotspot"
            f" ssid {config.ssid} password {config.psk}",
            seconds=200,  # (over a minute at load 40: hil exec's default 60 s cut it short)
        )
        assert hotspot.returncode == 0, hotspot.stdout + hotspot.stderr
        client = board.wifi_client()
        assert client is not None
        joined = client.join(config.ssid, config.psk)
        assert joined.associated and joined.reached_board, joined
        assert str(joined.network) == "10.42.0.0/24", joined
        assert hil_exec("nmcli connection delete hil-ci-hotspot").returncode == 0
        print(f"vrig: WiFi lab, scan, fault and hotspot client in {time.monotonic() - t0:.1f}s")

        boot_id = hil_exec("cat /proc/sys/kernel/random/boot_id").stdout.strip()
        put = hil_exec(
            f"printf '{PROBE}' > /mnt/boot/system-connections/hil-probe"
            f" && printf '{PROBE}' > /mnt/boot/system-connections/hil-skipped.ignore && sync"
        )
        assert put.returncode == 0, put.stderr

        t0 = time.monotonic()
        outcomes = tmp_path / "outcomes.json"
        transcripts = tmp_path / "transcripts"
        suites = [f"--suite={name}" for name in CI_SUITES]
        run = subprocess.run(
            [*HIL, "run", "--lab", str(LAB), *suites, "--workers", "1",
             "--results", str(tmp_path / "results"), "--report", str(tmp_path / "report"),
             "--", "-k", CI_DESELECT, f"--outcomes={outcomes}", f"--transcripts={transcripts}"],
            capture_output=True, text=True, env=env, timeout=1800, cwd=REPO,
        )  # fmt: skip
        verdicts = json.loads(outcomes.read_text()) if outcomes.exists() else {}
        reboots = sum(typed_reboots(transcripts / "vrig-a").values())
        print(f"vrig: {len(verdicts)} suite tests ({', '.join(CI_SUITES)}) in "
              f"{time.monotonic() - t0:.1f}s, {reboots} reboots")  # fmt: skip
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
        by_outcome: dict[str, list[str]] = {}
        for nodeid, verdict in verdicts.items():
            by_outcome.setdefault(verdict["outcome"], []).append(nodeid.split("::")[-1])
            if verdict["outcome"] == "skipped":  # only what this lab cannot do, with the reason
                assert "cannot produce fault" in verdict["reason"], (nodeid, verdict)
        assert set(by_outcome) <= {"passed", "skipped"}, by_outcome
        assert len(by_outcome["passed"]) >= 8, by_outcome
        assert "test_static_ip_on_ethernet[vrig-a]" in by_outcome["passed"]
        # WPA-PSK against hostapd on hwsim, the real wpa_supplicant and NetworkManager;
        # its apply reboot also undid ethernet's static IP (batched)
        assert "test_wpa_psk_connects[lab-wpa2-vrig-a]" in by_outcome["passed"]
        assert reboots == CI_REBOOTS, f"{reboots} reboots, batched they are {CI_REBOOTS}"
        assert "test_dns_servers_from_config_json[vrig-a]" in by_outcome["passed"]
        # chrony in the guest, the lab's chronyd, timedated through dbus
        assert "test_clock_syncs_with_default_pools[vrig-a]" in by_outcome["passed"]
        assert "test_clock_syncs_with_config_json_ntp_servers[vrig-a]" in by_outcome["passed"]
        # redsocks from the boot partition to the lab's tinyproxy, its log over the lab line
        assert "test_traffic_goes_through_the_proxy[vrig-a]" in by_outcome["passed"]
        assert "test_broken_redsocks_conf_is_reported[vrig-a]" in by_outcome["passed"]
        assert "test_connectivity_check_reports_full[vrig-a]" in by_outcome["passed"]
        # these two switch connectivity-check-fails on through the lab line
        assert "test_connectivity_check_reports_when_uri_fails[vrig-a]" in by_outcome["passed"]
        assert "test_interval_zero_disables_the_check[vrig-a]" in by_outcome["passed"]
        # the gadget modem: ModemManager's simtech plugin, the lab's PIN, PPP into the lab
        # and two modem faults (the carrier refusing the APN; out of coverage)
        for test in (
            "sim_ready_and_registered",
            "gsm_connection_at_runtime",
            "wrong_apn_is_reported_and_recovers",
            "no_registration_is_reported_and_recovers",
        ):
            assert f"test_{test}[vrig-a-sim7600]" in by_outcome["passed"], by_outcome

        after = hil_exec(
            "cat /proc/sys/kernel/random/boot_id; ls /etc/NetworkManager/system-connections"
        )
        assert after.returncode == 0, after.stderr
        new_id, *copied = after.stdout.split()
        assert new_id != boot_id, "the suite's reboots did not reboot the guest"
        assert "hil-probe" in copied and "hil-skipped.ignore" not in copied, copied

        # power cycle with a fault on: the lab (its own disk) keeps it on
        board.lab.set_fault("ntp-blocked", True)
        t0 = time.monotonic()
        board.power_cycle(wait=True)
        print(f"vrig: power cycle to a shell in {time.monotonic() - t0:.1f}s")
        again = hil_exec(
            "cat /proc/sys/kernel/random/boot_id; ip netns exec lab nft list chain inet hil_lab input"
        )
        assert again.stdout.split()[0] != new_id, "the power cycle did not restart the guest"
        assert 'comment "ntp-blocked"' in again.stdout, again.stdout
        assert board.lab.active_faults() == ["ntp-blocked"]
        board.lab.set_fault("ntp-blocked", False)
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(30)
    assert serve.returncode == 0, (tmp_path / "serve.log").read_text()
    assert not list((tmp_path / "registry").rglob("*.json"))
