"""The simulated NetworkManager (profiles, devices, activation) behind nmcli and ip."""

from hil.sim.nm.model import CONNECTIONS_DIR, NetworkManager, State
from hil.sim.nm.profiles import Profile, ProfileError

__all__ = ["CONNECTIONS_DIR", "NetworkManager", "Profile", "ProfileError", "State"]
