"""The modems the simulator knows: the networking doc's tested list and the lab's common stick.

Each entry is what the hardware shows once it is in modem mode, in
ModemManager's words: its plugin, kernel drivers, ports (`cdc-wdm0 (qmi)`,
`ttyUSB2 (at)`, `wwan0 (net)`), the primary port NetworkManager names the
device after, and how the bearer gets its IP configuration (QMI: `static`,
Huawei NCM: `dhcp`, AT/PPP: `ppp` on `ppp0`). Product ids are those the
devices enumerate with; a modem with a `storage_pid` first shows up as a USB
CD-ROM that usb_modeswitch must switch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModemHardware:
    model: str  # the lab config's name for it ("Huawei E3372")
    vendor_id: str
    product_id: str  # in modem mode
    manufacturer: str  # as ModemManager reports it (+CGMI / QMI)
    mm_model: str
    revision: str
    plugin: str
    drivers: tuple[str, ...]
    ports: tuple[tuple[str, str], ...]  # (name, ModemManager port type)
    primary_port: str
    ip_method: str  # static | dhcp | ppp
    storage_pid: str | None = None
    access_technologies: tuple[str, ...] = ("lte",)
    capabilities: str = "gsm-umts, lte"

    @property
    def vid_pid(self) -> str:
        return f"{self.vendor_id}:{self.product_id}"

    @property
    def storage_vid_pid(self) -> str | None:
        return f"{self.vendor_id}:{self.storage_pid}" if self.storage_pid else None

    @property
    def net_port(self) -> str:
        """The interface IP runs over: the `net` port, or `ppp0` for a serial modem."""
        return next((name for name, kind in self.ports if kind == "net"), "ppp0")


_HUAWEI_NCM_PORTS = (("cdc-wdm0", "at"), ("ttyUSB0", "at"), ("ttyUSB2", "at"), ("wwan0", "net"))
_QMI_PORTS = (
    ("cdc-wdm0", "qmi"),
    ("ttyUSB0", "ignored"),
    ("ttyUSB1", "gps"),
    ("ttyUSB2", "at"),
    ("ttyUSB3", "at"),
    ("wwan0", "net"),
)

CATALOG: tuple[ModemHardware, ...] = (
    ModemHardware(
        model="Huawei E3372",
        vendor_id="12d1",
        product_id="1506",
        storage_pid="1f01",
        manufacturer="huawei",
        mm_model="E3372",
        revision="22.315.01.00.00",
        plugin="huawei",
        drivers=("option", "huawei_cdc_ncm"),
        ports=_HUAWEI_NCM_PORTS,
        primary_port="cdc-wdm0",
        ip_method="dhcp",
    ),
    ModemHardware(
        # the same stick switched to its serial-only configuration: data over PPP
        model="Huawei E3372 (serial)",
        vendor_id="12d1",
        product_id="1001",
        storage_pid="1f01",
        manufacturer="huawei",
        mm_model="E3372",
        revision="22.315.01.00.00",
        plugin="huawei",
        drivers=("option",),
        ports=(("ttyUSB0", "at"), ("ttyUSB1", "ignored"), ("ttyUSB2", "at")),
        primary_port="ttyUSB0",
        ip_method="ppp",
        access_technologies=("umts",),
    ),
    ModemHardware(
        model="Huawei MS2131i-8",
        vendor_id="12d1",
        product_id="1506",
        storage_pid="14fe",
        manufacturer="huawei",
        mm_model="MS2131",
        revision="21.318.03.00.00",
        plugin="huawei",
        drivers=("option", "huawei_cdc_ncm"),
        ports=_HUAWEI_NCM_PORTS,
        primary_port="cdc-wdm0",
        ip_method="dhcp",
        access_technologies=("hsdpa", "hsupa"),
        capabilities="gsm-umts",
    ),
    ModemHardware(
        model="Huawei MS2372",
        vendor_id="12d1",
        product_id="155e",
        storage_pid="1f01",
        manufacturer="huawei",
        mm_model="MS2372h-607",
        revision="21.328.62.00.1217",
        plugin="huawei",
        drivers=("option", "huawei_cdc_ncm"),
        ports=_HUAWEI_NCM_PORTS,
        primary_port="cdc-wdm0",
        ip_method="dhcp",
    ),
    ModemHardware(
        model="Huawei ME909s-120",
        vendor_id="12d1",
        product_id="15c1",
        manufacturer="huawei",
        mm_model="ME909s-120",
        revision="11.617.04.00.00",
        plugin="huawei",
        drivers=("option", "cdc_ether"),
        ports=(
            ("ttyUSB0", "at"),
            ("ttyUSB1", "ignored"),
            ("ttyUSB2", "at"),
            ("ttyUSB3", "gps"),
            ("usb0", "net"),
        ),
        primary_port="ttyUSB0",
        ip_method="dhcp",
    ),
    ModemHardware(
        model="Quectel EC20",
        vendor_id="05c6",
        product_id="9215",
        manufacturer="Quectel",
        mm_model="EC20",
        revision="EC20EQAR02A08M4G",
        plugin="quectel",
        drivers=("option", "qmi_wwan"),
        ports=_QMI_PORTS,
        primary_port="cdc-wdm0",
        ip_method="static",
    ),
    ModemHardware(
        model="Quectel EC25",
        vendor_id="2c7c",
        product_id="0125",
        manufacturer="Quectel",
        mm_model="EC25",
        revision="EC25EFAR06A06M4G",
        plugin="quectel",
        drivers=("option", "qmi_wwan"),
        ports=_QMI_PORTS,
        primary_port="cdc-wdm0",
        ip_method="static",
    ),
    ModemHardware(
        model="SIMCom SIM7600E",
        vendor_id="1e0e",
        product_id="9001",
        manufacturer="SIMCOM INCORPORATED",
        mm_model="SIMCOM_SIM7600E-H",
        revision="LE20B04SIM7600M22",
        plugin="simtech",
        drivers=("option", "qmi_wwan"),
        ports=_QMI_PORTS,
        primary_port="cdc-wdm0",
        ip_method="static",
    ),
)


def find(vid_pid: str, model: str | None = None) -> ModemHardware | None:
    """The hardware a sim modem is, by the id it enumerates with (storage or modem mode);
    `model` (the lab config's) decides between entries that share an id."""
    hits = [h for h in CATALOG if vid_pid in (h.vid_pid, h.storage_vid_pid)]
    if model:
        named = [h for h in hits if h.model.lower() == model.lower()]
        hits = named or hits
    # a storage id maps to the stick's usual modem-mode configuration first
    hits.sort(key=lambda h: h.vid_pid != vid_pid and "(serial)" in h.model)
    return hits[0] if hits else None


def generic(vid_pid: str) -> ModemHardware:
    """A modem the catalog does not know: ModemManager's generic plugin over AT/PPP."""
    vendor, product = vid_pid.split(":")
    return ModemHardware(
        model=f"USB modem {vid_pid}",
        vendor_id=vendor,
        product_id=product,
        manufacturer="Generic",
        mm_model=f"{vid_pid}",
        revision="unknown",
        plugin="generic",
        drivers=("option",),
        ports=(("ttyUSB0", "at"),),
        primary_port="ttyUSB0",
        ip_method="ppp",
    )
