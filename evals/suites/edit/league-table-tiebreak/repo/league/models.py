from dataclasses import dataclass


@dataclass
class Player:
    name: str
    points: int = 0
    played: int = 0
    won: int = 0
    drawn: int = 0
    lost: int = 0
