"""The ids Ladder makes for its rows and events (shared/ids.py): UUIDv7, in the order
they were made, and never the same twice, even across a fork."""

from __future__ import annotations

import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from shared.ids import new_id


def test_an_id_is_a_uuid_of_version_7_and_the_rfc_variant() -> None:
    text = new_id()
    made = uuid.UUID(text)
    assert made.version == 7 and made.variant == uuid.RFC_4122
    assert text == str(made)  # lower case, hyphenated: the form the databases sort


def test_ids_made_one_after_another_sort_one_after_another_as_text() -> None:
    # As text, since that is how the databases hold and index them.
    made = [new_id() for _ in range(5000)]
    assert made == sorted(made) and len(set(made)) == len(made)


def test_an_id_begins_with_the_time_it_was_made_or_a_little_after() -> None:
    before = time.time_ns() // 1_000_000
    made = uuid.UUID(new_id()).int >> 80
    # uuid6 keeps ids made within one millisecond in order by moving the time on by one
    # for each: a process that made ids faster than one a millisecond runs ahead of the
    # clock by as many, never behind it (shared/ids.py).
    assert before <= made < before + 3_600_000


def test_a_forked_process_never_makes_an_id_its_parent_makes() -> None:
    """gunicorn's workers and Celery's are forked: a generator whose random state a fork
    copies would give the parent and the child the same ids at the same moment, and the
    ledger would take the second event for a duplicate of the first."""
    new_id()  # whatever state the generator keeps is made before the fork
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        os.close(read)
        os.write(write, "\n".join(new_id() for _ in range(2000)).encode())
        os._exit(0)
    os.close(write)
    parents = {new_id() for _ in range(2000)}
    with os.fdopen(read) as pipe:
        childs = set(pipe.read().split("\n"))
    os.waitpid(child, 0)
    assert len(childs) == 2000 and not parents & childs
    # The two made theirs in the same milliseconds: only the random bits set them apart.
    assert {i[:13] for i in parents} & {i[:13] for i in childs}


def test_threads_making_ids_at_once_never_make_the_same_one() -> None:
    """The ledger's gunicorn workers serve requests in threads: ids made at once in
    several share the generator's state, and only their random bits set them apart."""
    with ThreadPoolExecutor(4) as pool:
        made = [i for batch in pool.map(lambda _: [new_id() for _ in range(2000)], range(4))
                for i in batch]
    assert len(set(made)) == len(made) == 8000
