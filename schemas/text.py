"""Text types every payload and HTTP body uses instead of a bare `str`.

PostgreSQL's `text` and `jsonb` cannot store NUL (U+0000): a string holding one fails at the
database, where retrying cannot help, so it is refused at the contract instead. Lone surrogates
never get this far (orjson and pydantic refuse them as invalid JSON / invalid unicode).
"""

from typing import Annotated

from pydantic import StringConstraints

# Whitespace and control characters, listed one by one: `\s` means one set to the server's
# regex engine (Rust's, Unicode White_Space) and another to JSON Schema's (ECMAScript: no
# U+0085), so a pattern using it would accept other strings than its published schema says.
BLANK = (
    r"\x00-\x20\x7f-\x9f\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
    r"\ufeff"
)

# Free text (a reason, a title): anything PostgreSQL can store.
Text = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$")]

# An identifier (user, creator, item, stream, ban, ...): 1-128 characters, no whitespace and no
# control characters, so an empty, blank or padded id can never name anyone.
ID_PATTERN = rf"^[^{BLANK}]+$"
Id = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=ID_PATTERN)]

# An identifier built from another one (a stream id such as `creator-<user id>`) or issued by an
# outside party (a payment provider's reference): the same characters as Id, up to 256 of them.
LongId = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=ID_PATTERN)]
