"""The simulated balenaOS board: a stateful model behind a real pty.

Nothing above `hil.board` knows this package exists; it implements the board
side of the same interfaces a physical rig has (a console line and a lab side).
"""
