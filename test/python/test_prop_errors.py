"""A wrong prop from Python: which error a user sees, with jsii's type checks on and with them off.

    python test/python/test_prop_errors.py       -> the bindings' own check (typeguard) refuses the type, in Python
    python -O test/python/test_prop_errors.py    -> no Python checks: the jsii kernel (node) refuses the type

A value of the right type that lib/validation.ts refuses (a range, a format) gets our message in both modes.
No `assert` here: python -O strips them.
"""

import os

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk  # noqa: E402
from together_webhooks import TogetherWebhooks  # noqa: E402


def error_of(**props) -> BaseException:
    stack = aws_cdk.Stack(aws_cdk.App(), "S")
    try:
        TogetherWebhooks(stack, "H", **props)
    except Exception as error:  # noqa: BLE001: which class it is, is what this checks
        return error
    raise SystemExit(f"TogetherWebhooks accepted {props}")


def expect(condition: bool, error: BaseException) -> None:
    if not condition:
        raise SystemExit(f"unexpected {type(error).__name__}: {error}")


def main() -> None:
    wrong_type = error_of(archive="yes")
    text = str(wrong_type)
    if __debug__:
        # Generated into every binding: each argument's type checked before node is called.
        expect(isinstance(wrong_type, TypeError), wrong_type)
        expect("type of argument archive must be one of (bool, NoneType); got str instead" in text, wrong_type)
    else:
        # The kernel's deserializer names the key and the value.
        expect(isinstance(wrong_type, RuntimeError), wrong_type)
        expect("Key 'archive': Unable to deserialize value as boolean" in text and "'yes'" in text, wrong_type)
    out_of_range = error_of(memory_size=1)
    expect(isinstance(out_of_range, RuntimeError), out_of_range)
    expect("TogetherWebhooks: memorySize must be" in str(out_of_range), out_of_range)
    ours = next(line for line in str(out_of_range).splitlines() if "TogetherWebhooks: memorySize" in line)
    print(f"archive='yes': {type(wrong_type).__name__}: {text.splitlines()[0]} / memory_size=1: {ours.strip()}")


if __name__ == "__main__":
    main()
