from collections.abc import Mapping, Sequence

def keystream(key: bytes, length: int, rounds: int = 0, /) -> bytes: ...
def token(
    fields: Mapping[int, int | str],
    order: Sequence[int],
    key: bytes,
    short_int_limit: int,
    alphabet: bytes,
    magic: int,
    widths: bytes = b"",
    rounds: int = 0,
    /,
) -> str: ...
