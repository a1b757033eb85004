"""The FAT boot partition: in a raw disk image (no root, no mount) and its layout.

`BootPartition.find(image)` locates it by the partition table; `collect_boot_files`
reads and checks the inputs of `hil image inject` and says where each goes;
`BootPartition.write` puts them there all-or-nothing. A live board gets the
same `BootFile`s through `hil.board.files`.
"""

from hil.bootfs.errors import ImageError, ImageWriteError
from hil.bootfs.image import BOOT_LABELS, BootPartition
from hil.bootfs.layout import BootFile, collect_boot_files, merge_config_json

__all__ = [
    "BOOT_LABELS",
    "BootFile",
    "BootPartition",
    "ImageError",
    "ImageWriteError",
    "collect_boot_files",
    "merge_config_json",
]
