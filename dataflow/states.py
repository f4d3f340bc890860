"""A tiny transition-table helper shared by every state machine."""

from collections.abc import Iterable, Mapping

from dataflow.errors import TransitionNotAllowed


class TransitionTable:
    """Allowed ``from -> to`` moves of one state machine."""

    def __init__(self, name: str, moves: Mapping[str, Iterable[str]]) -> None:
        self.name = name
        self.moves = {src: frozenset(dst) for src, dst in moves.items()}

    def allows(self, old: str, new: str) -> bool:
        return new in self.moves.get(old, frozenset())

    def check(self, old: str, new: str) -> None:
        if not self.allows(old, new):
            raise TransitionNotAllowed(f"A {self.name} cannot go from '{old}' to '{new}'.")
