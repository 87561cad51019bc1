"""The reason a crashed Ray trial gets in the table, from the text of Tune's error file (pure; the real SIGKILL is
in tests/test_faults.py)."""
from scalesearch.pipeline.trial_crash import GENERIC, crash_reason, reason_from

KILLED = """Failure # 1 (occurred at 2026-11-25_15-37-16)
The actor died unexpectedly before finishing this task.
\tclass_name: ImplicitFunc
\tpid: 14625
The actor is dead because its worker process has died. Worker exit type: SYSTEM_ERROR Worker exit detail: ...
"""


def test_a_dead_process_is_said_with_its_pid_and_where_ray_says_more():
    reason = reason_from(KILLED, "ray/_trainable_x_7/error.txt")
    assert reason.startswith("the trial's process (pid 14625) died without raising an error: killed")
    assert reason.endswith("Ray's account: ray/_trainable_x_7/error.txt")


def test_rays_memory_monitor_and_another_error_are_told_apart():
    assert reason_from("Task was killed due to the node running low on memory.\nMemory on the node", "f").startswith(
        "Ray's memory monitor killed the trial")
    other = "Failure # 1 (occurred at now)\nTraceback (most recent call last):\n  File x\nValueError: bad pickle\n"
    assert reason_from(other, "f") == "the Ray trial crashed: ValueError: bad pickle (all of it: f)"


def test_no_error_file_gives_the_generic_reason(tmp_path):
    assert crash_reason(None, "ray") == GENERIC and crash_reason(str(tmp_path / "missing" / "error.txt"), "ray") == GENERIC
    (tmp_path / "_trainable_ab_1").mkdir()
    (tmp_path / "_trainable_ab_1" / "error.txt").write_text(KILLED)
    assert crash_reason(str(tmp_path / "_trainable_ab_1" / "error.txt"), "ray").endswith("ray/_trainable_ab_1/error.txt")
