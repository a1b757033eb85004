"""Flashing OS releases onto boards: the release catalog, SD muxes, bmaptool."""

from hil.flash.catalog import ReleaseImageFile, find_image
from hil.flash.flasher import board_files, check_target, flash, wait_for_release
from hil.flash.sdmux import SdMux

__all__ = [
    "ReleaseImageFile",
    "SdMux",
    "board_files",
    "check_target",
    "find_image",
    "flash",
    "wait_for_release",
]
