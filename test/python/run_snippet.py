"""Runs Python blocks of a README as written, then what a fragment leaves to its reader.

    python test/python/run_snippet.py samples.json block.py [block.py ...]

Each block runs in its own namespace and directory; one process for all (the jsii runtime loads aws-cdk-lib once,
~10 s).

A block that defines `handler(event, context)` is called with the catalogue's sample of the event type it is
annotated with (or fine_tune.completed); a block that defines a Stack class and makes no App gets a stub App
that makes one and synthesizes it; a block that makes an App must have synthesized it.
"""

import json
import os
import re
import sys


def run_block(block: str, samples_file: str) -> None:
    os.chdir(os.path.dirname(os.path.abspath(block)))
    with open(block, encoding="utf8") as f:
        code = f.read()
    namespace = {"__name__": "__main__", "__file__": block}
    exec(compile(code, block, "exec"), namespace)  # noqa: S102: running the README's code is the point
    handler = namespace.get("handler")
    if callable(handler):
        with open(samples_file, encoding="utf8") as f:
            samples = json.load(f)
        annotation = str(getattr(handler, "__annotations__", {}).get("event", "FineTuneCompletedEvent"))
        by_name = {"".join(p.capitalize() for p in re.split(r"[._]", t)) + "Event": t for t in samples}
        type_ = by_name.get(re.sub(r"\W", "", annotation.split(".")[-1]), "fine_tune.completed")
        handler(samples[type_], None)
        print(f"{block}: called handler with the {type_} sample")
    import aws_cdk  # after the block: it is the block's imports that are tested

    stacks = [v for v in namespace.values() if isinstance(v, type) and v.__module__ == "__main__"]
    apps = [v for v in namespace.values() if isinstance(v, aws_cdk.App)]
    if not apps and any(issubclass(stack, aws_cdk.Stack) for stack in stacks):
        app = aws_cdk.App()  # the stub
        for stack in stacks:
            if issubclass(stack, aws_cdk.Stack):
                stack(app, stack.__name__)
        app.synth()
        apps = [app]
    for app in apps:
        # The kernel's App writes where its node process decided (CDK_OUTDIR, or a new temporary directory).
        assert os.path.exists(os.path.join(app.outdir, "manifest.json")), f"no cloud assembly: {block} never synthesized"
        templates = [f for f in os.listdir(app.outdir) if f.endswith(".template.json")]
        assert templates, f"no template in {app.outdir}"
        print(f"{block}: synthesized {', '.join(sorted(templates))}")


def main() -> None:
    samples_file, blocks = sys.argv[1], [os.path.abspath(b) for b in sys.argv[2:]]
    for block in blocks:
        try:
            run_block(block, samples_file)
        except BaseException:
            print(f"in {block}:", file=sys.stderr)
            raise


if __name__ == "__main__":
    main()
