"""Runs one Python block of a README as written, then what a fragment leaves to its reader.

    python test/python/run_snippet.py block.py samples.json

A block that defines `handler(event, context)` is called with the catalogue's sample of the event type it is
annotated with (or fine_tune.completed); a block that defines a Stack class and makes no App gets a stub App
that makes one and synthesizes it; a block that makes an App must have synthesized it (CDK_OUTDIR).
"""

import json
import os
import re
import sys


def main() -> None:
    block, samples_file = sys.argv[1], sys.argv[2]
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
        print(f"called handler with the {type_} sample")
    stacks = [v for v in namespace.values() if isinstance(v, type) and v.__module__ == "__main__"]
    if stacks and not re.search(r"\bApp\(", code):
        import aws_cdk

        app = aws_cdk.App()
        for stack in stacks:
            if issubclass(stack, aws_cdk.Stack):
                stack(app, stack.__name__)
        app.synth()
        code += "\nApp()  # the stub's\n"
    if re.search(r"\bApp\(", code):
        outdir = os.environ["CDK_OUTDIR"]
        assert os.path.exists(os.path.join(outdir, "manifest.json")), f"no cloud assembly in {outdir}"
        templates = [f for f in os.listdir(outdir) if f.endswith(".template.json")]
        assert templates, f"no template in {outdir}"
        print(f"synthesized {', '.join(sorted(templates))}")


if __name__ == "__main__":
    main()
