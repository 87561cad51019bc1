"""The reason a crashed Ray trial gets in the table, from the text of Tune's error file (pure; the real SIGKILL is
in tests/test_faults.py)."""
from scalesearch.pipeline.trial_crash import GENERIC, crash_reason, node_lost, reason_from

KILLED = """Failure # 1 (occurred at 2026-11-25_15-37-16)
The actor died unexpectedly before finishing this task.
\tclass_name: ImplicitFunc
\tpid: 14625
The actor is dead because its worker process has died. Worker exit type: SYSTEM_ERROR Worker exit detail: ...
"""
# Tune's error file of a trial whose node was SIGKILLed mid-training (Ray 2.60, two nodes on one machine).
NODE_KILLED = """Failure # 1 (occurred at 2026-12-03_16-24-17)
The actor b54e3de9b762a20be28a236001000000 is unavailable: The actor is temporarily unavailable: RpcError: RPC error: \
Socket closed rpc_code: 14. The task may or may not have been executed on the actor.
"""
LIVE = {"5132be7b" + "0" * 48, "f098cca1" + "1" * 48}


def test_a_trial_lost_with_its_node_is_told_from_its_own_process_dying(tmp_path):
    lost, killed = tmp_path / "lost.txt", tmp_path / "killed.txt"
    lost.write_text(NODE_KILLED)
    killed.write_text(KILLED)
    assert node_lost(str(lost), "192.0.2.2/f098cca1", LIVE)  # Ray's words, before the node is marked dead
    assert not node_lost(str(killed), "192.0.2.2/f098cca1", LIVE)  # its process died; its node lives on
    assert node_lost(str(killed), "192.0.2.2/0badc0de", LIVE)  # the node it last reported from is gone
    assert not node_lost(str(killed), None, LIVE) and not node_lost(None, None, LIVE)


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
