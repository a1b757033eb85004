"""Parsers of board command output into typed models (mmcli, nmcli, ip, iw, os-release)."""

from hil.probes.os_release import parse_os_release

__all__ = ["parse_os_release"]
