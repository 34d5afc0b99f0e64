from collections.abc import Mapping, Sequence

def keystream(key: bytes, length: int, /) -> bytes: ...
def token(
    fields: Mapping[int, int | str],
    order: Sequence[int],
    key: bytes,
    short_int_limit: int,
    alphabet: bytes,
    magic: int,
    /,
) -> str: ...
