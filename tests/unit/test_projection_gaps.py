"""gaps.holes: a batch's offsets per partition against the partition's position in PostgreSQL."""

from services.projections.gaps import holes

T = ("t", 0)


def test_a_batch_running_on_from_the_position_has_no_hole():
    assert holes({T: [5, 6, 7]}, {T: 5}) == {}
    assert holes({T: [0, 1]}, {}) == {}  # no position yet: from offset 0


def test_redelivered_offsets_before_the_position_are_no_hole():
    assert holes({T: [3, 4, 5, 6]}, {T: 5}) == {}
    assert holes({T: [3, 4]}, {T: 5}) == {}


def test_a_batch_starting_past_the_position_is_read_again_from_it():
    assert holes({T: [167, 168]}, {T: 121}) == {T: (121, 169)}
    assert holes({T: [9]}, {}) == {T: (0, 10)}


def test_a_hole_inside_the_batch_is_read_again_from_the_position():
    assert holes({T: [5, 6, 9, 10]}, {T: 5}) == {T: (5, 11)}
    assert holes({T: [5, 9, 6]}, {T: 5}) == {T: (5, 10)}  # out of order, still a hole


def test_only_the_partitions_with_a_hole():
    u = ("u", 1)
    assert holes({T: [5, 6], u: [3, 7]}, {T: 5, u: 3}) == {u: (3, 8)}
