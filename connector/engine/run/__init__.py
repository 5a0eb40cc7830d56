"""Running an enrollment: given a flow, the enrollment's state, the contact's facts and
the time, what happens next (decide.py, one handler per step kind in steps.py), and the
one loop that takes decisions until the enrollment has to wait (loop.py).
"""

from __future__ import annotations

from connector.engine.run.decide import decide
from connector.engine.run.decisions import (
    EXIT_CRITERIA,
    EXIT_LOOP,
    EXIT_STEP,
    EXIT_UNSUBSCRIBED,
    EXIT_WAIT_TIMEOUT,
    CallWebhook,
    Complete,
    CreateTask,
    Decision,
    EnrollmentState,
    Exit,
    Jump,
    Policy,
    Send,
    Sleep,
    UpdateProperty,
)
from connector.engine.run.loop import MAX_RUN_DECISIONS, Run, run_until_blocked

__all__ = [
    "EXIT_CRITERIA",
    "EXIT_LOOP",
    "EXIT_STEP",
    "EXIT_UNSUBSCRIBED",
    "EXIT_WAIT_TIMEOUT",
    "MAX_RUN_DECISIONS",
    "CallWebhook",
    "Complete",
    "CreateTask",
    "Decision",
    "EnrollmentState",
    "Exit",
    "Jump",
    "Policy",
    "Run",
    "Send",
    "Sleep",
    "UpdateProperty",
    "decide",
    "run_until_blocked",
]
