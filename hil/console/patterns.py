"""What a console shows, as patterns: kernel messages, prompts, and signs of death.

Prompt patterns are anchored at the end of what has been received (`\\Z`):
they describe the state the line is in *now*, not something seen earlier.
"""

from __future__ import annotations

import re

#: a kernel console message as printk writes it on the serial console. It can
#: land anywhere: mid-line, mid-prompt, inside a marker — even inside a line of
#: `dmesg` output, so a match never spans another timestamp: the innermost one
#: (the message that interrupted the line) is cut.
_STAMP = rb"\[\s*\d+\.\d{6}\] "
KERNEL_LINE = re.compile(_STAMP + rb"(?:(?!" + _STAMP + rb")[^\r\n])*\r?\n")
#: a tail that may be the start of a kernel message still arriving
KERNEL_PARTIAL = re.compile(rb"\[(?:\s*\d*(?:\.\d{0,6}(?:\][^\r\n]*\r?)?)?)?\Z")

# -- the states of a console (text, after kernel messages are cut out) --
_TAIL = r"(?:\x1b\[[0-9;?]*[A-Za-z])*\s*\Z"  # trailing terminal controls (busybox ESC[6n)
LOGIN = re.compile(r"(?:^|[\r\n])[^\r\n]*\blogin: ?" + _TAIL)
PASSWORD = re.compile(r"[Pp]assword(?: for [^:\r\n]*)?: ?" + _TAIL)
LOGIN_INCORRECT = re.compile(r"Login incorrect|Authentication failure|Permission denied")
PAGER = re.compile(
    r"(?:--More--(?:\(\d+%\))?|\(END\)|lines \d+-\d+(?:/\d+)?(?: \(END\)| \d+%)?)" + _TAIL
)
SHELL_PROMPT = re.compile(r"[#$%] ?" + _TAIL)
UBOOT_PROMPT = re.compile(r"(?:^|[\r\n])(?:=> |U-Boot> |uboot> )" + _TAIL)
AUTOBOOT = re.compile(r"Hit any key to stop autoboot|autoboot in \d+ seconds")

#: a board going down or coming up: seen while a command runs, it ends the wait
DEATH = re.compile(
    rb"Kernel panic|reboot: Restarting system|reboot: Power down|Rebooting\b|"
    rb"U-Boot (?:SPL )?\d{4}\.\d\d|Starting kernel \.\.\.|Booting Linux on|"
    rb"BUG: |Oops: |watchdog: watchdog0: watchdog did not stop"
)
#: a login prompt appearing mid-command: the shell logged out or the board rebooted
LOGIN_BYTES = re.compile(rb"(?:^|[\r\n])[^\r\n]*\blogin: ?\Z")
