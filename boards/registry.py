"""The boards amaradar builds for: the one list, by the name on the command line."""

from importlib import import_module

__all__ = ["BOARD_MODULES", "board_names", "get_board"]

# ``amaradar build --board NAME`` -> module of amaradar.boards defining ``BOARD``
BOARD_MODULES = {"icebreaker": "icebreaker", "tangnano9k": "tangnano9k", "ulx3s-85f": "ulx3s"}


def board_names():
    """The board names, in the order of :data:`BOARD_MODULES`."""
    return tuple(BOARD_MODULES)


def get_board(name):
    """The :class:`~amaradar.boards.board.Board` called ``name``; ``KeyError`` if there is none."""
    return import_module(f".{BOARD_MODULES[name]}", __package__).BOARD
