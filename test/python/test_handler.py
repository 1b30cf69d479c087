"""The Python handler example (bin/python/handlers/on_outcome.py) on every sample event of the catalogue.

    python test/python/test_handler.py samples.json    (samples: {type: sampleEventBridgeEvent(type)}, from node)

Each sample must fit its generated TypedDict (keys required and allowed, value types), and the handler must take it.
"""

import json
import os
import sys
import typing

# together_webhooks.events imports the package, which starts the jsii kernel (node): silence node 20's banner first.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bin", "python", "handlers"))

from together_webhooks import events  # noqa: E402
from on_outcome import handler  # noqa: E402

NotRequired = getattr(typing, "NotRequired", None)


def fits(value, shape, path: str) -> typing.List[str]:
    """Where `value` does not fit `shape` (a TypedDict, or the typing forms events.py uses)."""
    origin, args = typing.get_origin(shape), typing.get_args(shape)
    if origin is NotRequired:
        return fits(value, args[0], path)
    if origin is typing.Union:
        return [] if any(not fits(value, a, path) for a in args) else [f"{path}: {value!r} is none of {args}"]
    if origin is typing.Literal:
        return [] if value in args else [f"{path}: {value!r} is not {args}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: not a list"]
        return [p for i, v in enumerate(value) for p in fits(v, args[0], f"{path}[{i}]")]
    if shape is type(None):
        return [] if value is None else [f"{path}: {value!r} is not None"]
    if isinstance(shape, type) and issubclass(shape, dict) and hasattr(shape, "__required_keys__"):
        return fits_typed_dict(value, shape, path)
    if shape is float:
        return [] if isinstance(value, (int, float)) and not isinstance(value, bool) else [f"{path}: not a number"]
    return [] if isinstance(value, shape) and not isinstance(value, bool) else [f"{path}: {value!r} is not {shape}"]


def fits_typed_dict(value, shape, path: str) -> typing.List[str]:
    if not isinstance(value, dict):
        return [f"{path}: not an object"]
    hints = typing.get_type_hints(shape, include_extras=True)
    problems = [f"{path}: missing {k}" for k in sorted(shape.__required_keys__ - set(value))]
    problems += [f"{path}: unknown {k}" for k in sorted(set(value) - set(hints))]
    return problems + [p for k, v in value.items() if k in hints for p in fits(v, hints[k], f"{path}.{k}")]


def event_shape(type_: str):
    name = "".join(p.capitalize() for p in type_.replace(".", "_").split("_"))
    return getattr(events, name + "Event")


def main() -> None:
    with open(sys.argv[1], encoding="utf8") as f:
        samples = json.load(f)
    assert sorted(samples) == sorted(events.EVENT_TYPES), "the samples are the catalogue's types"
    problems = [p for type_, event in samples.items() for p in fits(event, event_shape(type_), type_)]
    assert not problems, "\n".join(problems)
    for type_, event in samples.items():
        line = handler(event, None)
        assert line["type"] == type_ and line["outcome_key"] == event["detail"]["outcome_key"], line
    completed = handler(samples["fine_tune.completed"], None)
    assert completed["model"] == samples["fine_tune.completed"]["detail"]["data"]["model_name"], completed
    failed = handler(samples["fine_tune.failed"], None)
    assert failed["error"] == samples["fine_tune.failed"]["detail"]["data"]["error_message"], failed
    # The checker itself refuses a misfit: a number where a string belongs, an unknown key.
    bad = json.loads(json.dumps(samples["fine_tune.completed"]))
    bad["detail"]["data"]["model_name"] = 7
    bad["detail"]["surprise"] = True
    assert len(fits(bad, event_shape("fine_tune.completed"), "bad")) == 2
    print(f"{len(samples)} sample events fit their TypedDicts and the handler took each")


if __name__ == "__main__":
    main()
