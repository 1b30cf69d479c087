"""A Python Lambda handler for together-webhooks events, typed with the TypedDicts generated from the catalogue.

The TypedDicts are imported for the type checker only: the Lambda runtime has no together_webhooks installed, and
needs none (an event is a plain dict). Subscribe it with `handlers=TogetherEventHandlers(fine_tune_completed=...)`
or `hooks.on_event(...)`; test/python/test_handler.py runs it on every sample event of the catalogue.
"""

import json
from typing import TYPE_CHECKING, Any, Dict, cast

if TYPE_CHECKING:
    from together_webhooks.events import FineTuneCompletedEvent, FineTuneFailedEvent, TogetherEvent


def handler(event: "TogetherEvent", context: object) -> Dict[str, Any]:
    detail = event["detail"]
    # outcome_key is the same for every delivery of one outcome: the key to be idempotent on.
    line: Dict[str, Any] = {"type": event["detail-type"], "outcome_key": detail["outcome_key"]}
    if event["detail-type"] == "fine_tune.completed":
        data = cast("FineTuneCompletedEvent", event)["detail"]["data"]
        line.update(model=data["model_name"], eval_loss=data["eval_loss"])
    elif event["detail-type"] == "fine_tune.failed":
        failed = cast("FineTuneFailedEvent", event)["detail"]["data"]
        line.update(error=failed["error_message"], step=failed["step"])
    print(json.dumps(line))
    return line
