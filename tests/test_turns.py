"""Taking turns (seq2seq_lab/present/turns.py): at most ``size`` holders, first come first served, pauses free a turn.

Every check waits on events, never on how fast the machine is: a thread's progress is observed through what it
records, and each wait has a generous timeout that only a hang reaches.
"""

from __future__ import annotations

import threading

import pytest

from seq2seq_lab.present.turns import Turns

PATIENCE = 30          # seconds: reached only if something hangs


def spawn(target) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def wait_for(condition) -> None:
    done = threading.Event()
    for _ in range(PATIENCE * 100):
        if condition():
            return
        done.wait(0.01)
    raise AssertionError("timed out")


def test_at_most_size_hold_a_turn_and_the_rest_wait_in_arrival_order():
    turns, order = Turns(2), []
    leave = {name: threading.Event() for name in "abcde"}

    def visitor(name):
        def run():
            with turns.turn():
                order.append(name)
                leave[name].wait(PATIENCE)
        return spawn(run)

    threads = [visitor("a"), visitor("b")]
    wait_for(lambda: len(order) == 2)
    for queued, name in enumerate("cde", start=1):            # queued one after the other, in this order
        threads.append(visitor(name))
        wait_for(lambda queued=queued: turns.waiting == queued)
    assert sorted(order) == ["a", "b"]                          # two turns: the others wait
    for holder, count in zip("abc", (3, 4, 5)):                 # each turn given back goes to the longest waiting
        leave[holder].set()
        wait_for(lambda count=count: len(order) == count)
    assert order[2:] == ["c", "d", "e"]
    for event in leave.values():
        event.set()
    for thread in threads:
        thread.join(PATIENCE)
    assert turns.waiting == 0 and not turns.holding()


def test_a_pause_lets_the_next_in_line_run_and_then_queues_again():
    turns, events = Turns(1), []
    resumed = threading.Event()

    def animator():
        with turns.turn():
            events.append("frame 1")
            turns.pause(0)                           # gives the turn away, queues behind the waiting visitor
            events.append("frame 2")
        resumed.set()

    def other():
        with turns.turn():
            events.append("other")

    with turns.turn():                               # hold the only turn while both arrive, animator first
        spawn(animator)
        wait_for(lambda: turns.waiting == 1)
        spawn(other)
        wait_for(lambda: turns.waiting == 2)
    assert resumed.wait(PATIENCE)
    assert events == ["frame 1", "other", "frame 2"]


def test_turns_are_reentrant_and_freed_by_an_exception():
    turns = Turns(1)
    with pytest.raises(RuntimeError), turns.turn():
        with turns.turn():                           # the same thread: no deadlock
            assert turns.holding()
        raise RuntimeError("a script run that failed")
    assert not turns.holding()
    taken = threading.Event()

    def another():
        with turns.turn():
            taken.set()

    spawn(another)
    assert taken.wait(PATIENCE)                      # the turn was given back


def test_pause_without_a_turn_is_a_plain_sleep_and_size_must_be_positive():
    turns = Turns(1)
    turns.pause(0)
    assert not turns.holding() and turns.waiting == 0
    with pytest.raises(ValueError):
        Turns(0)


def test_a_run_stopped_while_its_turn_is_set_aside_gives_back_exactly_one_turn():
    """The player's wait (streamlit_player.wait): Streamlit stops a replaced run by raising inside the wait. The
    run queues for its turn again, leaves, and the turn goes on to the next visitor; none is lost or doubled."""
    turns, events = Turns(1), []
    inside = threading.Event()

    def stopped_run():
        with pytest.raises(KeyboardInterrupt), turns.turn():   # (Streamlit's StopException, in the test)
            with turns.set_aside():
                events.append("waiting")
                inside.set()
                raise KeyboardInterrupt
        events.append("left")

    def other():
        with turns.turn():
            events.append("other")

    with turns.turn():
        thread = spawn(stopped_run)
        wait_for(lambda: turns.waiting == 1)
    assert inside.wait(PATIENCE)
    thread.join(PATIENCE)
    spawn(other).join(PATIENCE)
    assert events == ["waiting", "left", "other"]
    assert turns.waiting == 0 and not turns.holding()
    with turns.turn():                               # still exactly one turn: a second visitor waits for it
        late = spawn(other)
        wait_for(lambda: turns.waiting == 1)
    late.join(PATIENCE)
    assert events[-1] == "other"
    with turns.set_aside():                          # without a turn: nothing to give back
        assert not turns.holding()
    with turns.turn(), turns.set_aside():            # set aside: the thread holds none, a pause inside only sleeps
        assert not turns.holding()
        turns.pause(0)
        late = spawn(other)                          # and the turn is free for another visitor meanwhile
        late.join(PATIENCE)
        assert not late.is_alive()
    assert turns.waiting == 0 and not turns.holding()
