"""Errors of the boot partition layer, one line each, naming the image or file."""

from __future__ import annotations

from hil.errors import ConfigError, HilError


class ImageError(ConfigError):
    """The image or an input file is not what is needed: not a disk image, no FAT
    partition, a file that does not fit, an invalid input. Nothing was written."""


class ImageWriteError(HilError):
    """Writing the image failed half-way (I/O error, disk full); what had been
    written was rolled back from the undo journal."""
