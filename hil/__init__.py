"""hil — hardware-in-the-loop test harness for cellular modems and WiFi on balenaOS boards."""

__version__ = "0.1.0"
