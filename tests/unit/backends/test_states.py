from backends.states import TaskState


def test_exactly_four_states_are_final() -> None:
    finals = {s for s in TaskState if s.final}
    assert finals == {
        TaskState.COMPLETED,
        TaskState.FAILED,
        TaskState.CANCELLED,
        TaskState.TIMEOUT,
    }
    assert TaskState.finals() == finals
    assert not TaskState.RUNNING.final and not TaskState.PENDING.final


def test_states_are_their_names_as_strings() -> None:
    assert TaskState("TIMEOUT") is TaskState.TIMEOUT
    assert str(TaskState.QUEUED) == "QUEUED"
