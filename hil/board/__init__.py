"""The board: console + lab side + facts, whatever tier it runs on."""

from hil.board.board import Board
from hil.board.labside import FaultUnsupported, LabSide

__all__ = ["Board", "FaultUnsupported", "LabSide"]
